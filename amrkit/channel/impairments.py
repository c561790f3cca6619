"""Receiver impairments drawn per frame (domain randomization): carrier frequency offset,
phase noise, I/Q imbalance and DC offset.

All are off in the ``matlab`` preset (no draws, so its bytes are unchanged). Where they sit
in the receiver: the local oscillator (frequency offset, phase noise) acts on the channel
output before the thermal noise is added (rotating circular white noise leaves it
circular white noise, so this equals applying them after); the mixer/ADC imperfections
(I/Q imbalance, then DC offset) act on signal plus noise. Every draw is stored per frame
under ``channel/<name>``.

Models, per frame:

- frequency offset ``f ~ U[−cfo_max, cfo_max]·fs`` with a random start phase:
  ``x[t]·exp(j(2π f t/fs + φ0))``;
- phase noise: a Wiener process, ``θ[t] = Σ_{s≤t} ε_s``, ``ε ~ N(0, 2π β/fs)`` for a
  two-sided 3-dB linewidth ``β ~ U[0, phase_noise_hz]`` (Lorentzian spectrum);
- I/Q imbalance: gain ``g = 10^(ε/20)``, ``ε ~ U[±iq_gain_db]``, phase ``φ ~ U[±iq_phase_deg]``:
  ``I + j·g·(Q cos φ − I sin φ)``, i.e. ``μx + νx*`` with ``μ = (1 + g e^{−jφ})/2``,
  ``ν = (1 − g e^{jφ})/2``;
- DC offset ``d·rms(x)·e^{jψ}``, ``d ~ U[0, dc_offset]``, ψ uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.signals.fastmath import cis


@dataclass(frozen=True)
class Impairments:
    """Ranges of the per-frame receiver impairments; all 0 (off) in the matlab preset."""

    cfo_max: float = 0.0  # fraction of the sample rate, e.g. 0.01 = ±2 kHz at 200 kHz
    phase_noise_hz: float = 0.0  # largest two-sided 3-dB linewidth
    iq_gain_db: float = 0.0  # largest |amplitude imbalance|
    iq_phase_deg: float = 0.0  # largest |phase imbalance|
    dc_offset: float = 0.0  # largest |DC| relative to the frame's RMS

    def __post_init__(self) -> None:
        limits = {
            "cfo_max": 0.25,
            "phase_noise_hz": 1e5,
            "iq_gain_db": 6.0,
            "iq_phase_deg": 30.0,
            "dc_offset": 1.0,
        }
        for name, hi in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AmrkitError(f"impairments.{name} {value!r} must be a number in [0, {hi:g}]")
            if not 0 <= value <= hi:
                raise AmrkitError(
                    f"impairments.{name} {value!r} is out of range; allowed 0..{hi:g}"
                )
            object.__setattr__(self, name, float(value))

    @property
    def enabled(self) -> bool:
        return any(getattr(self, name) > 0 for name in self.__dataclass_fields__)


def impairment_columns(imp: Impairments) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per-frame columns of the impairments that are on: name → (dtype, per-frame shape)."""
    cols: dict[str, tuple[str, tuple[int, ...]]] = {}
    if imp.cfo_max > 0:
        cols["cfo_hz"] = ("float32", ())
    if imp.phase_noise_hz > 0:
        cols["phase_noise_hz"] = ("float32", ())
    if imp.iq_gain_db > 0 or imp.iq_phase_deg > 0:
        cols.update(iq_gain_db=("float32", ()), iq_phase_deg=("float32", ()))
    if imp.dc_offset > 0:
        cols["dc_offset"] = ("float32", (2,))
    return cols


@dataclass(frozen=True)
class ImpairmentDraws:
    """One block's impairment draws (absent ones are None)."""

    cfo_hz: np.ndarray | None = None  # (n,)
    cfo_phase: np.ndarray | None = None  # (n,) radians at the first frame sample
    linewidth_hz: np.ndarray | None = None  # (n,)
    phase_steps: np.ndarray | None = None  # (n, L) float32 unit normals
    iq_gain_db: np.ndarray | None = None  # (n,)
    iq_phase_deg: np.ndarray | None = None  # (n,)
    dc: np.ndarray | None = None  # (n,) complex: offset relative to the frame's RMS

    def columns(self) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {}
        if self.cfo_hz is not None:
            cols["cfo_hz"] = self.cfo_hz.astype(np.float32)
        if self.linewidth_hz is not None:
            cols["phase_noise_hz"] = self.linewidth_hz.astype(np.float32)
        if self.iq_gain_db is not None:
            cols["iq_gain_db"] = self.iq_gain_db.astype(np.float32)
            cols["iq_phase_deg"] = self.iq_phase_deg.astype(np.float32)
        if self.dc is not None:
            cols["dc_offset"] = np.stack([self.dc.real, self.dc.imag], axis=-1).astype(np.float32)
        return cols

    def rows(self, rows: slice) -> ImpairmentDraws:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return ImpairmentDraws(**{k: None if v is None else v[rows] for k, v in values.items()})


