"""One block of frames: modulate → channel → frame cut → noise → normalize."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from amrkit.channel import (
    add_awgn_uniforms,
    draw_ppm,
    frame_power,
    frequency_offset_hz,
    interpolate_gains,
    rician_knots,
)
from amrkit.channel.clock import window_rows
from amrkit.channel.fused import full_channel_frames
from amrkit.channel.impairments import (
    ImpairmentDraws,
    apply_front_end,
    apply_oscillator,
    draw_impairments,
)
from amrkit.channel.profiles import apply_profiles, draw_profiles, taps_column
from amrkit.data.synth.config import SynthConfig
from amrkit.data.synth.plan import block_rng
from amrkit.signals import ANALOG, modulate, modulate_ranged
from amrkit.signals.audio import AudioClip, clip_segments
from amrkit.signals.fastmath import normal_uniforms
from amrkit.signals.ranges import empty_columns

CHUNK = 128  # frames per pass through the channel: arrays stay in cache (measured)


def normalize_power(x: np.ndarray) -> np.ndarray:
    """Each frame divided by its RMS (unit average power); all-zero frames stay zero."""
    power = frame_power(x, keepdims=True)
    scale = np.where(power > 0, 1.0 / np.sqrt(np.where(power > 0, power, 1.0)), 0.0)
    return x * scale.astype(np.float32)


def _modulate_classes(
    cfg: SynthConfig, label: np.ndarray, rng: np.random.Generator, audio: AudioClip | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each present class's frames, modulated in class order: (n, T) complex64 (rows may
    be strided), and the per-frame modulator draws of ``cfg.signal_ranges``."""
    source = None if audio is None else partial(clip_segments, audio)
    present = np.unique(label)
    x = np.empty((len(label), cfg.source_length), dtype=np.complex64)
    cols = empty_columns(cfg.signal_ranges, len(label))
    for c in present:
        idx = np.flatnonzero(label == c)
        kw = {"sps": cfg.samples_per_symbol, "sample_rate_hz": cfg.sample_rate_hz}
        kw.update(params=cfg.modulation, audio=source)
        name, n = cfg.classes[int(c)], len(idx)
        if cfg.signal_ranges.enabled:
            part, drawn = modulate_ranged(
                name, n, cfg.source_length, rng, **kw, ranges_=cfg.signal_ranges
            )
            for k, v in drawn.items():
                cols[k][idx] = v
        else:
            part = modulate(name, n, cfg.source_length, rng, **kw)
        if len(present) == 1:
            return part, cols  # maybe a strided view: the channel copies it chunk by chunk
        x[idx] = part
    return x, cols


@dataclass(frozen=True)
class _ChannelDraws:
    """A block's fading knots, clock offsets and carriers (``--channel full``)."""

    knots: np.ndarray  # (n, P, 2) complex64: each path's gain at the first and last sample
    ppm: np.ndarray  # (n,) float64
    carrier_hz: np.ndarray  # (n,) float64

    def columns(self, t_len: int, start: np.ndarray) -> dict[str, np.ndarray]:
        """The stored ``channel/*`` columns: ppm, frequency offset, path gains at the start."""
        g0 = interpolate_gains(self.knots, t_len, start[:, None])[:, :, 0]  # (n, P)
        return {
            "ppm": self.ppm.astype(np.float32),
            "freq_offset_hz": frequency_offset_hz(self.ppm, self.carrier_hz).astype(np.float32),
            "path_gain": np.stack([g0.real, g0.imag], axis=-1).astype(np.float32),
        }


