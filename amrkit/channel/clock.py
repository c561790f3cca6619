"""Clock offset: one ppm draw per frame gives a carrier-frequency and a sample-rate offset.

With ``C = 1 + ppm·1e-6`` the receiver sees a frequency offset ``−(C − 1)·fc`` and samples
at ``C·fs``: output sample j is the input at time ``j / (C fs)``, by linear interpolation
(the reference's ``interp1``).
"""

from __future__ import annotations

import numpy as np

from amrkit.signals.fastmath import cis_cycles


def draw_ppm(n: int, max_ppm: float, rng: np.random.Generator) -> np.ndarray:
    """Clock offsets ``ppm ~ U[−max_ppm, max_ppm]``: (n,) float64."""
    return rng.uniform(-max_ppm, max_ppm, size=n)


def clock_factor(ppm: np.ndarray) -> np.ndarray:
    return 1.0 + np.asarray(ppm, dtype=np.float64) * 1e-6


def frequency_offset_hz(ppm: np.ndarray, carrier_hz: np.ndarray | float) -> np.ndarray:
    """``−(C − 1)·fc`` per frame: (n,) float64 (±4.51 kHz at 902 MHz, ±0.5 kHz at 100 MHz)."""
    return -(clock_factor(ppm) - 1.0) * np.asarray(carrier_hz, dtype=np.float64)


def frequency_shift(x: np.ndarray, offset_hz: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """``x[t]·exp(j 2π f t / fs)`` with phase 0 at t = 0: (n, T) complex64."""
    f = np.asarray(offset_hz, dtype=np.float64)[:, None] / sample_rate_hz
    return (x * cis_cycles(f * np.arange(x.shape[1]))).astype(np.complex64)


def _window_positions(
    factor: np.ndarray, start: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Left neighbour ``i0`` (n, L) int64 and weight ``a`` (n, L) float32 of ``(start+j)/C``."""
    pos = (np.asarray(start, dtype=np.float64)[:, None] + np.arange(length)) / factor[:, None]
    i0 = np.floor(pos).astype(np.int64)
    return i0, (pos - i0).astype(np.float32)


def window_rows(x: np.ndarray, first: np.ndarray, length: int) -> np.ndarray:
    """``x[i, first[i] : first[i] + length]`` for every row: (n, length), a contiguous copy."""
    win = np.lib.stride_tricks.sliding_window_view(x, length, axis=1)  # (n, T-len+1, len)
    return win[np.arange(x.shape[0]), np.asarray(first)]


def _neighbours(
    x: np.ndarray, factor: np.ndarray, start: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours ``x0``, ``x1`` (n, L), weights ``a`` (n, L) and left indices ``i0``.

    ``i0`` is (n,) — the left neighbour of sample j is ``i0 + j`` — on the fast path, and
    (n, L) otherwise.

    Fast path: when the drift over the window stays below one sample (|C − 1|·T < 1, true
    for a few ppm), the left neighbour of ``(start+j)/C`` is ``start + j − [C > 1]`` for
    every j, so the neighbours are two contiguous slices instead of a gather.
    """
    start = np.asarray(start, dtype=np.int64)
    last = start + length - 1
    drift = last / factor - last  # (n,) signed, largest |shift| in the window
    if np.all(np.abs(drift) < 0.999) and np.all(np.abs(start / factor - start) < 0.999):
        base = start - (factor > 1)  # (n,)
        win = window_rows(x, base, length + 1)  # (n, L+1)
        j = np.arange(length, dtype=np.float32)
        # (start+j)/C − (base+j) = (start+j)(1/C − 1) + (start − base); the first term is
        # tiny (< 1), so float32 keeps ~1e-9 absolute accuracy
        inv = (1.0 / factor - 1.0).astype(np.float32)[:, None]
        a = start.astype(np.float32)[:, None] + j
        a *= inv
        a += (start - base).astype(np.float32)[:, None]
        return win[:, :-1], win[:, 1:], a, base
    i0, a = _window_positions(factor, start, length)
    return np.take_along_axis(x, i0, axis=1), np.take_along_axis(x, i0 + 1, axis=1), a, i0


def resample_window(
    x: np.ndarray, factor: np.ndarray, start: np.ndarray, length: int
) -> np.ndarray:
    """Samples ``start … start+length−1`` of ``x`` resampled at ``factor·fs``: (n, L) complex64.

    ``out[j] = x((start + j) / factor)``, linear interpolation between neighbours; ``x``
    must extend one sample past the last position.
    """
    x0, x1, a, _ = _neighbours(x, np.asarray(factor, dtype=np.float64), start, length)
    return (x0 + (x1 - x0) * a).astype(np.complex64)


def _phase_ramp(f: np.ndarray, i0: np.ndarray, length: int, block: int = 32) -> np.ndarray:
    """``exp(j 2π f i0)`` (n, L) complex64 for left indices ``i0`` from :func:`_neighbours`.

    For a regular window (``i0`` (n,): indices ``i0 + j``) the ramp is the outer product of
    a coarse table ``exp(j 2π f (i0 + block·k))`` and a fine one ``exp(j 2π f r)``: two
    small ``cis`` calls and one complex multiply instead of a cos/sin per sample (error
    ~1e-7). Phases are reduced mod 1 in float64 first.
    """
    f = np.asarray(f, dtype=np.float64)
    if np.ndim(i0) == 2:
        return cis_cycles(f[:, None] * i0)
    k = -(-length // block)
    coarse = cis_cycles(f[:, None] * (i0[:, None] + block * np.arange(k)))  # (n, K)
    fine = cis_cycles(f[:, None] * np.arange(block))  # (n, block)
    return (coarse[:, :, None] * fine[:, None, :]).reshape(len(f), -1)[:, :length]


def apply_clock_offset(
    x: np.ndarray,
    ppm: np.ndarray,
    carrier_hz: np.ndarray,
    sample_rate_hz: float,
    start: np.ndarray,
    length: int,
) -> np.ndarray:
    """Frequency offset then sample-rate offset, evaluated only on the frame window.

    Equals ``resample_window(frequency_shift(x, −(C−1)fc, fs), C, start, length)`` but
    computes the phase ramp only at the samples the window uses: (n, L) complex64.
    """
    c = clock_factor(ppm)
    f = frequency_offset_hz(ppm, carrier_hz) / sample_rate_hz  # cycles per sample, (n,)
    x0, x1, a, i0 = _neighbours(x, c, start, length)
    step = cis_cycles(f)[:, None]  # one-sample rotation, exp(j 2π f)
    out = x1 * step  # ramp · (x0 + (x1·step − x0)·a), in place
    out -= x0
    out *= a
    out += x0
    out *= _phase_ramp(f, i0, length)  # exp(j 2π f i0)
    return out
