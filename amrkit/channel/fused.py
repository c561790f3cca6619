"""The ``--channel full`` path of each frame in one compiled pass (numba).

Per frame: Rician multipath (time-varying gains, fractional delays) → clock offset
(frequency offset, then resampling at ``C·fs`` by linear interpolation) → AWGN at the
frame's SNR → unit average power, written straight into the I/Q output. The operations are
those of :func:`~amrkit.channel.multipath.apply_multipath`,
:func:`~amrkit.channel.clock.apply_clock_offset`, :func:`~amrkit.channel.noise.add_awgn`
and the synthesizer's power normalization (the NumPy reference; the tests compare the two),
fused so that a frame's samples stay in L1 cache instead of ≈ 40 whole-array NumPy passes.
Two numerical differences, both at float32 rounding level (≈ 1e-6 relative): the multipath
filters are applied in direct form (the reference uses FFTs), and the clock offset, noise and
normalization run in float64. The bytes are deterministic (no threads, no fast-math: no
reassociation or FMA contraction), so the same inputs give the same output on one machine.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from amrkit.channel.multipath import FD_LEAD, fractional_delay_taps

_TURN_BITS = 8  # cis(2π·k/2²⁴) as a product of three tables of 2⁸ entries (L1-resident)
_TURN_TABLES = np.exp(
    2j
    * np.pi
    * np.arange(1 << _TURN_BITS)[None, :]
    / 2.0 ** (_TURN_BITS * np.arange(1, 4))[:, None]
)  # (3, 256) complex128


@lru_cache(maxsize=32)
def path_filters(delays: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per path: FIR taps (F, M) float32, the row of each path's taps (P,) (−1: an integer
    delay) and each integer path's shift in samples (P,) (0 for the fractional ones)."""
    frac = [p for p, tau in enumerate(delays) if abs(tau - round(tau)) > 1e-12]
    taps = fractional_delay_taps(delays)[frac].astype(np.float32) if frac else np.zeros((0, 1))
    row = np.full(len(delays), -1, dtype=np.int64)
    row[frac] = np.arange(len(frac))
    shift = np.array(
        [0 if p in frac else FD_LEAD + int(round(d)) for p, d in enumerate(delays)], np.int64
    )
    for a in (taps, row, shift):
        a.flags.writeable = False
    return np.ascontiguousarray(taps, dtype=np.float32), row, shift


@njit(cache=True, nogil=True)
def _fir(z, x, h, lo, hi):
    """``z[t] += Σ_m h[m]·x[t − m]`` for t in [lo, hi) (terms with t − m ≥ 0), in tap order.

    Where every tap applies, three taps per pass over z (z loaded and stored once per three
    multiply-adds, the sum order unchanged); one tap per pass otherwise.
    """
    taps = h.shape[0]
    done = 0
    if lo >= taps - 1:
        out = z[lo:hi]
        while done + 3 <= taps:
            m = done
            x0, x1, x2 = x[lo - m : hi - m], x[lo - m - 1 : hi - m - 1], x[lo - m - 2 : hi - m - 2]
            h0, h1, h2 = h[m], h[m + 1], h[m + 2]
            for k in range(hi - lo):
                out[k] = ((out[k] + h0 * x0[k]) + h1 * x1[k]) + h2 * x2[k]
            done += 3
    for m in range(done, taps):
        first = max(lo, m)
        out, inp = z[first:hi], x[first - m : hi - m]
        for k in range(hi - first):
            out[k] += h[m] * inp[k]


