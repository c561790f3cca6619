"""The modulation classes amrkit synthesizes, their parameters, and one batched entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from amrkit.signals import analog, digital, pulses, ranges
from amrkit.signals.audio import synthetic_audio

# the matlab preset's class order (docs/CONVENTIONS.md)
CLASSES: tuple[str, ...] = (
    "BPSK",
    "QPSK",
    "8PSK",
    "16QAM",
    "64QAM",
    "PAM4",
    "GFSK",
    "CPFSK",
    "B-FM",
    "DSB-AM",
    "SSB-AM",
)
LINEAR = ("BPSK", "QPSK", "8PSK", "16QAM", "64QAM", "PAM4")  # RRC-shaped
CPM = ("GFSK", "CPFSK")  # constant envelope
ANALOG = ("B-FM", "DSB-AM", "SSB-AM")  # driven by an audio source
ANALOG_MARGIN = 128  # audio samples of margin at each end (FFT Hilbert transform edges)

# (n, num_samples, rng) -> (n, num_samples) float32 audio at the sample rate
AudioSource = Callable[[int, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class ModulationParams:
    """Modulator parameters of the reference (docs/reference.md, "Modulators")."""

    rrc_rolloff: float = 0.35
    rrc_span_symbols: int = 4
    gfsk_bt: float = 0.35
    gfsk_index: float = 1.0
    gfsk_pulse_symbols: int = 4
    cpfsk_index: float = 0.5
    fm_deviation_hz: float = 75e3
    fm_preemphasis_s: float = 75e-6
    am_carrier_hz: float = 50e3


@lru_cache(maxsize=16)
def _rrc(rolloff: float, span: int, sps: int) -> np.ndarray:
    return pulses.rrc_taps(rolloff, span, sps)


@lru_cache(maxsize=16)
def _gauss(bt: float, sps: int, length: int) -> np.ndarray:
    return pulses.gaussian_frequency_pulse(bt, sps, length)


def is_analog(name: str) -> bool:
    return name in ANALOG


def modulate(
    name: str,
    n: int,
    num_samples: int,
    rng: np.random.Generator,
    *,
    sps: int,
    sample_rate_hz: float,
    params: ModulationParams = ModulationParams(),
    audio: AudioSource | None = None,
) -> np.ndarray:
    """``n`` independent frames of class ``name`` before the channel: (n, T) complex64.

    ``audio`` is the analog message source (default: :func:`synthetic_audio`).
    """
    p = params
    if name in LINEAR:
        taps = _rrc(p.rrc_rolloff, p.rrc_span_symbols, sps)
        return digital.linear_modulate(digital.CONSTELLATIONS[name], n, num_samples, taps, sps, rng)
    if name == "GFSK":
        pulse = _gauss(p.gfsk_bt, sps, p.gfsk_pulse_symbols)
        return digital.cpm_modulate(n, num_samples, pulse, p.gfsk_index, sps, rng)
    if name == "CPFSK":
        pulse = pulses.rect_frequency_pulse(sps)
        return digital.cpm_modulate(n, num_samples, pulse, p.cpfsk_index, sps, rng)
    if name in ANALOG:
        return _analog(name, n, num_samples, rng, sample_rate_hz, p, audio)
    raise KeyError(f"unknown modulation {name!r}; known: {', '.join(CLASSES)}")


def _analog(
    name: str,
    n: int,
    num_samples: int,
    rng: np.random.Generator,
    fs: float,
    p: ModulationParams,
    audio: AudioSource | None,
    drawn: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """An analog class's frames; ``drawn`` holds per-frame ``fm_deviation_hz`` (n,) or
    ``am_carrier`` (n,) levels (:mod:`amrkit.signals.ranges`)."""
    drawn = drawn or {}
    total = num_samples + 2 * ANALOG_MARGIN
    msg = synthetic_audio(n, total, fs, rng) if audio is None else audio(n, total, rng)
    if name == "B-FM":
        dev = drawn.get("fm_deviation_hz")
        dev = p.fm_deviation_hz if dev is None else dev[:, None]
        out = analog.broadcast_fm(msg, dev, p.fm_preemphasis_s, fs)
    elif name == "DSB-AM" and "am_carrier" in drawn:
        out = ranges.am_with_carrier(msg, drawn["am_carrier"], p.am_carrier_hz, fs)
    elif name == "DSB-AM":
        out = analog.dsb_am(msg, p.am_carrier_hz, fs)
    else:
        out = analog.ssb_am(msg, p.am_carrier_hz, fs)
    return out[:, ANALOG_MARGIN : ANALOG_MARGIN + num_samples]


def modulate_ranged(
    name: str,
    n: int,
    num_samples: int,
    rng: np.random.Generator,
    *,
    sps: int,
    sample_rate_hz: float,
    params: ModulationParams,
    ranges_: ranges.SignalRanges,
    audio: AudioSource | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`modulate` with per-frame parameters drawn from ``ranges_``: (n, T) complex64
    and the drawn values per frame (the :func:`ranges.range_columns` that apply to
    ``name``). A class none of whose ranges is on draws exactly what :func:`modulate` draws.
    """
    r, p = ranges_, params
    if name in ANALOG:
        drawn = ranges.analog_params(r, name, n, p.fm_deviation_hz, rng)
        return _analog(name, n, num_samples, rng, sample_rate_hz, p, audio, drawn), drawn
    shaped = name in LINEAR and (r.rolloff_max > 0 or bool(r.pulses))
    if not (r.resampled or shaped):
        kw = {"sps": sps, "sample_rate_hz": sample_rate_hz, "params": p}
        return modulate(name, n, num_samples, rng, **kw), {}
    timing = ranges.draw_timing(r, sps, n, num_samples, rng) if r.resampled else None
    cols: dict[str, np.ndarray] = {}
    if timing is not None:
        cols["sps"] = timing.sps
        if r.timing_jitter > 0:
            cols["timing_jitter"] = timing.jitter
    if name in LINEAR:
        source, shape_cols = _linear_source(name, n, r, p, rng)
        cols.update(shape_cols)
    elif name == "GFSK":
        source = ranges.cpm_source(
            lambda k: _gauss(p.gfsk_bt, k, p.gfsk_pulse_symbols), p.gfsk_index
        )
    else:
        source = ranges.cpm_source(pulses.rect_frequency_pulse, p.cpfsk_index)
    if timing is not None:
        return ranges.resampled_frames(source, timing, num_samples, rng), cols
    return np.stack([source(rng, sps, i, num_samples) for i in range(n)]), cols


def _linear_source(
    name: str,
    n: int,
    r: ranges.SignalRanges,
    p: ModulationParams,
    rng: np.random.Generator,
) -> tuple[ranges.FrameSource, dict[str, np.ndarray]]:
    """Per-frame roll-off and pulse draws (in that order, each only if ranged)."""
    cols: dict[str, np.ndarray] = {}
    rolloff = np.full(n, p.rrc_rolloff)
    if r.rolloff_max > 0:
        rolloff = rng.uniform(r.rolloff_min, r.rolloff_max, n)
    choice = np.zeros(n, dtype=np.int8)
    if r.pulses:
        choice = rng.integers(0, len(r.pulses), n).astype(np.int8)
        cols["pulse"] = choice
    names = [(r.pulses or ("rrc",))[c] for c in choice]
    if r.rolloff_max > 0:
        nyquist = np.isin(names, ("rrc", "rc"))  # the others have no roll-off
        cols["rolloff"] = np.where(nyquist, rolloff, np.nan)
    points = digital.CONSTELLATIONS[name]
    return ranges.linear_source(points, names, rolloff, p.rrc_span_symbols), cols
