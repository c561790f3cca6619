"""Running blocks in order, in this process or in a forked pool writing to shared memory."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import mmap
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from amrkit.data.synth import pipeline
from amrkit.data.synth.config import SynthConfig
from amrkit.errors import AmrkitError
from amrkit.signals.audio import AudioClip

Block = tuple[int, np.ndarray, dict[str, np.ndarray]]  # (first frame, iq (n, 2, L), extras)


@dataclass(frozen=True)
class Job:
    """A whole dataset's plan; ``block(b)`` makes block ``b`` (looked up at call time, so a
    test may patch ``pipeline.synthesize_block``)."""

    cfg: SynthConfig
    label: np.ndarray
    snr_db: np.ndarray
    audio: AudioClip | None

    def bounds(self, b: int) -> tuple[int, int]:
        lo = b * self.cfg.block_size
        return lo, min(lo + self.cfg.block_size, len(self.label))

    def block(self, b: int, out: np.ndarray | None = None) -> Block:
        lo, hi = self.bounds(b)
        iq, extras = pipeline.synthesize_block(
            self.cfg, b, self.label[lo:hi], self.snr_db[lo:hi], self.audio, out=out
        )
        return lo, iq, extras


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

# set in each forked worker by _init_worker (inherited memory, nothing pickled)
_WORKER: dict[str, Any] = {}


def _init_worker(job: Job, slots: np.ndarray) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up
    keep_freed_memory()
    _WORKER["job"], _WORKER["slots"] = job, slots


def keep_freed_memory() -> None:
    """glibc malloc: serve large temporaries (a block's arrays, HDF5's chunk buffers: MBs
    each) from the heap and keep freed memory instead of returning it to the kernel, so
    the process does not fault in fresh zeroed pages for every block (measured: ≈ 9 µs of
    kernel time per frame in a worker, ≈ 4 µs in the writing parent). Process-wide and
    lasting (memory is reused, not returned, up to 1 GiB); a no-op where ``mallopt`` does
    not exist.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # keep up to 1 GiB of freed heap
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's maximum: blocks' arrays come from the heap


def _worker_block(b: int, slot: int) -> tuple[int, int, dict[str, np.ndarray]]:
    job: Job = _WORKER["job"]
    lo, hi = job.bounds(b)
    _, _, extras = job.block(b, out=_WORKER["slots"][slot, : hi - lo])  # I/Q into shared memory
    return lo, hi - lo, extras


@contextlib.contextmanager
def sigint_flag() -> Iterator[threading.Event]:
    """While active (main thread only), Ctrl-C sets an event instead of raising anywhere.

    A KeyboardInterrupt raised inside a finalizer or weakref callback is swallowed by
    Python, and one raised deep inside h5py or the pool's machinery is hard to clean up
    after; the loops below check the event at safe points and raise it themselves.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _result(future: Any, stop: threading.Event | None) -> Any:
    """``future.result()``, raising KeyboardInterrupt promptly once ``stop`` is set."""
    while True:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        try:
            return future.result(timeout=0.1)
        except FuturesTimeout:
            continue


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise AmrkitError(f"--workers {workers!r} must be an integer in 1..256")
    return workers


def run_blocks(job: Job, workers: int, stop: threading.Event | None = None) -> Iterator[Block]:
    """Blocks in order. ``workers > 1``: forked worker processes writing into shared memory.

    Each block's I/Q goes into one of ``2·workers + 1`` slots of an anonymous shared mapping
    (no pickling of frames); a slot is reused only after the caller has consumed the block
    in it, i.e. after it asked for the next one, so at most that many blocks are in flight.
    A worker that dies (e.g. killed for memory) is an AmrkitError, not a hang; on any error
    or Ctrl-C (``stop`` set, see :func:`sigint_flag`) the workers are terminated at once.
    """
    n_blocks = job.cfg.num_blocks
    workers = min(workers, n_blocks)
    if workers <= 1:
        for b in range(n_blocks):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            yield job.block(b)
        return
    yield from _run_pool(job, workers, stop)


def _run_pool(job: Job, workers: int, stop: threading.Event | None) -> Iterator[Block]:
    n_blocks = job.cfg.num_blocks
    pipeline.warm_up(job.cfg, job.audio)  # compiled kernels, inherited by the workers
    n_slots = min(n_blocks, 2 * workers + 1)
    shape = (n_slots, job.cfg.block_size, 2, job.cfg.frame_length)
    mapping = mmap.mmap(-1, int(np.prod(shape)) * 4)  # MAP_SHARED | MAP_ANONYMOUS
    slots = np.frombuffer(mapping, dtype=np.float32).reshape(shape)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(job, slots),
    )
    finished = False
    try:
        pending = collections.deque(
            pool.submit(_worker_block, b, b % n_slots) for b in range(n_slots)
        )
        for b in range(n_blocks):
            try:
                lo, n, extras = _result(pending.popleft(), stop)
            except BrokenProcessPool:
                raise AmrkitError(
                    "a worker process died (killed, e.g. out of memory); retry with fewer --workers"
                ) from None
            yield lo, slots[b % n_slots, :n], extras
            # the caller is done with slot b % n_slots: hand it to block b + n_slots
            if b + n_slots < n_blocks:
                nxt = b + n_slots
                pending.append(pool.submit(_worker_block, nxt, nxt % n_slots))
        finished = True
    finally:
        if not finished:  # error, Ctrl-C or an abandoned generator: stop the workers now
            procs = getattr(pool, "_processes", None) or {}  # no public API before 3.14
            for proc in list(procs.values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
