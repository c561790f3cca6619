"""One block of frames: modulate → channel → frame cut → noise → normalize."""

from __future__ import annotations

from functools import partial

import numpy as np

from amrkit.channel import (
    add_awgn,
    apply_clock_offset,
    apply_multipath,
    draw_ppm,
    frame_power,
    frequency_offset_hz,
    interpolate_gains,
    rician_knots,
)
from amrkit.channel.clock import window_rows
from amrkit.data.synth.config import SynthConfig
from amrkit.data.synth.plan import block_rng
from amrkit.signals import ANALOG, modulate
from amrkit.signals.audio import AudioClip, clip_segments


def normalize_power(x: np.ndarray) -> np.ndarray:
    """Each frame divided by its RMS (unit average power); all-zero frames stay zero."""
    power = frame_power(x, keepdims=True)
    scale = np.where(power > 0, 1.0 / np.sqrt(np.where(power > 0, power, 1.0)), 0.0)
    return x * scale.astype(np.float32)


def _modulate_classes(
    cfg: SynthConfig, label: np.ndarray, rng: np.random.Generator, audio: AudioClip | None
) -> np.ndarray:
    """Each present class's frames, modulated in class order: (n, T) complex64."""
    source = None if audio is None else partial(clip_segments, audio)
    present = np.unique(label)
    x = np.empty((len(label), cfg.source_length), dtype=np.complex64)
    for c in present:
        idx = np.flatnonzero(label == c)
        part = modulate(
            cfg.classes[int(c)],
            len(idx),
            cfg.source_length,
            rng,
            sps=cfg.samples_per_symbol,
            sample_rate_hz=cfg.sample_rate_hz,
            params=cfg.modulation,
            audio=source,
        )
        if len(present) == 1:
            return np.ascontiguousarray(part)
        x[idx] = part
    return x


def _full_channel(
    cfg: SynthConfig,
    x: np.ndarray,
    label: np.ndarray,
    start: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Multipath then clock offset, evaluated on the frame window: (n, L) and the draws."""
    model, fs, t_len = cfg.channel_model, cfg.sample_rate_hz, cfg.source_length
    n = len(label)
    knots = rician_knots(n, t_len, fs, model, rng)  # (n, P, 2): first and last sample
    x = apply_multipath(x, knots, model.path_delays)
    ppm = draw_ppm(n, model.max_ppm, rng)
    analog = np.isin(np.asarray(cfg.classes)[label], ANALOG)
    fc = np.where(analog, model.carrier_analog_hz, model.carrier_digital_hz)
    frame = apply_clock_offset(x, ppm, fc, fs, start, cfg.frame_length)  # (n, L)
    g0 = interpolate_gains(knots, t_len, start[:, None])[:, :, 0]  # (n, P) at frame start
    draws = {
        "ppm": ppm.astype(np.float32),
        "freq_offset_hz": frequency_offset_hz(ppm, fc).astype(np.float32),
        "path_gain": np.stack([g0.real, g0.imag], axis=-1).astype(np.float32),
    }
    return frame, draws


def synthesize_block(
    cfg: SynthConfig,
    block: int,
    label: np.ndarray,
    snr_db: np.ndarray,
    audio: AudioClip | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frames of one block: ``iq`` (n, 2, L) float32 and the per-frame channel draws.

    ``out`` (n, 2, L) float32, if given, receives the I/Q (and is returned as ``iq``).

    Draw order (fixed): each class's modulator in class order, frame offsets, fading,
    clock offsets, noise. Noise comes last, so a dataset at SNR ``inf`` holds exactly the
    clean signals of the same config at a finite SNR.
    """
    n, length = len(label), cfg.frame_length
    rng = block_rng(cfg.seed, block)
    x = _modulate_classes(cfg, label, rng, audio)  # (n, T) before the channel
    offset = rng.integers(0, cfg.samples_per_symbol + 1, size=n)
    start = cfg.skip + offset
    extras: dict[str, np.ndarray] = {"offset": offset.astype(np.int16)}
    if cfg.channel == "full":
        frame, draws = _full_channel(cfg, x, label, start, rng)
        extras.update(draws)
    else:
        frame = window_rows(x, start, length)
    if cfg.channel != "none" and np.isfinite(snr_db).any():
        frame = add_awgn(frame, snr_db, rng, cfg.snr_convention)
    frame = normalize_power(frame)
    iq = np.empty((n, 2, length), dtype=np.float32) if out is None else out  # (n, 2, L)
    iq[:, 0] = frame.real
    iq[:, 1] = frame.imag
    return iq, extras
