"""Digital modulators: linear (PSK, QAM, PAM with RRC shaping) and binary CPM (GFSK, CPFSK).

All functions are batched: ``n`` frames at once, arrays ``(n, T)``; randomness comes only
from the ``rng`` passed in.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from amrkit.signals.fastmath import cis_cycles
from amrkit.signals.pulses import polyphase


def psk_points(m: int, phase: float = 0.0) -> np.ndarray:
    """M-PSK constellation ``exp(j (phase + 2πk/M))``: (M,) complex128."""
    return np.exp(1j * (phase + 2 * np.pi * np.arange(m) / m))


def qam_points(m: int) -> np.ndarray:
    """Square M-QAM at unit average power: (M,) complex128."""
    side = int(round(np.sqrt(m)))
    if side * side != m:
        raise ValueError(f"square QAM needs M = k², got {m}")
    levels = np.arange(-(side - 1), side, 2, dtype=np.float64)
    pts = (levels[:, None] + 1j * levels[None, :]).reshape(-1)
    return pts / np.sqrt(np.mean(np.abs(pts) ** 2))


def pam_points(m: int) -> np.ndarray:
    """M-PAM at unit average power (PAM4: {−3, −1, 1, 3}/√5): (M,) complex128."""
    levels = np.arange(-(m - 1), m, 2, dtype=np.float64)
    return (levels / np.sqrt(np.mean(levels**2))).astype(np.complex128)


CONSTELLATIONS: dict[str, np.ndarray] = {
    "BPSK": psk_points(2),
    "QPSK": psk_points(4, np.pi / 4),
    "8PSK": psk_points(8),
    "16QAM": qam_points(16),
    "64QAM": qam_points(64),
    "PAM4": pam_points(4),
}


def random_symbols(
    points: np.ndarray, n: int, num_symbols: int, rng: np.random.Generator
) -> np.ndarray:
    """I.i.d. uniform symbols from ``points``: (n, num_symbols) complex64."""
    idx = rng.integers(0, len(points), size=(n, num_symbols), dtype=np.uint8)
    return points.astype(np.complex64)[idx]


@njit(cache=True, nogil=True)
def _polyphase_rows(flat, phases, width, out):
    """``out[i, k, r, c] = Σ_j flat[i, width·(k − j) + c]·phases[j, r]``, j from
    ``min(J − 1, k)`` down to 0 (oldest symbol first), float32 multiply then add.

    Per row, component and phase: a J-tap FIR over the symbols, one tap per pass over the
    accumulator (vectorized over k; each output's sum keeps the order above).
    """
    n_rows, n_phases, sps = flat.shape[0], phases.shape[0], phases.shape[1]
    s = out.shape[1]
    sym = np.empty(s, np.float32)
    acc = np.empty(s, np.float32)
    for i in range(n_rows):
        for c in range(width):
            for k in range(s):
                sym[k] = flat[i, width * k + c]
            for r in range(sps):
                acc[:] = 0
                for j in range(min(n_phases, s) - 1, -1, -1):
                    h = phases[j, r]
                    dst, src = acc[j:], sym[: s - j]
                    for k in range(s - j):
                        dst[k] += h * src[k]
                for k in range(s):
                    out[i, k, r, c] = acc[k]


def upsample_filter(rows: np.ndarray, taps: np.ndarray, sps: int) -> np.ndarray:
    """Causal ``filter(taps, 1, upsample(rows, sps))`` along axis 1: (m, S*sps).

    Polyphase: output ``k·sps + r`` is ``Σ_j rows[k − j]·taps[j·sps + r]``, ``J =
    ceil(len(taps)/sps)`` multiply-adds, no zero-stuffed array (compiled, one thread). The
    terms are summed in float32, oldest symbol first, as SciPy's ``upfirdn`` does, so the
    result equals ``upfirdn(taps, rows, sps)[:, :S*sps]`` bit for bit (tested). Keeps
    float32 / complex64.
    """
    rows = np.asarray(rows)
    m, s = rows.shape
    complex_rows = np.iscomplexobj(rows)
    width = 2 if complex_rows else 1  # floats per sample
    flat = np.ascontiguousarray(rows, dtype=np.complex64 if complex_rows else np.float32)
    phases = np.ascontiguousarray(polyphase(taps, sps), dtype=np.float32)  # (J, sps)
    out = np.empty((m, s, sps, width), dtype=np.float32)
    _polyphase_rows(flat.view(np.float32).reshape(m, width * s), phases, width, out)
    out = out.reshape(m, s * sps * width)
    return out.view(np.complex64) if complex_rows else out


def shape_symbols(symbols: np.ndarray, taps: np.ndarray, sps: int) -> np.ndarray:
    """RRC (or any) pulse shaping of a batch of symbols: (n, S*sps) complex64."""
    return upsample_filter(np.asarray(symbols, dtype=np.complex64), taps, sps)


def linear_modulate(
    points: np.ndarray,
    n: int,
    num_samples: int,
    taps: np.ndarray,
    sps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Random symbols from ``points`` shaped by ``taps``: (n, num_samples) complex64."""
    num_symbols = -(-num_samples // sps)
    symbols = random_symbols(points, n, num_symbols, rng)  # (n, S)
    return shape_symbols(symbols, taps, sps)[:, :num_samples]


def cpm_phase(symbols: np.ndarray, pulse: np.ndarray, h: float, sps: int) -> np.ndarray:
    """CPM phase in cycles, reduced to a small range: (n, S*sps) float32.

    ``phase[t] = h Σ_i a_i q[t − i·sps]`` with ``q[m] = Σ_{m' < m} pulse[m']`` (the phase at
    the start of sample t, as MATLAB's CPM modulators; q = 1/2 after the pulse). Symbols
    older than the pulse contribute ``h/2 · Σ a_i``, a running sum per symbol (reduced
    mod 1 in float64); the last ``len(pulse)/sps`` symbols go through a polyphase filter
    with q.
    """
    n, s = symbols.shape
    q_full = np.concatenate([[0.0], np.cumsum(pulse)[:-1]])  # exclusive running integral
    lp = polyphase(q_full, sps).shape[0]  # symbols the pulse spans
    recent = upsample_filter(symbols.astype(np.float32), h * q_full, sps)  # (n, S*sps)
    cum = np.cumsum(symbols, axis=1, dtype=np.float64)  # (n, S)
    old = np.zeros((n, s), dtype=np.float64)
    old[:, lp:] = 0.5 * h * cum[:, : s - lp]
    old = (old - np.floor(old)).astype(np.float32)
    return (recent.reshape(n, s, sps) + old[:, :, None]).reshape(n, s * sps)


def cpm_modulate(
    n: int,
    num_samples: int,
    pulse: np.ndarray,
    h: float,
    sps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Binary continuous-phase modulation: (n, num_samples) complex64, |x| = 1.

    Symbols a ∈ {−1, +1} i.i.d.; ``pulse`` is the frequency pulse summing to 1/2, so every
    symbol turns the phase by ``π h a`` and a rectangular pulse gives the instantaneous
    frequency ``± h fs / (2 sps)``.
    """
    num_symbols = -(-num_samples // sps)
    a = 2 * rng.integers(0, 2, size=(n, num_symbols), dtype=np.int8) - 1  # (n, S)
    return cis_cycles(cpm_phase(a, pulse, h, sps)[:, :num_samples])
