"""Training-time augmentation by exact symmetries of the synthetic channel.

Every transform here maps the distribution of frames of a class onto itself, so it adds
variety without adding bias:

- ``phase``: multiply the frame by exp(j*theta), theta ~ U[0, 2*pi). The multipath channel's
  carrier phase is uniform, so every rotation of a frame is an equally likely frame.
- ``conj``: complex conjugate (Q -> -Q) with probability 1/2. The clock-derived frequency
  offset is symmetric about 0, every constellation used here is symmetric about the real
  axis, binary CPM/FM symbols are symmetric in sign and the AM classes are real before the
  channel, so a conjugated frame is an equally likely frame of the same class.

A ``crop`` (TrainConfig.crop) trains on a random window of each frame: the networks end in a
global average pool, so a window is a shorter frame of the same class (every start time is
equally likely, the frame's start is arbitrary), at a fraction of the training cost; the
validation and test frames stay whole.

Parameters are drawn per frame from ``(seed, epoch)`` and indexed by the frame's position in
the training split, so a resumed run or a torchrun job sees the same augmented frames as a
plain uninterrupted run.
"""

from __future__ import annotations

import hashlib
import math

import torch

from amrkit.errors import AmrkitError

AUGMENTATIONS = ("phase", "conj")


def parse_augment(text: str) -> tuple[str, ...]:
    """``"phase,conj"`` -> ("phase", "conj"); ``"none"`` or ``""`` -> (). Unknown names raise."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in AUGMENTATIONS]
    if bad or len(set(names)) != len(names):
        what = bad[0] if bad else "a repeated name"
        raise AmrkitError(
            f"augment = {text!r} is invalid ({what!r}); it must be 'none' or a comma-separated "
            f"subset of {', '.join(AUGMENTATIONS)} (config key augment or --augment)"
        )
    return tuple(n for n in AUGMENTATIONS if n in names)  # canonical order


class EpochAugment:
    """Per-frame augmentation parameters of one epoch: ``theta`` (n,), ``flip`` (n,) bool."""

    def __init__(
        self, names: tuple[str, ...], seed: int, epoch: int, n: int, crop: int = 0
    ) -> None:
        digest = hashlib.sha256(f"amrkit.train.augment:{seed}:{epoch}".encode()).digest()
        g = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        # draw both always, so adding one transform does not change the other's draws
        theta = torch.rand(n, generator=g, dtype=torch.float64) * (2 * math.pi)
        flip = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
        where = torch.rand(n, generator=g, dtype=torch.float64)  # crop start, a fraction
        self.theta = theta.float() if "phase" in names else None
        self.flip = flip if "conj" in names else None
        self.crop, self.where = crop, where

    def __call__(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L) float32 of the frames at split positions ``idx`` (b,) -> augmented copy."""
        i, q = x[:, 0], x[:, 1]  # (b, L)
        if self.flip is not None:
            sign = 1.0 - 2.0 * self.flip[idx.cpu()].to(x.device, x.dtype)  # (b,) +-1
            q = q * sign[:, None]
        if self.theta is not None:
            th = self.theta[idx.cpu()].to(x.device)[:, None]  # (b, 1)
            c, s = torch.cos(th), torch.sin(th)
            i, q = i * c - q * s, i * s + q * c
        x = torch.stack((i, q), dim=1)
        return self._crop(x, idx) if 0 < self.crop < x.shape[-1] else x

    def _crop(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L) -> (b, 2, crop): each frame's window starts at floor(where·(L−crop+1))."""
        b, _, length = x.shape
        start = (self.where[idx.cpu()] * (length - self.crop + 1)).long().to(x.device)  # (b,)
        pos = start[:, None] + torch.arange(self.crop, device=x.device)  # (b, crop)
        return x.gather(2, pos[:, None, :].expand(b, 2, self.crop))