def _draw_channel(cfg: SynthConfig, label: np.ndarray, rng: np.random.Generator) -> _ChannelDraws:
    model = cfg.channel_model
    n = len(label)
    knots = rician_knots(n, cfg.source_length, cfg.sample_rate_hz, model, rng)
    ppm = draw_ppm(n, model.max_ppm, rng)
    analog = np.isin(np.asarray(cfg.classes)[label], ANALOG)
    fc = np.where(analog, model.carrier_analog_hz, model.carrier_digital_hz)
    return _ChannelDraws(knots, ppm, fc)


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

    Draw order (fixed): each class's modulator (and its ranged parameters) in class order,
    frame offsets, multipath profiles (if any), fading, clock offsets, receiver impairments
    (if any), noise. Noise comes last, so a dataset at
    SNR ``inf`` holds exactly the clean signals of the same config at a finite SNR.
    """
    return _frames(cfg, block_rng(cfg.seed, block), label, snr_db, audio, out)


def _frames(
    cfg: SynthConfig,
    rng: np.random.Generator,
    label: np.ndarray,
    snr_db: np.ndarray,
    audio: AudioClip | None,
    out: np.ndarray | None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    n, length = len(label), cfg.frame_length
    x, extras = _modulate_classes(cfg, label, rng, audio)  # (n, T) before the channel
    offset = rng.integers(0, cfg.samples_per_symbol + 1, size=n)
    start = cfg.skip + offset
    extras["offset"] = offset.astype(np.int16)
    if cfg.multipath.enabled:
        prof = draw_profiles(cfg.multipath, n, rng)
        x = apply_profiles(x, prof["taps"])
        extras.update(prof, taps=taps_column(prof["taps"]))
    draws = _draw_channel(cfg, label, rng) if cfg.channel == "full" else None
    if draws is not None:
        extras.update(draws.columns(cfg.source_length, start))
    imp = None
    if cfg.impairments.enabled:
        imp = draw_impairments(cfg.impairments, n, length, cfg.sample_rate_hz, rng)
        extras.update(imp.columns())
    noise = None
    if cfg.channel != "none" and np.isfinite(snr_db).any():
        noise = normal_uniforms(rng, (n, length))  # (2, n, L)
    iq = np.empty((n, 2, length), dtype=np.float32) if out is None else out  # (n, 2, L)
    for lo in range(0, n, CHUNK):
        rows = slice(lo, min(lo + CHUNK, n))
        part = _Rows(
            rows, x[rows], start[rows], snr_db[rows], None if imp is None else imp.rows(rows)
        )
        _finish(cfg, part, draws, noise, iq[rows])
    return iq, extras


@dataclass(frozen=True)
class _Rows:
    """A chunk of a block's frames: their slice, sources (m, T), starts, SNRs, impairments."""

    rows: slice
    x: np.ndarray
    start: np.ndarray
    snr_db: np.ndarray
    imp: ImpairmentDraws | None


def _finish(
    cfg: SynthConfig,
    part: _Rows,
    draws: _ChannelDraws | None,
    noise: np.ndarray | None,
    iq: np.ndarray,
) -> None:
    """Channel, frame cut, impairments, noise and normalization of a chunk into ``iq``.

    Row by row, so a block runs in chunks of :data:`CHUNK` frames (cache-sized; the bytes
    do not depend on it). ``--channel full`` is one compiled pass per frame
    (:mod:`amrkit.channel.fused`), noise and normalization included unless impairments
    follow; ``awgn`` and ``none`` are NumPy.
    """
    rows, fs = part.rows, cfg.sample_rate_hz
    part_noise = None if noise is None else noise[:, rows]  # (2, m, L) uniforms
    if draws is not None:
        fused = part.imp is None  # else: the raw frame, impairments and noise below
        full_channel_frames(
            part.x,
            draws.knots[rows],
            cfg.channel_model.path_delays,
            draws.ppm[rows],
            draws.carrier_hz[rows],
            fs,
            part.start,
            part.snr_db,
            part_noise if fused else None,
            cfg.snr_convention,
            iq,
            normalize=fused,
        )
        if fused:
            return
        frame = (iq[:, 0] + 1j * iq[:, 1]).astype(np.complex64)
    else:
        frame = window_rows(part.x, part.start, cfg.frame_length)
    if part.imp is not None:
        frame = apply_oscillator(frame, part.imp, fs)
    if part_noise is not None:
        frame = add_awgn_uniforms(frame, part.snr_db, part_noise, cfg.snr_convention)
    if part.imp is not None:
        frame = apply_front_end(frame, part.imp)
    frame = normalize_power(frame)
    iq[:, 0] = frame.real
    iq[:, 1] = frame.imag


def warm_up(cfg: SynthConfig, audio: AudioClip | None = None) -> None:
    """Compile (or load from numba's cache) every kernel ``cfg`` uses, in this process.

    Called before forking workers, so that they inherit compiled code instead of each
    compiling it again. A block of one frame per class (contiguous sources) and one of two
    frames per class (a single class's sources may be strided views: another compiled
    variant), from a throwaway generator.
    """
    rng = np.random.default_rng(0)
    classes = np.arange(len(cfg.classes), dtype=np.int16)
    for label in (classes, *(np.full(2, c, dtype=np.int16) for c in classes)):
        snr = np.full(len(label), cfg.snrs[0], dtype=np.float32)
        _frames(cfg, rng, label, snr, audio, None)
