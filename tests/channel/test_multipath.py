"""Rician multipath: path powers, K-factor, Doppler, fractional delays, time variation."""

import numpy as np
import pytest
from scipy.special import j0

from amrkit.channel import (
    ChannelModel,
    apply_multipath,
    average_path_powers,
    fractional_delay_taps,
    interpolate_gains,
    rician_gains,
    rician_knots,
    sos_fading,
)
from amrkit.channel.multipath import FD_LEAD
from amrkit.errors import AmrkitError

FS = 200e3


def test_reference_parameters(model):
    assert model.path_delays == (0.0, 1.8, 3.4)
    assert model.path_gains_db == (0.0, -2.0, -10.0)
    assert model.k_factor == 4 and model.max_doppler_hz == 4 and model.max_ppm == 5
    p = average_path_powers(model.path_gains_db)
    assert p.sum() == pytest.approx(1.0)  # total average power 0 dB
    np.testing.assert_allclose(10 * np.log10(p / p[0]), [0, -2, -10], atol=1e-12)


def test_path_powers_and_k_factor(model, rng):
    """Over many frames: E|g_p|² = normalized powers; path 0 has K = 4 with a fixed LOS."""
    g = rician_gains(20000, 2, FS, model, rng)[:, :, 0]  # (n, P) at t = 0
    want = average_path_powers(model.path_gains_db)
    np.testing.assert_allclose(np.mean(np.abs(g) ** 2, axis=0), want, rtol=0.04)
    los = np.mean(g[:, 0])  # the direct component (phase 0, MATLAB's default)
    diffuse = np.mean(np.abs(g[:, 0] - los) ** 2)
    assert abs(np.angle(los)) < 0.02
    assert np.abs(los) ** 2 / diffuse == pytest.approx(4.0, rel=0.06)
    for p in (1, 2):  # Rayleigh: zero mean, |g|² exponential (std = mean)
        assert abs(np.mean(g[:, p])) < 0.03 * np.sqrt(want[p])
        pw = np.abs(g[:, p]) ** 2
        assert np.std(pw) / np.mean(pw) == pytest.approx(1.0, abs=0.05)


def test_doppler_autocorrelation_is_jakes(rng):
    """The diffuse gains follow Jakes' autocorrelation J0(2π f_D τ) at 4 Hz."""
    t = np.array([0.0, 0.02, 0.05, 0.1, 0.2])
    g = sos_fading(6000, 1, t, 4.0, 16, rng)[:, 0, :]  # (n, T)
    r = np.mean(g[:, 1:] * np.conj(g[:, :1]), axis=0).real / np.mean(np.abs(g[:, 0]) ** 2)
    np.testing.assert_allclose(r, j0(2 * np.pi * 4.0 * t[1:]), atol=0.05)


def test_gains_vary_slowly_within_a_frame(model, rng):
    """Time-varying, but by little over a frame: Doppler 4 Hz × 5.4 ms."""
    n, t_len = 200, 1084
    g = rician_gains(n, t_len, FS, model, rng)  # (n, P, T), exact at every sample
    change = np.abs(g[:, :, -1] - g[:, :, 0])
    assert np.max(change) > 1e-3  # not static
    # |dg/dt| ≤ ω_D Σ|c_m|: at most 2π·4 Hz·T·√(2M)·√P_p over the frame
    p = average_path_powers(model.path_gains_db)
    bound = 2 * np.pi * 4.0 * t_len / FS * np.sqrt(2 * 16) * np.sqrt(p)
    assert np.all(change <= bound[None, :])
    assert np.median(change[:, 1]) < 0.1 * np.sqrt(p[1])


