"""Analog modulators: broadcast FM, DSB-SC AM and SSB AM of a batch of audio frames.

Inputs are audio ``(n, T)`` float at the output sample rate (the reference uses the same
rate for audio and RF); outputs are ``(n, T)`` complex64.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import signal as ssig

from amrkit.signals.fastmath import cis_cycles

PREEMPHASIS_SHELF_HZ = 25e3  # where the +6 dB/octave pre-emphasis levels off


def preemphasis_coefficients(
    time_constant_s: float, sample_rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """First-order pre-emphasis ``(1 + sτ) / (1 + sτ₂)`` (bilinear), unit gain at DC.

    τ sets the corner where the boost starts (75 µs → 2.12 kHz); τ₂ puts the shelf at
    ``min(25 kHz, 0.45 fs)``, above the audio band, so the filter stays stable and finite.
    """
    f2 = min(PREEMPHASIS_SHELF_HZ, 0.45 * sample_rate_hz)
    tau2 = 1.0 / (2 * np.pi * f2)
    b, a = ssig.bilinear([time_constant_s, 1.0], [tau2, 1.0], fs=sample_rate_hz)
    return b, a


def preemphasis(audio: np.ndarray, time_constant_s: float, sample_rate_hz: float) -> np.ndarray:
    """Pre-emphasize along the last axis: same shape, float64."""
    b, a = preemphasis_coefficients(time_constant_s, sample_rate_hz)
    return ssig.lfilter(b, a, audio, axis=-1)


def fm_modulate(audio: np.ndarray, deviation_hz: float, sample_rate_hz: float) -> np.ndarray:
    """Baseband FM ``exp(j 2π Δf/fs cumsum(m))``: (n, T) complex64, |x| = 1."""
    cycles = np.cumsum(audio, axis=-1, dtype=np.float64) * (deviation_hz / sample_rate_hz)
    return cis_cycles(cycles)


def broadcast_fm(
    audio: np.ndarray, deviation_hz: float, preemphasis_s: float, sample_rate_hz: float
) -> np.ndarray:
    """Mono broadcast FM (MATLAB ``comm.FMBroadcastModulator``): pre-emphasis, then FM."""
    return fm_modulate(
        preemphasis(audio, preemphasis_s, sample_rate_hz), deviation_hz, sample_rate_hz
    )


def _carrier(num_samples: int, carrier_hz: float, sample_rate_hz: float) -> np.ndarray:
    cycles = np.mod(np.arange(num_samples) * (carrier_hz / sample_rate_hz), 1.0)
    return 2 * np.pi * cycles  # (T,) float64, phase 0 at the first sample


def dsb_am(audio: np.ndarray, carrier_hz: float, sample_rate_hz: float) -> np.ndarray:
    """Suppressed-carrier DSB (MATLAB ``ammod``): ``m(t) cos(2π fc t)``, real-valued."""
    c = np.cos(_carrier(audio.shape[-1], carrier_hz, sample_rate_hz)).astype(np.float32)
    return (audio * c).astype(np.complex64)


def hilbert_imag(audio: np.ndarray) -> np.ndarray:
    """Imaginary part of the analytic signal along the last axis (FFT method)."""
    t_len = audio.shape[-1]
    nfft = sfft.next_fast_len(t_len, real=True)
    spec = sfft.rfft(audio, nfft, axis=-1)
    # the analytic signal doubles positive frequencies; its imaginary part is −j·sign(f)·X
    spec *= -1j
    spec[..., 0] = 0
    if nfft % 2 == 0:
        spec[..., -1] = 0
    return sfft.irfft(spec, nfft, axis=-1)[..., :t_len]


def ssb_am(audio: np.ndarray, carrier_hz: float, sample_rate_hz: float) -> np.ndarray:
    """Lower-sideband SSB (MATLAB ``ssbmod``): ``m cos(ωt) + m̂ sin(ωt)``, real-valued.

    ``m̂`` is the Hilbert transform; ``cos(ωm t)`` becomes ``cos((ωc − ωm) t)``. The FFT
    Hilbert transform is circular, so callers give a few hundred samples of margin at both
    ends and keep the middle.
    """
    ph = _carrier(audio.shape[-1], carrier_hz, sample_rate_hz)
    c = np.cos(ph).astype(np.float32)
    s = np.sin(ph).astype(np.float32)
    return (audio * c + hilbert_imag(audio).astype(np.float32) * s).astype(np.complex64)