@njit(cache=True, nogil=True)
def _multipath_range(xr, xi, taps, row, shift, ga, gb, ramp, lo, hi, yr, yi, zr, zi):
    """``y[t] = Σ_p (A_p + B_p·ramp[t])·(h_p * x)[t]`` for t in [lo, hi): planar float32.

    Loops run over slices from index 0 so that LLVM sees non-negative indices and
    vectorizes them (no wraparound checks); sums run in tap order, without FMA.
    """
    count = hi - lo
    ys_r, ys_i, zs_r, zs_i, rs = yr[lo:hi], yi[lo:hi], zr[lo:hi], zi[lo:hi], ramp[lo:hi]
    ys_r[:] = 0
    ys_i[:] = 0
    for p in range(row.shape[0]):
        zs_r[:] = 0
        zs_i[:] = 0
        if row[p] < 0:
            first = max(lo, shift[p])  # samples before the shift stay 0
            zr[first:hi] = xr[first - shift[p] : hi - shift[p]]
            zi[first:hi] = xi[first - shift[p] : hi - shift[p]]
        else:
            _fir(zr, xr, taps[row[p]], lo, hi)
            _fir(zi, xi, taps[row[p]], lo, hi)
        ar, ai = np.float32(ga[p].real), np.float32(ga[p].imag)
        br, bi = np.float32(gb[p].real), np.float32(gb[p].imag)
        for k in range(count):
            gr = ar + br * rs[k]
            gi = ai + bi * rs[k]
            ys_r[k] += gr * zs_r[k] - gi * zs_i[k]
            ys_i[k] += gr * zs_i[k] + gi * zs_r[k]


@njit(cache=True, nogil=True)
def _clock(yr, yi, start, inv_c, f_cyc, fr, fi):
    """Frequency offset ``f_cyc`` cycles/sample, then output j = y((start + j)/C) (linear).

    ``v_j = (y[i] + (y[i+1]·e^{j2πf} − y[i])·a)·e^{j2πf·i}``, ``i + a = (start + j)/C``.
    """
    length = fr.shape[0]
    step_r, step_i = math.cos(2 * math.pi * f_cyc), math.sin(2 * math.pi * f_cyc)
    first = int(math.floor(start * inv_c))
    if int(math.floor((start + length - 1) * inv_c)) - first != length - 1:
        _clock_general(yr, yi, start, inv_c, f_cyc, step_r, step_i, fr, fi)
        return
    # the usual case, drift < 1 sample: the left neighbour of output j is first + j
    rot_r, rot_i = _rotations(f_cyc, first, length)
    for j in range(length):
        a = (start + j) * inv_c - (first + j)
        x0r, x0i = float(yr[first + j]), float(yi[first + j])
        x1r = yr[first + j + 1] * step_r - yi[first + j + 1] * step_i  # x1 · exp(j 2π f)
        x1i = yr[first + j + 1] * step_i + yi[first + j + 1] * step_r
        vr = x0r + (x1r - x0r) * a
        vi = x0i + (x1i - x0i) * a
        fr[j] = vr * rot_r[j] - vi * rot_i[j]
        fi[j] = vr * rot_i[j] + vi * rot_r[j]


@njit(cache=True, nogil=True)
def _rotations(f_cyc, first, length, block=32):
    """``exp(j 2π f (first + j))`` for j < length, float64: a fine table within a block
    (by recurrence from one cos/sin) times a coarse one, every ``block`` samples; error
    ~1e-14."""
    step_r, step_i = math.cos(2 * math.pi * f_cyc), math.sin(2 * math.pi * f_cyc)
    fine_r, fine_i = np.empty(block + 1), np.empty(block + 1)
    fine_r[0], fine_i[0] = 1.0, 0.0
    for r in range(1, block + 1):
        fine_r[r] = fine_r[r - 1] * step_r - fine_i[r - 1] * step_i
        fine_i[r] = fine_r[r - 1] * step_i + fine_i[r - 1] * step_r
    ph = f_cyc * first
    ph = 2 * math.pi * (ph - math.floor(ph))
    c_r, c_i = math.cos(ph), math.sin(ph)
    out_r, out_i = np.empty(length), np.empty(length)
    for k in range(0, length, block):
        for r in range(min(block, length - k)):
            out_r[k + r] = c_r * fine_r[r] - c_i * fine_i[r]
            out_i[k + r] = c_r * fine_i[r] + c_i * fine_r[r]
        c_r, c_i = (
            c_r * fine_r[block] - c_i * fine_i[block],
            c_r * fine_i[block] + c_i * fine_r[block],
        )
    return out_r, out_i


