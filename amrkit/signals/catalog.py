"""The modulation classes amrkit synthesizes, their parameters, and one batched entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from amrkit.signals import analog, digital, pulses
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
        fs = sample_rate_hz
        total = num_samples + 2 * ANALOG_MARGIN
        msg = synthetic_audio(n, total, fs, rng) if audio is None else audio(n, total, rng)
        if name == "B-FM":
            out = analog.broadcast_fm(msg, p.fm_deviation_hz, p.fm_preemphasis_s, fs)
        elif name == "DSB-AM":
            out = analog.dsb_am(msg, p.am_carrier_hz, fs)
        else:
            out = analog.ssb_am(msg, p.am_carrier_hz, fs)
        return out[:, ANALOG_MARGIN : ANALOG_MARGIN + num_samples]
    raise KeyError(f"unknown modulation {name!r}; known: {', '.join(CLASSES)}")
