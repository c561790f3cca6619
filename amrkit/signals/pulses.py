"""Pulse shapes: root-raised-cosine (symbol shaping) and CPM frequency pulses."""

from __future__ import annotations

import numpy as np
from scipy.special import erfc


def rrc_taps(rolloff: float, span: int, sps: int) -> np.ndarray:
    """Root-raised-cosine taps, ``span * sps + 1`` long, unit energy (MATLAB ``rcosdesign``).

    Returns (span*sps + 1,) float64, symmetric, peak at the centre tap.
    """
    if not 0 < rolloff <= 1:
        raise ValueError(f"rolloff {rolloff} must be in (0, 1]")
    if span * sps % 2:
        raise ValueError("span * sps must be even (odd-length symmetric filter)")
    t = np.arange(-span * sps // 2, span * sps // 2 + 1) / sps  # in symbols
    b = rolloff
    h = np.empty_like(t)
    centre = np.abs(t) < 1e-12
    edge = np.abs(np.abs(4 * b * t) - 1) < 1e-12  # t = ±1/(4β): removable singularity
    rest = ~(centre | edge)
    tr = t[rest]
    h[centre] = 1 - b + 4 * b / np.pi
    h[edge] = (b / np.sqrt(2)) * (
        (1 + 2 / np.pi) * np.sin(np.pi / (4 * b)) + (1 - 2 / np.pi) * np.cos(np.pi / (4 * b))
    )
    h[rest] = (np.sin(np.pi * tr * (1 - b)) + 4 * b * tr * np.cos(np.pi * tr * (1 + b))) / (
        np.pi * tr * (1 - (4 * b * tr) ** 2)
    )
    return h / np.sqrt(np.sum(h**2))


def polyphase(taps: np.ndarray, sps: int) -> np.ndarray:
    """Split ``taps`` into (J, sps) phases: ``out[j, p] = taps[j*sps + p]`` (zero padded).

    Filtering zero-stuffed symbols with ``taps`` is then ``y[k*sps + p] = sum_j s[k-j] out[j, p]``,
    J multiply-adds per output sample instead of len(taps).
    """
    j = -(-len(taps) // sps)
    padded = np.zeros(j * sps, dtype=np.float64)
    padded[: len(taps)] = taps
    return padded.reshape(j, sps)


def gaussian_frequency_pulse(bt: float, sps: int, length: int = 4) -> np.ndarray:
    """GMSK-style Gaussian frequency pulse over ``length`` symbols, summing to 1/2.

    It is a rectangle of one symbol convolved with a Gaussian of 3-dB bandwidth ``bt/T``,
    sampled at sample centres; the 1/2 total makes the phase move by ``π h a`` per symbol.
    Returns (length*sps,) float64.
    """
    t = (np.arange(length * sps) + 0.5) / sps - length / 2  # in symbols, centred
    k = 2 * np.pi * bt / np.sqrt(np.log(2))
    # g(t) ∝ Q(k (t - 1/2)) - Q(k (t + 1/2)), Q(x) = erfc(x/√2)/2
    g = 0.5 * (erfc(k * (t - 0.5) / np.sqrt(2)) - erfc(k * (t + 0.5) / np.sqrt(2)))
    return 0.5 * g / g.sum()


def rect_frequency_pulse(sps: int) -> np.ndarray:
    """Rectangular (CPFSK) frequency pulse of one symbol, summing to 1/2: (sps,) float64."""
    return np.full(sps, 0.5 / sps)


def rc_taps(rolloff: float, span: int, sps: int) -> np.ndarray:
    """Raised-cosine (Nyquist, not root) taps, ``span * sps + 1`` long, unit energy.

    ``h(t) = sinc(t)·cos(πβt)/(1 − (2βt)²)``, t in symbols; at ``|t| = 1/(2β)`` the limit
    ``(π/4)·sinc(1/(2β))``. Returns (span*sps + 1,) float64.
    """
    if not 0 < rolloff <= 1:
        raise ValueError(f"rolloff {rolloff} must be in (0, 1]")
    t = np.arange(-span * sps // 2, span * sps // 2 + 1) / sps
    den = 1 - (2 * rolloff * t) ** 2
    edge = np.abs(den) < 1e-12
    h = np.where(edge, np.pi / 4 * np.sinc(1 / (2 * rolloff)), 0.0)
    h[~edge] = np.sinc(t[~edge]) * np.cos(np.pi * rolloff * t[~edge]) / den[~edge]
    return h / np.sqrt(np.sum(h**2))


def rect_taps(sps: int) -> np.ndarray:
    """Rectangular (NRZ) symbol pulse of one symbol, unit energy: (sps,) float64."""
    return np.full(sps, 1 / np.sqrt(sps))


def half_sine_taps(sps: int) -> np.ndarray:
    """Half-sine symbol pulse ``sin(π(t + ½)/sps)`` over one symbol, unit energy: (sps,)."""
    h = np.sin(np.pi * (np.arange(sps) + 0.5) / sps)
    return h / np.sqrt(np.sum(h**2))