@njit(cache=True, nogil=True)
def _clock_general(yr, yi, start, inv_c, f_cyc, step_r, step_i, fr, fi):
    """:func:`_clock` when the window drifts by a sample or more (neighbours skip/repeat)."""
    for j in range(fr.shape[0]):
        pos = (start + j) * inv_c
        i0 = int(math.floor(pos))
        a = pos - i0
        ph = f_cyc * i0
        ph = 2 * math.pi * (ph - math.floor(ph))
        rot_r, rot_i = math.cos(ph), math.sin(ph)
        x0r, x0i = float(yr[i0]), float(yi[i0])
        x1r = yr[i0 + 1] * step_r - yi[i0 + 1] * step_i
        x1i = yr[i0 + 1] * step_i + yi[i0 + 1] * step_r
        vr = x0r + (x1r - x0r) * a
        vi = x0i + (x1i - x0i) * a
        fr[j] = vr * rot_r - vi * rot_i
        fi[j] = vr * rot_i + vi * rot_r


@njit(cache=True, nogil=True)
def _cis_turn(turn, tables):
    """``exp(j 2π·turn)`` for a 24-bit uniform ``turn`` = k/2²⁴: three table look-ups."""
    k = int(turn * 16777216.0)
    a = tables[0, k >> 16] * tables[1, (k >> 8) & 255]
    return a * tables[2, k & 255]


@njit(cache=True, nogil=True)
def _noise_and_normalize(
    fr, fi, log_u, turn, tables, noise_scale, measured, normalize, out, scratch
):
    """Add ``σ·w``, then write I and Q at unit average power into ``out`` (2, L).

    ``w = √(−2·log_u)·exp(j 2π·turn)`` is the Box–Muller normal of the noise's uniforms
    (unit variance per component); ``σ² = ref·noise_scale/2`` with ``ref`` the frame's
    mean power (``measured``) or 1 (``matlab``).

    Two passes over the frame, each carrying one power sum (a strictly ordered float64
    chain) beside independent work, so that the chain's add latency hides behind it: the
    first makes the unit normals' radii and phases while summing the clean power, the
    second adds the noise while summing the noisy power. Same operations, same order.
    ``scratch`` (3, L) float64 holds the radii and phasors between the passes.
    """
    length = fr.shape[0]
    acc = 0.0
    if noise_scale > 0:
        radius, cr, ci = scratch[0], scratch[1], scratch[2]
        for j in range(length):
            acc += fr[j] * fr[j] + fi[j] * fi[j]
            c = _cis_turn(turn[j], tables)
            cr[j], ci[j] = c.real, c.imag
            radius[j] = math.sqrt(-2.0 * log_u[j])
        ref = acc / length if measured else 1.0
        sigma = math.sqrt(ref * noise_scale / 2)
        acc = 0.0
        for j in range(length):
            w = complex(cr[j], ci[j]) * (sigma * radius[j])
            fr[j] += w.real
            fi[j] += w.imag
            acc += fr[j] * fr[j] + fi[j] * fi[j]
    else:
        for j in range(length):
            acc += fr[j] * fr[j] + fi[j] * fi[j]
    scale = 1.0 / math.sqrt(acc / length) if acc > 0 else 0.0
    if not normalize:
        scale = 1.0
    for j in range(length):
        out[0, j] = fr[j] * scale
        out[1, j] = fi[j] * scale


