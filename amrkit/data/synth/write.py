"""The whole dataset: in memory (``synthesize_arrays``) or into an amrkit HDF5 file."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amrkit.data.split import stratified_split
from amrkit.data.synth.config import SynthConfig, config_to_json
from amrkit.data.synth.plan import channel_columns, frame_plan, split_rng
from amrkit.data.synth.pool import (
    Job,
    check_workers,
    keep_freed_memory,
    run_blocks,
    sigint_flag,
)
from amrkit.errors import AmrkitError
from amrkit.signals.audio import AudioClip
from amrkit.signals.catalog import ANALOG_MARGIN

if TYPE_CHECKING:  # h5py is imported only when a file is written
    from amrkit.data.native import FrameWriter


def _prepare(cfg: SynthConfig) -> tuple[SynthConfig, AudioClip | None]:
    """Load the audio recording (if any) and pin its hash into the config."""
    if cfg.audio is None:
        return cfg, None
    from amrkit.signals.audio import load_wav

    clip = load_wav(cfg.audio, cfg.sample_rate_hz, cfg.source_length + 2 * ANALOG_MARGIN)
    if cfg.audio_sha256 is not None and cfg.audio_sha256 != clip.sha256:
        raise AmrkitError(
            f"audio file {cfg.audio!r} differs from the one this config was made with "
            "(SHA-256 mismatch); use the original recording or drop audio_sha256"
        )
    return dataclasses.replace(cfg, audio_sha256=clip.sha256), clip


def _columns(cfg: SynthConfig) -> dict[str, np.ndarray]:
    """Empty per-frame ``channel/*`` columns of the whole dataset."""
    return {
        k: np.empty((cfg.num_frames, *shape), dtype=dt)
        for k, (dt, shape) in channel_columns(cfg).items()
    }


def synthesize_arrays(cfg: SynthConfig, workers: int = 1) -> dict[str, Any]:
    """The whole dataset in memory (small configs, tests): iq, label, snr_db, split, channel."""
    cfg, clip = _prepare(cfg)
    label, snr = frame_plan(cfg)
    job = Job(cfg, label, snr, clip)
    iq = np.empty((cfg.num_frames, 2, cfg.frame_length), dtype=np.float32)
    cols = _columns(cfg)
    with sigint_flag() as stop:
        for lo, part, extras in run_blocks(job, check_workers(workers), stop):
            iq[lo : lo + len(part)] = part
            for k, v in extras.items():
                cols[k][lo : lo + len(part)] = v
    split = stratified_split(label, snr, cfg.split, split_rng(cfg.seed))
    return {"iq": iq, "label": label, "snr_db": snr, "split": split, "channel": cols, "config": cfg}


def _write_blocks(
    writer: FrameWriter,
    job: Job,
    workers: int,
    stop: threading.Event,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Every block's I/Q into ``writer`` as it comes; the ``channel/*`` columns (a few
    numbers per frame) gathered and written once at the end."""
    cols = _columns(job.cfg)
    blocks = run_blocks(job, workers, stop)
    try:
        for lo, iq, extras in blocks:
            writer.write(lo, iq)
            for k, v in extras.items():
                cols[k][lo : lo + len(iq)] = v
            if progress is not None:
                progress(lo + len(iq), len(job.label))
    finally:
        blocks.close()  # stops the pool at once on error or Ctrl-C
    for k, v in cols.items():
        writer.set_column(f"channel/{k}", v)


def synthesize(
    cfg: SynthConfig,
    path: str | Path,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate the dataset into ``path`` (amrkit HDF5, written to a temp file then renamed).

    ``progress(done_frames, total_frames)`` is called after each block. Returns a summary:
    path, frames, bytes, seconds, frames_per_s, workers, config.
    """
    from amrkit.data.native import FrameWriter
    from amrkit.fileio import check_writable

    workers = check_workers(workers)
    check_writable(path)
    keep_freed_memory()
    cfg, clip = _prepare(cfg)
    label, snr = frame_plan(cfg)
    split = stratified_split(label, snr, cfg.split, split_rng(cfg.seed))
    attrs = {
        "sample_rate_hz": cfg.sample_rate_hz,
        "samples_per_symbol": cfg.samples_per_symbol,
        "snr_convention": cfg.snr_convention,
        "config": config_to_json(cfg),
    }
    total = cfg.num_frames
    t0 = time.perf_counter()
    # Ctrl-C from here on is handled at safe points (see sigint_flag)
    with (
        sigint_flag() as stop,
        FrameWriter(
            path, total, cfg.frame_length, cfg.classes, attrs, extras=channel_columns(cfg)
        ) as writer,
    ):
        writer.set_column("label", label)
        writer.set_column("snr_db", snr)
        writer.set_column("split", split)
        _write_blocks(writer, Job(cfg, label, snr, clip), workers, stop, progress)
    seconds = time.perf_counter() - t0
    return {
        "path": str(path),
        "frames": total,
        "classes": list(cfg.classes),
        "frame_length": cfg.frame_length,
        "bytes": Path(path).stat().st_size,
        "seconds": seconds,
        "frames_per_s": total / seconds if seconds > 0 else float("inf"),
        "workers": workers,
        "config": cfg,
    }