def test_two_knot_interpolation_matches_exact_gains(model):
    """The channel's linear interpolation between the frame's ends is within −45 dB."""
    n, t_len = 200, 1084
    knots = rician_knots(n, t_len, FS, model, np.random.default_rng(5))
    assert knots.shape == (n, 3, 2)
    dense = interpolate_gains(knots, t_len, np.arange(t_len))
    exact = rician_gains(n, t_len, FS, model, np.random.default_rng(5))  # same draws
    np.testing.assert_allclose(dense[:, :, 0], exact[:, :, 0], atol=1e-6)
    np.testing.assert_allclose(dense[:, :, -1], exact[:, :, -1], atol=1e-6)
    err = np.abs(dense - exact)
    assert np.max(err) < 6e-3
    assert 20 * np.log10(np.sqrt(np.mean(err**2))) < -45


def test_fractional_delay_taps():
    taps = fractional_delay_taps((0.0, 1.8, 3.4))
    np.testing.assert_allclose(np.sum(taps**2, axis=1), 1.0)  # unit energy per path
    e = np.zeros(taps.shape[1])
    e[FD_LEAD] = 1
    np.testing.assert_allclose(taps[0], e, atol=1e-12)  # integer delay: exact impulse


@pytest.mark.parametrize("tau", [1.8, 3.4, 0.5])
def test_fractional_delay_phase_slope(tau):
    """Each path delays a band-limited signal by lead + τ samples (phase slope of H(f))."""
    h = fractional_delay_taps((tau,))[0]
    f = np.linspace(0.005, 0.35, 70)  # cycles/sample: the band of the signals
    hf = np.array([np.sum(h * np.exp(-2j * np.pi * fi * np.arange(len(h)))) for fi in f])
    delay = -np.diff(np.unwrap(np.angle(hf))) / (2 * np.pi * np.diff(f))
    np.testing.assert_allclose(delay, FD_LEAD + tau, atol=0.01)
    mag_db = 20 * np.log10(np.abs(hf))
    assert np.ptp(mag_db) < 0.1  # flat in band
    assert abs(np.mean(mag_db)) < 0.6  # ≈ unit gain (unit energy over the whole band)


def test_apply_multipath_static_equals_convolution(rng):
    """With constant gains, the channel is one FIR: Σ_p g_p h_p convolved with x."""
    delays = (0.0, 1.8, 3.4)
    n, t_len = 4, 300
    x = (rng.standard_normal((n, t_len)) + 1j * rng.standard_normal((n, t_len))).astype(
        np.complex64
    )
    g = (rng.standard_normal((n, 3)) + 1j * rng.standard_normal((n, 3))).astype(np.complex64)
    knots = np.repeat(g[:, :, None], 2, axis=2)
    y = apply_multipath(x, knots, delays)
    taps = fractional_delay_taps(delays)
    for i in range(n):
        want = np.convolve(x[i], g[i] @ taps)[:t_len]
        np.testing.assert_allclose(y[i], want, atol=1e-4)


@pytest.mark.parametrize("delays", [(0.0, 1.8, 3.4), (0.5, 2.0), (1.0,)])
def test_apply_multipath_time_varying_equals_per_sample_gains(rng, delays):
    n, t_len = 3, 700
    x = (rng.standard_normal((n, t_len)) + 1j * rng.standard_normal((n, t_len))).astype(
        np.complex64
    )
    paths = len(delays)
    knots = (rng.standard_normal((n, paths, 2)) + 1j * rng.standard_normal((n, paths, 2))).astype(
        np.complex64
    )
    y = apply_multipath(x, knots, delays)
    g = interpolate_gains(knots, t_len, np.arange(t_len))  # (n, P, T), linear in t
    taps = fractional_delay_taps(delays)
    want = sum(
        g[:, p] * np.stack([np.convolve(x[i], taps[p])[:t_len] for i in range(n)])
        for p in range(paths)
    )
    np.testing.assert_allclose(y, want, atol=1e-4)


def test_bad_channel_model():
    with pytest.raises(AmrkitError, match="equal length"):
        ChannelModel(path_delays=(0.0, 1.0), path_gains_db=(0.0,))
    with pytest.raises(AmrkitError, match=r"\[0, 64\]"):
        ChannelModel(path_delays=(-1.0,), path_gains_db=(0.0,))
