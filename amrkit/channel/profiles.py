"""Random multipath profiles drawn per frame (domain randomization of the channel).

The reference channel has one profile (three paths at 0, 1.8, 3.4 samples, Rician K = 4 on
the first). :class:`MultipathRanges` draws a profile per frame instead: a tapped delay line
at the sample spacing with an exponential power-delay profile ``p_m ∝ exp(−m/τ)``,
``τ ~ U[0, delay_spread_max]`` samples (≈ the profile's rms delay spread for τ ≳ 1; τ = 0 is
a single tap, flat fading), taps ``m = 0 … ceil(4·delay_spread_max)``. Every tap is
Rayleigh (circular Gaussian) except the first, which is Rician with ``K ~ U[k_factor_min,
k_factor_max]`` (K = 0: Rayleigh) and a uniform line-of-sight phase; the average total power
is 1. The taps are static over a frame: at the reference's 4 Hz Doppler a 5 ms frame sees
a phase change of 0.14 rad at most. Off by default; the taps are stored per frame under
``channel/taps`` with ``channel/delay_spread`` and ``channel/k_factor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from amrkit.errors import AmrkitError

MAX_SPREAD = 16.0  # samples


@dataclass(frozen=True)
class MultipathRanges:
    """Per-frame multipath profile ranges; ``delay_spread_max = 0`` is off."""

    delay_spread_max: float = 0.0  # τ ~ U[0, this] samples (exponential decay constant)
    k_factor_min: float = 0.0  # Rician K (linear) of the first tap ~ U[min, max]
    k_factor_max: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay_spread_max", "k_factor_min", "k_factor_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AmrkitError(f"multipath.{name} {value!r} must be a number")
            object.__setattr__(self, name, float(value))
        if not 0 <= self.delay_spread_max <= MAX_SPREAD:
            raise AmrkitError(
                f"multipath.delay_spread_max {self.delay_spread_max:g} is out of range; allowed "
                f"0..{MAX_SPREAD:g} samples (--delay-spread)"
            )
        k_lo, k_hi = self.k_factor_min, self.k_factor_max
        if not (math.isfinite(k_hi) and 0 <= k_lo <= k_hi <= 1000):
            raise AmrkitError(
                f"multipath k_factor_min {k_lo:g}, k_factor_max {k_hi:g} must satisfy "
                "0 ≤ min ≤ max ≤ 1000 (--k-factor MIN,MAX)"
            )

    @property
    def enabled(self) -> bool:
        return self.delay_spread_max > 0

    @property
    def taps(self) -> int:
        return int(math.ceil(4 * self.delay_spread_max)) + 1


def profile_columns(r: MultipathRanges) -> dict[str, tuple[str, tuple[int, ...]]]:
    if not r.enabled:
        return {}
    return {
        "delay_spread": ("float32", ()),
        "k_factor": ("float32", ()),
        "taps": ("float32", (r.taps, 2)),
    }


def draw_profiles(r: MultipathRanges, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``delay_spread`` (n,), ``k_factor`` (n,) and ``taps`` (n, M) complex128, drawn in
    that order (then line-of-sight phases and the diffuse parts)."""
    tau = rng.uniform(0, r.delay_spread_max, n)
    k = rng.uniform(r.k_factor_min, r.k_factor_max, n)
    m = np.arange(r.taps)
    with np.errstate(divide="ignore", invalid="ignore"):
        pdp = np.where(tau[:, None] > 0, np.exp(-m / tau[:, None]), (m == 0) * 1.0)  # (n, M)
    pdp /= pdp.sum(axis=1, keepdims=True)
    los = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    diffuse = (rng.standard_normal((n, r.taps)) + 1j * rng.standard_normal((n, r.taps))) / 2**0.5
    taps = diffuse * np.sqrt(pdp)
    first = np.sqrt(pdp[:, 0])
    taps[:, 0] = first * (np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * diffuse[:, 0])
    return {"delay_spread": tau, "k_factor": k, "taps": taps}


def apply_profiles(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``y[t] = Σ_m taps[m]·x[t − m]`` per row (causal; zeros before the first sample):
    x (n, T) complex64, taps (n, M) -> (n, T) complex64."""
    y = x * taps[:, :1].astype(np.complex64)
    for m in range(1, taps.shape[1]):
        y[:, m:] += x[:, :-m] * taps[:, m : m + 1].astype(np.complex64)
    return y


def taps_column(taps: np.ndarray) -> np.ndarray:
    return np.stack([taps.real, taps.imag], axis=-1).astype(np.float32)  # (n, M, 2)
