"""Training data: one split of a FrameSet as batches, in memory when it fits, else streamed.

The order in which an epoch visits the frames is a pure function of ``(seed, epoch)``
(:func:`epoch_order`): a fresh ``torch.Generator`` is seeded per epoch, so a run interrupted
at step ``s`` of epoch ``e`` resumes with exactly the batches it would have seen. Under
``torchrun`` every process takes a disjoint, equally long shard of that order
(:func:`shard_order`).

In memory, a split is one ``(n, 2, L)`` float32 tensor, read once in large chunks. A split
too big for the memory budget is streamed: the order is then block-shuffled (contiguous
blocks in random order, mixed within windows of several blocks), so each window is read as a
few long contiguous runs; a background thread reads the next window while the model trains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from amrkit.data.frames import FrameSet

READ_CHUNK = 8192  # frames per FrameSet.read when loading a split into memory
BLOCKS_PER_WINDOW = 16  # streamed windows mix this many contiguous blocks


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"amrkit.train.epoch:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def epoch_order(
    seed: int, epoch: int, n: int, *, shuffle: bool = True, block: int | None = None
) -> torch.Tensor:
    """(n,) int64: the visiting order of epoch ``epoch``; a pure function of its arguments.

    ``block=None``: a uniform permutation. ``block=B``: contiguous blocks of B positions in
    random order, positions mixed within each window of :data:`BLOCKS_PER_WINDOW` blocks.
    """
    if not shuffle:
        return torch.arange(n, dtype=torch.int64)
    g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    if block is None or block >= n:
        return torch.randperm(n, generator=g)
    starts = torch.arange(0, n, block)[torch.randperm((n + block - 1) // block, generator=g)]
    order = torch.cat([torch.arange(s, min(s + block, n)) for s in starts.tolist()])
    window = block * BLOCKS_PER_WINDOW
    for lo in range(0, n, window):
        part = order[lo : lo + window]
        order[lo : lo + window] = part[torch.randperm(len(part), generator=g)]
    return order


def shard_order(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s share of an epoch order: every world-th entry, all shards equally long."""
    if world == 1:
        return order
    per_rank = len(order) // world
    return order[rank::world][:per_rank]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches only (the reference drops the last partial batch); at least one batch."""
    return max(1, n // batch_size)


@dataclass
class SplitData:
    """The frames of one split: ``label`` (n,) int64 and either ``x`` (n, 2, L) or a FrameSet."""

    label: torch.Tensor  # (n,) int64
    snr_db: np.ndarray  # (n,) float32
    x: torch.Tensor | None = None  # (n, 2, L) float32, when held in memory
    frames: FrameSet | None = None  # when streamed
    positions: np.ndarray | None = None  # (n,) positions in ``frames``
    window: int = 0  # frames read at once when streaming

    def __len__(self) -> int:
        return len(self.label)

    @property
    def in_memory(self) -> bool:
        return self.x is not None

    @property
    def frame_length(self) -> int:
        if self.x is not None:
            return self.x.shape[-1]
        assert self.frames is not None
        return self.frames.frame_length

    @property
    def block(self) -> int | None:
        """Block size for :func:`epoch_order` (None in memory: a uniform permutation)."""
        return None if self.in_memory else max(1, self.window // BLOCKS_PER_WINDOW)

    def to(self, device: torch.device | str) -> SplitData:
        if self.x is None:
            return self
        return SplitData(self.label.to(device), self.snr_db, self.x.to(device))

    def batches(
        self,
        order: torch.Tensor,
        batch_size: int,
        *,
        start: int = 0,
        steps: int | None = None,
        device: torch.device | str = "cpu",
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x (b, 2, L) float32, y (b,) int64)`` on ``device`` for batches
        ``start, start+1, ...`` of ``order`` (``steps`` of them; default: every batch,
        the last one partial)."""
        total = (len(order) + batch_size - 1) // batch_size if steps is None else steps
        if self.x is not None:
            order = order.to(self.x.device)
            for step in range(start, total):
                idx = order[step * batch_size : (step + 1) * batch_size]
                yield (
                    self.x.index_select(0, idx).to(device, non_blocking=True),
                    self.label.index_select(0, idx.to(self.label.device)).to(device),
                )
            return
        yield from self._stream(order, batch_size, start, total, device)

    def _stream(
        self,
        order: torch.Tensor,
        batch_size: int,
        start: int,
        total: int,
        device: torch.device | str,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        assert self.frames is not None and self.positions is not None
        end = min(len(order), total * batch_size)
        window = max(batch_size, self.window // batch_size * batch_size)
        lo = start * batch_size // window * window  # windows aligned in order space

        def read(a: int) -> tuple[int, torch.Tensor, torch.Tensor]:
            idx = order[a : min(a + window, end)]
            x = torch.from_numpy(self.frames.read(self.positions[idx.numpy()]))
            return a, x, self.label[idx]

        with ThreadPoolExecutor(1) as pool:
            nxt: Future | None = pool.submit(read, lo) if lo < end else None
            while nxt is not None:
                a, x, y = nxt.result()
                nxt = pool.submit(read, a + window) if a + window < end else None
                # window is a multiple of batch_size, so no batch straddles two windows
                for step in range(max(start, a // batch_size), total):
                    s, e = step * batch_size - a, min((step + 1) * batch_size, end) - a
                    if s >= len(x):
                        break
                    yield x[s:e].to(device), y[s:e].to(device)


def load_split(
    frames: FrameSet, split: str, *, memory_mb: float, batch_size: int = 256
) -> SplitData:
    """Split ``split`` of ``frames``: read into memory (chunked) if it fits ``memory_mb``."""
    pos = frames.indices(split)
    label = torch.from_numpy(frames.label[pos].astype(np.int64))
    snr = frames.snr_db[pos].astype(np.float32)
    frame_bytes = 2 * frames.frame_length * 4
    if len(pos) * frame_bytes <= memory_mb * 2**20:
        x = torch.empty((len(pos), 2, frames.frame_length), dtype=torch.float32)  # (n, 2, L)
        for lo in range(0, len(pos), READ_CHUNK):
            x[lo : lo + READ_CHUNK] = torch.from_numpy(frames.read(pos[lo : lo + READ_CHUNK]))
        return SplitData(label, snr, x=x)
    # stream: windows of ~1/4 of the budget (two live at once with prefetch), >= 4 batches
    window = max(4 * batch_size, int(memory_mb * 2**20 / 4 / frame_bytes))
    window = window // batch_size * batch_size
    return SplitData(label, snr, frames=frames, positions=pos, window=window)