def draw_impairments(
    imp: Impairments, n: int, length: int, sample_rate_hz: float, rng: np.random.Generator
) -> ImpairmentDraws:
    """Per-frame draws, in a fixed order (frequency offset, phase noise, I/Q, DC); none for
    an impairment that is off."""
    out: dict[str, np.ndarray] = {}
    if imp.cfo_max > 0:
        out["cfo_hz"] = rng.uniform(-imp.cfo_max, imp.cfo_max, n) * sample_rate_hz
        out["cfo_phase"] = rng.uniform(0, 2 * np.pi, n)
    if imp.phase_noise_hz > 0:
        out["linewidth_hz"] = rng.uniform(0, imp.phase_noise_hz, n)
        out["phase_steps"] = rng.standard_normal((n, length), dtype=np.float32)
    if imp.iq_gain_db > 0 or imp.iq_phase_deg > 0:
        out["iq_gain_db"] = rng.uniform(-imp.iq_gain_db, imp.iq_gain_db, n)
        out["iq_phase_deg"] = rng.uniform(-imp.iq_phase_deg, imp.iq_phase_deg, n)
    if imp.dc_offset > 0:
        mag = rng.uniform(0, imp.dc_offset, n)
        out["dc"] = mag * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    return ImpairmentDraws(**out)


def apply_oscillator(x: np.ndarray, d: ImpairmentDraws, sample_rate_hz: float) -> np.ndarray:
    """Frequency offset and phase noise of the local oscillator: (n, L) complex64."""
    n, length = x.shape
    phase = np.zeros((n, length), dtype=np.float64)
    if d.cfo_hz is not None:
        cycles = d.cfo_hz[:, None] / sample_rate_hz * np.arange(length)
        phase += 2 * np.pi * (cycles - np.floor(cycles)) + d.cfo_phase[:, None]
    if d.linewidth_hz is not None:
        sigma = np.sqrt(2 * np.pi * d.linewidth_hz / sample_rate_hz)  # (n,) rad per sample
        phase += np.cumsum(d.phase_steps * sigma[:, None], axis=1)
    if d.cfo_hz is None and d.linewidth_hz is None:
        return x
    return (x * cis(np.mod(phase, 2 * np.pi))).astype(np.complex64)


def iq_coefficients(gain_db: np.ndarray, phase_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``μ``, ``ν`` (n,) complex128 of ``y = μx + νx*`` for amplitude/phase imbalance."""
    g = 10.0 ** (np.asarray(gain_db) / 20)
    phi = np.deg2rad(phase_deg)
    return (1 + g * np.exp(-1j * phi)) / 2, (1 - g * np.exp(1j * phi)) / 2


def apply_front_end(x: np.ndarray, d: ImpairmentDraws) -> np.ndarray:
    """I/Q imbalance, then DC offset (relative to the frame's RMS): (n, L) complex64."""
    if d.iq_gain_db is not None:
        mu, nu = iq_coefficients(d.iq_gain_db, d.iq_phase_deg)
        x = (mu[:, None] * x + nu[:, None] * np.conj(x)).astype(np.complex64)
    if d.dc is not None:
        rms = np.sqrt(np.mean(np.abs(x) ** 2, axis=1))
        x = (x + (d.dc * rms)[:, None]).astype(np.complex64)
    return x


def image_rejection_db(gain_db: float, phase_deg: float) -> float:
    """``10·log10(|μ|²/|ν|²)`` of an imbalance (∞ when there is none)."""
    mu, nu = iq_coefficients(np.array(gain_db), np.array(phase_deg))
    return math.inf if abs(nu) == 0 else float(10 * np.log10(abs(mu) ** 2 / abs(nu) ** 2))
