"""Pulse shapes: RRC (rcosdesign) and the CPM frequency pulses."""

import numpy as np
import pytest

from amrkit.signals.pulses import (
    gaussian_frequency_pulse,
    polyphase,
    rect_frequency_pulse,
    rrc_taps,
)


def test_rrc_reference_shape():
    h = rrc_taps(0.35, 4, 8)
    assert h.shape == (33,)  # span 4 symbols × 8 sps + 1
    assert np.sum(h**2) == pytest.approx(1.0, abs=1e-12)  # unit energy
    np.testing.assert_allclose(h, h[::-1], atol=1e-15)  # symmetric
    assert np.argmax(h) == 16

    def rrc(t, b=0.35):  # the textbook formula, away from its singular points
        return (np.sin(np.pi * t * (1 - b)) + 4 * b * t * np.cos(np.pi * t * (1 + b))) / (
            np.pi * t * (1 - (4 * b * t) ** 2)
        )

    centre = 1 - 0.35 + 4 * 0.35 / np.pi
    for tap, t in ((0, -2.0), (4, -1.5), (12, -0.5), (17, 0.125)):
        assert h[tap] / h[16] == pytest.approx(rrc(t) / centre, rel=1e-9)


def test_rrc_cascade_is_nearly_nyquist():
    """RRC ⊗ RRC is a raised cosine: ≈ zero at non-zero symbol instants (span-4 truncation)."""
    h = rrc_taps(0.35, 4, 8)
    g = np.convolve(h, h)
    centre = len(g) // 2
    assert g[centre] == pytest.approx(1.0, abs=1e-9)
    others = np.concatenate([g[centre + 8 :: 8], g[centre - 8 :: -8]])
    assert np.max(np.abs(others)) < 0.06
    # the ISI of the reference's 4-symbol span: about −23 dB
    assert 10 * np.log10(np.sum(others**2)) == pytest.approx(-23.2, abs=0.5)


def test_rrc_edge_singularity_is_finite():
    # β = 0.25, sps = 4: t = ±1/(4β) = ±1 symbol falls on a tap
    h = rrc_taps(0.25, 6, 4)
    assert np.all(np.isfinite(h))
    mid = len(h) // 2
    # continuity: the tap at the singular point lies between its neighbours' trend
    assert abs(h[mid + 4] - 0.5 * (h[mid + 3] + h[mid + 5])) < 0.05


def test_polyphase_layout():
    taps = np.arange(1.0, 34.0)
    p = polyphase(taps, 8)
    assert p.shape == (5, 8)
    assert p[0, 0] == 1 and p[1, 0] == 9 and p[4, 0] == 33 and p[4, 1] == 0


@pytest.mark.parametrize("bt", [0.3, 0.35, 0.5])
def test_gaussian_pulse_area_and_symmetry(bt):
    g = gaussian_frequency_pulse(bt, 8, 4)
    assert g.shape == (32,)
    assert g.sum() == pytest.approx(0.5)
    np.testing.assert_allclose(g, g[::-1], atol=1e-12)
    assert np.all(g > 0)
    # a smaller BT spreads the pulse: lower peak
    assert g.max() < gaussian_frequency_pulse(bt + 0.5, 8, 4).max()


def test_rect_pulse():
    r = rect_frequency_pulse(8)
    assert r.shape == (8,) and r.sum() == pytest.approx(0.5) and np.ptp(r) == 0
