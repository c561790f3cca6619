"""Digital modulators: constellations, RRC shaping, CPM (GFSK, CPFSK)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.signals import modulate
from amrkit.signals.digital import (
    CONSTELLATIONS,
    cpm_phase,
    pam_points,
    qam_points,
    shape_symbols,
    upsample_filter,
)
from amrkit.signals.pulses import (
    gaussian_frequency_pulse,
    polyphase,
    rect_frequency_pulse,
    rrc_taps,
)

FS, SPS = 200e3, 8

# theory (normalized C40, C42) of the reference constellations
THEORY = {
    "BPSK": (2.0, -2.0),
    "QPSK": (1.0, -1.0),
    "8PSK": (0.0, -1.0),
    "16QAM": (0.68, -0.68),
    "64QAM": (0.619, -0.619),
    "PAM4": (1.36, -1.36),
}


@pytest.mark.parametrize("name", list(CONSTELLATIONS))
def test_constellations_unit_power_and_cumulants(name, cumulants):
    pts = CONSTELLATIONS[name]
    assert np.mean(np.abs(pts) ** 2) == pytest.approx(1.0)
    c40, c42 = cumulants(pts)
    abs_c40, want_c42 = THEORY[name]
    assert abs(c40) == pytest.approx(abs_c40, abs=2e-3)
    assert c42 == pytest.approx(want_c42, abs=2e-3)


def test_constellation_details():
    np.testing.assert_allclose(np.sort(CONSTELLATIONS["BPSK"].real), [-1, 1], atol=1e-12)
    np.testing.assert_allclose(np.angle(CONSTELLATIONS["QPSK"][0]), np.pi / 4)  # rotated π/4
    np.testing.assert_allclose(CONSTELLATIONS["8PSK"][0], 1.0)  # not rotated
    np.testing.assert_allclose(np.sort(pam_points(4).real), np.array([-3, -1, 1, 3]) / np.sqrt(5))
    assert len(np.unique(np.round(qam_points(64), 9))) == 64


def test_shape_symbols_equals_filter_of_zero_stuffed(rng):
    """The polyphase filter is MATLAB's filter(h, 1, upsample(s, sps)), sample for sample."""
    from scipy.signal import lfilter

    taps = rrc_taps(0.35, 4, SPS)
    s = (rng.standard_normal((3, 40)) + 1j * rng.standard_normal((3, 40))).astype(np.complex64)
    up = np.zeros((3, 40 * SPS), dtype=np.complex128)
    up[:, ::SPS] = s
    want = lfilter(taps, 1.0, up, axis=1)
    got = shape_symbols(s, taps, SPS)
    np.testing.assert_allclose(got, want, atol=2e-6)


@given(
    st.integers(1, 5),
    st.integers(1, 30),
    st.integers(1, 12),
    st.integers(1, 40),
)
@settings(max_examples=40, deadline=None)
def test_upsample_filter_property(m, s, sps, ntaps):
    """For any sizes, polyphase up-sampling equals a causal convolution of zero-stuffed rows."""
    gen = np.random.default_rng(m * 1000 + s)
    rows = gen.standard_normal((m, s)).astype(np.float32)
    taps = gen.standard_normal(ntaps)
    up = np.zeros((m, s * sps))
    up[:, ::sps] = rows
    want = np.stack([np.convolve(r, taps)[: s * sps] for r in up])
    got = upsample_filter(rows, taps, sps)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # the polyphase split used elsewhere holds the same taps
    assert np.array_equal(polyphase(taps, sps).reshape(-1)[:ntaps], taps)


@given(
    st.integers(1, 4),
    st.integers(1, 30),
    st.integers(1, 10),
    st.integers(1, 40),
    st.sampled_from(["complex", "real", "bpsk"]),
)
@settings(max_examples=60, deadline=None)
def test_upsample_filter_is_scipy_upfirdn_bit_for_bit(m, s, sps, ntaps, kind):
    """The compiled polyphase filter sums in upfirdn's order: the same float32 bytes."""
    from scipy.signal import upfirdn

    gen = np.random.default_rng(m * 7919 + s * 31 + sps)
    taps = gen.standard_normal(ntaps)
    if kind == "complex":
        rows = (gen.standard_normal((m, s)) + 1j * gen.standard_normal((m, s))).astype(np.complex64)
    elif kind == "real":
        rows = gen.standard_normal((m, s)).astype(np.float32)
    else:  # real symbols in complex rows: the zero imaginary parts keep their signs
        rows = gen.choice([-1.0, 1.0], (m, s)).astype(np.complex64)
    want = upfirdn(taps.astype(np.float32), rows, up=sps, axis=1)[:, : s * sps]
    want = np.pad(want, ((0, 0), (0, s * sps - want.shape[1])))
    got = upsample_filter(rows, taps, sps)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("name", list(CONSTELLATIONS))
