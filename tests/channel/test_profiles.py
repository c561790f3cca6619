"""Random multipath profiles (amrkit/channel/profiles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from amrkit.channel.profiles import MultipathRanges, apply_profiles, draw_profiles
from amrkit.errors import AmrkitError


def test_taps_follow_the_drawn_exponential_profile_on_average():
    r = MultipathRanges(delay_spread_max=3.0)
    p = draw_profiles(r, 20000, np.random.default_rng(0))
    taps = p["taps"]  # (n, M)
    assert taps.shape == (20000, 13)
    assert abs(np.mean(np.sum(np.abs(taps) ** 2, axis=1)) - 1) < 0.02  # unit average power
    # frames with a long decay spread their power over later taps; τ near 0 keeps tap 0
    tau = p["delay_spread"]
    late = np.sum(np.abs(taps[:, 2:]) ** 2, axis=1)
    assert np.mean(late[tau > 2.5]) > 0.3
    assert np.mean(late[tau < 0.2]) < 0.01


def test_large_k_factor_makes_the_first_tap_deterministic_in_magnitude():
    n = 4000
    rice = draw_profiles(MultipathRanges(0.5, 1000, 1000), n, np.random.default_rng(1))
    rayl = draw_profiles(MultipathRanges(0.5, 0, 0), n, np.random.default_rng(1))
    # spread of |tap 0|² relative to its mean (the profile's share of tap 0 varies too)
    cv = [
        np.std(np.abs(p["taps"][:, 0]) ** 2) / np.mean(np.abs(p["taps"][:, 0]) ** 2)
        for p in (rice, rayl)
    ]
    assert cv[0] < 0.5 * cv[1]  # Rician K = 1000: nearly constant; Rayleigh: exponential


def test_apply_profiles_is_the_causal_convolution():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 50)) + 1j * rng.standard_normal((3, 50))).astype(np.complex64)
    taps = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    got = apply_profiles(x, taps)
    for i in range(3):
        np.testing.assert_allclose(got[i], np.convolve(x[i], taps[i])[:50], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"delay_spread_max": 40.0}, "allowed 0..16"),
        ({"delay_spread_max": 1.0, "k_factor_min": 5.0, "k_factor_max": 1.0}, "min ≤ max"),
    ],
)
def test_bad_profile_ranges_are_one_line_errors(kwargs, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        MultipathRanges(**kwargs)
    assert "\n" not in str(exc.value)
