"""AWGN in the two SNR conventions, and the Gaussian generator behind it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from amrkit.channel import add_awgn, noise_power
from amrkit.signals.fastmath import cis, cis_cycles, complex_normal


def test_complex_normal_is_standard_gaussian(rng):
    w = complex_normal(rng, (400, 1000))
    assert w.dtype == np.complex64
    for part in (w.real.ravel(), w.imag.ravel()):
        assert np.mean(part) == pytest.approx(0, abs=5e-3)
        assert np.var(part) == pytest.approx(1, abs=1e-2)
        assert stats.kurtosis(part) == pytest.approx(0, abs=0.03)
    assert abs(np.corrcoef(w.real.ravel(), w.imag.ravel())[0, 1]) < 5e-3
    ks = stats.kstest(w.real.ravel()[:100000], "norm")
    assert ks.pvalue > 1e-3


def test_cis_matches_exp():
    ph = np.linspace(-50, 50, 1001)
    np.testing.assert_allclose(cis(ph), np.exp(1j * ph), atol=1e-5)
    np.testing.assert_allclose(cis_cycles(ph * 1e3), np.exp(2j * np.pi * (ph * 1e3)), atol=2e-4)


@given(st.floats(-20, 40), st.floats(0.01, 100))
@settings(max_examples=25, deadline=None)
def test_measured_convention_gives_the_requested_snr(snr_db, amplitude):
    """Whatever the signal's power, the measured convention hits the SNR (0.2 dB, 32k samples)."""
    gen = np.random.default_rng(int(snr_db * 100) % 2**31)
    x = (amplitude * np.exp(2j * np.pi * 0.01 * np.arange(32768)))[None].astype(np.complex64)
    y = add_awgn(x, np.array([snr_db]), gen, "measured")
    noise = y - x
    est = 10 * np.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(noise) ** 2))
    assert est == pytest.approx(snr_db, abs=0.2)


def test_matlab_convention_assumes_unit_power(rng):
    """Noise power 10^(−SNR/10) regardless of the signal: a 1/8-power signal loses 9 dB."""
    x = (np.sqrt(1 / 8) * np.exp(2j * np.pi * 0.01 * np.arange(65536)))[None].astype(np.complex64)
    y = add_awgn(x, np.array([30.0]), rng, "matlab")
    assert np.mean(np.abs(y - x) ** 2) == pytest.approx(1e-3, rel=0.03)
    est = 10 * np.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(y - x) ** 2))
    assert est == pytest.approx(30 - 10 * np.log10(8), abs=0.15)  # ≈ 21 dB


def test_inf_snr_adds_nothing(rng):
    x = np.ones((3, 100), np.complex64)
    y = add_awgn(x, np.array([np.inf, 10.0, np.inf]), rng)
    assert np.array_equal(y[[0, 2]], x[[0, 2]]) and not np.array_equal(y[1], x[1])
    np.testing.assert_array_equal(noise_power(x, np.array([np.inf] * 3), "matlab"), [0.0] * 3)


def test_unknown_convention():
    with pytest.raises(ValueError):
        noise_power(np.ones((1, 4), np.complex64), np.array([1.0]), "other")