def test_linear_modulation_power_and_bandwidth(name, rng, psd):
    """RRC-shaped frames carry 1/sps of the symbol power, in ≈ (1 + 0.35)·Rs of bandwidth."""
    x = modulate(name, 64, 4096, rng, sps=SPS, sample_rate_hz=FS)
    assert x.shape == (64, 4096) and x.dtype == np.complex64
    assert np.mean(np.abs(x[:, 64:]) ** 2) == pytest.approx(1 / SPS, rel=0.05)
    f, p = psd(x[:, 64:], FS, 256)
    rs = FS / SPS
    # 99 % of the power lies within ±(1+β)Rs/2 ...
    inside = np.abs(f) <= (1 + 0.35) * rs / 2
    assert p[inside].sum() / p.sum() > 0.99
    # ... and the −20 dB two-sided bandwidth is (1+β)·Rs within 10 %
    above = f[p > p.max() / 100]
    assert (above.max() - above.min()) == pytest.approx((1 + 0.35) * rs, rel=0.10)


def test_cpm_phase_matches_integrated_frequency():
    gen = np.random.default_rng(1)
    a = 2 * gen.integers(0, 2, (4, 60), dtype=np.int8) - 1
    pulses = ((gaussian_frequency_pulse(0.35, SPS, 4), 1.0), (rect_frequency_pulse(SPS), 0.5))
    for pulse, h in pulses:
        freq = upsample_filter(a.astype(np.float32), pulse, SPS)
        # phase at the start of each sample: the integral of the frequency before it
        naive = (np.cumsum(freq.astype(np.float64), axis=1) - freq) * h
        d = naive - cpm_phase(a, pulse, h, SPS)
        assert np.max(np.abs(d - np.round(d))) < 1e-5  # equal modulo whole cycles


@pytest.mark.parametrize("name", ["GFSK", "CPFSK"])
def test_cpm_constant_envelope(name, rng):
    x = modulate(name, 16, 2048, rng, sps=SPS, sample_rate_hz=FS)
    np.testing.assert_allclose(np.abs(x), 1.0, atol=1e-5)


def test_cpfsk_deviation(rng, inst_freq):
    """CPFSK (h = 0.5) sits at ±fs/(2·sps)·h: ±6.25 kHz at 200 kHz, 8 sps."""
    x = modulate("CPFSK", 8, 2048, rng, sps=SPS, sample_rate_hz=FS)
    f = inst_freq(x, FS)
    dev = FS / (2 * SPS) * 0.5
    np.testing.assert_allclose(np.abs(f), dev, rtol=1e-3)
    assert 0.4 < np.mean(f > 0) < 0.6  # both tones used
    # and the phase moves by ±πh = ±π/2 per symbol
    dphi = np.angle(x[:, SPS::SPS] * np.conj(x[:, :-SPS:SPS]))
    np.testing.assert_allclose(np.abs(dphi), np.pi / 2, atol=1e-3)


def test_gfsk_deviation_and_smoothness(rng, inst_freq):
    """GFSK (h = 1, BT 0.35): |f| ≤ h·fs/(2 sps) = 12.5 kHz, reached on runs of equal bits."""
    x = modulate("GFSK", 8, 4096, rng, sps=SPS, sample_rate_hz=FS)
    f = inst_freq(x, FS)
    peak = FS / (2 * SPS) * 1.0
    assert np.max(np.abs(f)) <= peak * 1.001
    assert np.max(np.abs(f)) > 0.97 * peak
    # Gaussian filtering: the frequency changes smoothly (no ±peak jumps between samples)
    assert np.max(np.abs(np.diff(f, axis=1))) < 0.5 * peak
