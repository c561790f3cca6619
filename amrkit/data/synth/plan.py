"""What each frame gets before any synthesis: its class and SNR, its block's generator, and
the per-frame draws stored beside the I/Q."""

from __future__ import annotations

import numpy as np

from amrkit.channel.impairments import impairment_columns
from amrkit.channel.profiles import profile_columns
from amrkit.data.synth.config import SynthConfig
from amrkit.signals.ranges import range_columns


def frame_plan(cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """``label`` (N,) int16 and nominal ``snr_db`` (N,) float32, class-major.

    Within a class the SNRs cycle, so every SNR gets ``frames_per_class // len(snrs)``
    frames and the first ``frames_per_class % len(snrs)`` SNRs one more.
    """
    fpc = cfg.frames_per_class
    label = np.repeat(np.arange(len(cfg.classes), dtype=np.int16), fpc)
    snr_one = np.asarray(cfg.snrs, dtype=np.float32)[np.arange(fpc) % len(cfg.snrs)]
    return label, np.tile(snr_one, len(cfg.classes))


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block``: independent of worker count and of other blocks."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, block)))


def split_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def channel_columns(cfg: SynthConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per-frame draws stored under ``channel/<name>``: name → (dtype, per-frame shape)."""
    cols = range_columns(cfg.signal_ranges)
    cols["offset"] = ("int16", ())
    cols.update(profile_columns(cfg.multipath))
    if cfg.channel == "full":
        paths = len(cfg.channel_model.path_delays)
        cols.update(
            ppm=("float32", ()), freq_offset_hz=("float32", ()), path_gain=("float32", (paths, 2))
        )
    cols.update(impairment_columns(cfg.impairments))
    return cols
