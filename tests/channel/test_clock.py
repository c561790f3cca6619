"""Clock offset: ppm draws, frequency offsets, sample-rate offset by linear interpolation."""

import numpy as np
import pytest

from amrkit.channel import (
    apply_clock_offset,
    clock_factor,
    draw_ppm,
    frequency_offset_hz,
    frequency_shift,
    resample_window,
)

FS = 200e3


def test_ppm_range_and_uniformity(rng):
    ppm = draw_ppm(50000, 5.0, rng)
    assert ppm.min() >= -5 and ppm.max() <= 5
    assert ppm.min() < -4.9 and ppm.max() > 4.9
    assert np.mean(ppm) == pytest.approx(0, abs=0.05)
    assert np.var(ppm) == pytest.approx(100 / 12, rel=0.03)  # U[−5, 5]


def test_frequency_offsets_match_reference(rng):
    ppm = draw_ppm(50000, 5.0, rng)
    f_dig = frequency_offset_hz(ppm, 902e6)
    f_ana = frequency_offset_hz(ppm, 100e6)
    np.testing.assert_allclose(f_dig, -(clock_factor(ppm) - 1) * 902e6)
    assert np.max(np.abs(f_dig)) <= 4510 and np.max(np.abs(f_dig)) > 4450  # ±4.51 kHz
    assert np.max(np.abs(f_ana)) <= 500 and np.max(np.abs(f_ana)) > 490  # ±0.5 kHz


def test_frequency_offset_is_seen_in_the_frame(rng):
    """A DC signal through the clock offset comes out as a tone at −(C−1)·fc."""
    n, t_len, length = 64, 1100, 1024
    ppm = draw_ppm(n, 5.0, rng)
    x = np.ones((n, t_len), dtype=np.complex64)
    start = np.full(n, 50)
    y = apply_clock_offset(x, ppm, np.full(n, 902e6), FS, start, length)
    phase = np.unwrap(np.angle(y), axis=1)
    slope = np.polyfit(np.arange(length), phase.T, 1)[0]  # rad/sample, per frame
    measured = slope * FS / (2 * np.pi)
    np.testing.assert_allclose(measured, frequency_offset_hz(ppm, 902e6), atol=0.5)
    # interpolating between two rotated unit samples shortens them by < (2π f/fs)²/8
    np.testing.assert_allclose(np.abs(y), 1.0, atol=1e-4)


def test_sample_rate_offset_is_linear_interpolation():
    """On a ramp x[t] = t, linear interpolation is exact: out[j] = (start + j)/C."""
    n, t_len, length = 5, 1100, 1024
    ppm = np.array([-5.0, -1.0, 0.0, 2.5, 5.0])
    c = clock_factor(ppm)
    start = np.array([50, 51, 55, 58, 50])
    x = np.tile(np.arange(t_len, dtype=np.float64), (n, 1)).astype(np.complex64)
    y = resample_window(x, c, start, length)
    want = (start[:, None] + np.arange(length)) / c[:, None]
    np.testing.assert_allclose(y.real, want, atol=2e-3)  # float32 values near 1000


def test_fast_and_general_paths_agree(rng):
    """Large drifts use the general gather; both equal a float64 reference."""
    n, t_len, length = 6, 1100, 1000
    x = (rng.standard_normal((n, t_len)) + 1j * rng.standard_normal((n, t_len))).astype(
        np.complex64
    )
    start = rng.integers(20, 40, n)
    for ppm in (draw_ppm(n, 5.0, rng), rng.uniform(-8000, 8000, n)):  # ≪1 and >1 sample drift
        fc = np.full(n, 902e6 if abs(ppm).max() < 10 else 1e6)
        got = apply_clock_offset(x, ppm, fc, FS, start, length)
        c = clock_factor(ppm)
        f = frequency_offset_hz(ppm, fc) / FS
        xs = x.astype(np.complex128) * np.exp(2j * np.pi * f[:, None] * np.arange(t_len))
        pos = (start[:, None] + np.arange(length)) / c[:, None]
        i0 = np.floor(pos).astype(int)
        a = pos - i0
        want = np.take_along_axis(xs, i0, 1) * (1 - a) + np.take_along_axis(xs, i0 + 1, 1) * a
        np.testing.assert_allclose(got, want, atol=1e-4)
        # and the composition of the two public steps gives the same
        two = resample_window(frequency_shift(x, f * FS, FS), c, start, length)
        np.testing.assert_allclose(two, want, atol=1e-4)