@njit(cache=True, nogil=True)
def _frames(
    x, taps, row, shift, ga, gb, start, inv_c, f_cyc, log_u, turn, noise_scale, measured,
    normalize, out,
):  # fmt: skip
    """Every frame of the batch; ``log_u``, ``turn`` (n | 1, L): ``log(1 − u0)`` and ``u1``."""
    n, t_len = x.shape
    length = out.shape[2]
    xr = np.empty(t_len, np.float32)
    xi = np.empty(t_len, np.float32)
    yr = np.empty(t_len, np.float32)
    yi = np.empty(t_len, np.float32)
    zr = np.empty(t_len, np.float32)
    zi = np.empty(t_len, np.float32)
    fr = np.empty(length, np.float64)
    fi = np.empty(length, np.float64)
    scratch = np.empty((3, length))  # the noise's radii and phasors
    ramp = np.empty(t_len, np.float32)  # t/(T−1), the gains' interpolation weight
    for t in range(t_len):
        ramp[t] = np.float32(t) / np.float32(max(t_len - 1, 1))
    for i in range(n):
        for t in range(t_len):
            xr[t] = x[i, t].real
            xi[t] = x[i, t].imag
        lo = int(math.floor(start[i] * inv_c[i]))
        hi = min(int(math.floor((start[i] + length - 1) * inv_c[i])) + 2, t_len)
        _multipath_range(xr, xi, taps, row, shift, ga[i], gb[i], ramp, lo, hi, yr, yi, zr, zi)
        _clock(yr, yi, start[i], inv_c[i], f_cyc[i], fr, fi)
        k = min(i, log_u.shape[0] - 1)  # one row of zeros when there is no noise
        _noise_and_normalize(
            fr,
            fi,
            log_u[k],
            turn[k],
            _TURN_TABLES,
            noise_scale[i],
            measured,
            normalize,
            out[i],
            scratch,
        )


def full_channel_frames(
    x: np.ndarray,
    knots: np.ndarray,
    delays: tuple[float, ...],
    ppm: np.ndarray,
    carrier_hz: np.ndarray,
    sample_rate_hz: float,
    start: np.ndarray,
    snr_db: np.ndarray,
    noise: np.ndarray | None,
    convention: str,
    out: np.ndarray,
    normalize: bool = True,
) -> np.ndarray:
    """Normalized I/Q of frames through the full channel, into ``out`` (n, 2, L) float32.

    ``x`` (n, T) complex64 before the channel; ``knots`` (n, P, 2) path gains at the first
    and last sample; ``ppm``, ``carrier_hz``, ``start``, ``snr_db`` (n,); ``noise`` (2, n,
    L) float32 the uniform draws of the noise (Box–Muller, as
    :func:`~amrkit.signals.fastmath.normal_from_uniforms`), or None: no noise;
    ``convention`` ``measured`` or ``matlab`` (see :mod:`amrkit.channel.noise`).
    """
    taps, row, shift = path_filters(tuple(float(d) for d in delays))
    factor = 1.0 + np.asarray(ppm, dtype=np.float64) * 1e-6  # clock_factor
    start = np.asarray(start, dtype=np.int64)
    length = out.shape[2]
    last = np.floor((start + length - 1) / factor) + 1  # the last neighbour each frame needs
    if len(start) and (last.max() >= x.shape[1] or start.min() < 0):
        raise ValueError(
            f"frame windows reach sample {int(last.max())}, past the end of the {x.shape[1]} "
            "synthesized samples (clock offset too large for the margin)"
        )
    f_cyc = -(factor - 1.0) * np.asarray(carrier_hz, dtype=np.float64) / sample_rate_hz
    snr = np.asarray(snr_db, dtype=np.float64)
    scale = np.zeros(len(snr)) if noise is None else 10.0 ** (-np.where(np.isinf(snr), 0, snr) / 10)
    scale[np.isinf(snr)] = 0.0
    log_u, turn = np.zeros((1, length), np.float32), np.zeros((1, length), np.float32)
    if noise is not None:  # log(1 − u0): exact 1 − u0, NumPy's SIMD log (its log1p is scalar)
        log_u = np.subtract(np.float32(1), noise[0])  # (n, L)
        np.log(log_u, out=log_u)
        turn = noise[1]  # (n, L) view
    _frames(
        np.asarray(x, dtype=np.complex64),  # rows may be strided: read in place
        taps,
        row,
        shift,
        np.ascontiguousarray(knots[:, :, 0]),
        np.ascontiguousarray(knots[:, :, -1] - knots[:, :, 0]),
        start,
        1.0 / factor,
        f_cyc,
        log_u,
        turn,
        scale,
        convention == "measured",
        normalize,
        out,
    )
    return out
