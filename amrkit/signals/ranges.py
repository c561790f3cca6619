"""Modulator parameters drawn per frame from ranges (domain randomization of the source).

The reference draws nothing here: one symbol rate (8 samples/symbol), one RRC roll-off, one
FM deviation, suppressed-carrier AM. :class:`SignalRanges` widens each of them; every range
is off by default, and a class whose ranges are all off is made by the reference
modulators of :mod:`amrkit.signals.catalog` with the same draws, so the ``matlab`` preset's
bytes do not change.

Digital classes with a symbol-rate range or timing jitter are modulated at the integer rate
``P = ceil(sps)`` and then sampled at ``p_k = τ0 + k·P/sps + σ·P·ε_k`` input samples
(``τ0 ~ U[0, 1)``, ``ε_k ~ N(0, 1)`` white sampling-time jitter, ``σ`` its rms in symbols)
by a Kaiser-windowed sinc: the signal occupies at most ``(1 + β)/(2P)`` cycles per input
sample, so reading it ``P/sps ∈ [1, 2)`` times faster keeps it below the output Nyquist
rate for every ``sps ≥ 2`` (``β ≤ 1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.signals import analog, digital, pulses

PULSES = ("rrc", "rc", "rect", "halfsine")  # symbol pulses of the linear classes
INTERP_HALF = 8  # taps each side of the fractional-rate interpolator
INTERP_BETA = 6.0  # Kaiser window of the interpolating sinc
SPS_LIMITS = (2.0, 64.0)


@dataclass(frozen=True)
class SignalRanges:
    """Per-frame ranges of the modulators' parameters; all off (0 / empty) in ``matlab``.

    - ``sps_min``, ``sps_max``: samples per symbol, log-uniform, fractional (digital
      classes); 0 = the config's ``samples_per_symbol``.
    - ``rolloff_min``, ``rolloff_max``: roll-off of the RRC/RC pulse, uniform (linear
      classes); 0 = ``modulation.rrc_rolloff``.
    - ``pulses``: symbol pulses of the linear classes, one drawn uniformly per frame from
      :data:`PULSES`; empty = RRC only.
    - ``timing_jitter``: largest rms sampling-time jitter in symbols; per frame
      ``σ ~ U[0, timing_jitter]``, white per sample (digital classes).
    - ``fm_deviation_min``, ``fm_deviation_max``: B-FM peak deviation in Hz, uniform.
    - ``am_carrier_max``: DSB-AM carrier level relative to the message's peak, ``c ~ U[0,
      am_carrier_max]`` (modulation index ``1/c``; 0 = suppressed carrier, the reference).
    """

    sps_min: float = 0.0
    sps_max: float = 0.0
    rolloff_min: float = 0.0
    rolloff_max: float = 0.0
    pulses: tuple[str, ...] = ()
    timing_jitter: float = 0.0
    fm_deviation_min: float = 0.0
    fm_deviation_max: float = 0.0
    am_carrier_max: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "sps_min",
            "sps_max",
            "rolloff_min",
            "rolloff_max",
            "timing_jitter",
            "fm_deviation_min",
            "fm_deviation_max",
            "am_carrier_max",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AmrkitError(f"signal_ranges.{name} {value!r} must be a number")
            if not math.isfinite(value) or value < 0:
                raise AmrkitError(f"signal_ranges.{name} {value!r} must be finite and ≥ 0")
            object.__setattr__(self, name, float(value))
        _check_pair("sps", self.sps_min, self.sps_max, SPS_LIMITS, "--sps-range")
        _check_pair("rolloff", self.rolloff_min, self.rolloff_max, (0.05, 1.0), "--rolloff-range")
        _check_pair("fm_deviation", self.fm_deviation_min, self.fm_deviation_max, (1.0, 1e9), "")
        pulses_ = tuple(self.pulses)
        bad = [p for p in pulses_ if p not in PULSES]
        if bad or len(set(pulses_)) != len(pulses_):
            raise AmrkitError(
                f"signal_ranges.pulses {list(pulses_)} must list distinct names from "
                f"{', '.join(PULSES)} (--pulses)"
            )
        object.__setattr__(self, "pulses", pulses_)
        if self.timing_jitter > 0.5:
            raise AmrkitError(
                f"signal_ranges.timing_jitter {self.timing_jitter:g} symbols is out of range; "
                "allowed 0..0.5 (--timing-jitter)"
            )
        if self.am_carrier_max > 10:
            raise AmrkitError(
                f"signal_ranges.am_carrier_max {self.am_carrier_max:g} is out of range; "
                "allowed 0..10 (--am-carrier)"
            )

    @property
    def sps_ranged(self) -> bool:
        return self.sps_max > 0

    @property
    def resampled(self) -> bool:
        """Digital frames go through the fractional-rate interpolator."""
        return self.sps_ranged or self.timing_jitter > 0

    @property
    def enabled(self) -> bool:
        return self != SignalRanges()


def _check_pair(name: str, lo: float, hi: float, limits: tuple[float, float], flag: str) -> None:
    if lo == 0 and hi == 0:
        return
    if not limits[0] <= lo <= hi <= limits[1]:
        where = f" ({flag} MIN,MAX)" if flag else ""
        raise AmrkitError(
            f"signal_ranges {name}_min {lo:g}, {name}_max {hi:g} must satisfy "
            f"{limits[0]:g} ≤ min ≤ max ≤ {limits[1]:g}{where}"
        )


def range_columns(r: SignalRanges) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per-frame columns of the ranges that are on (NaN / −1 where a class has no such
    parameter): name → (dtype, per-frame shape)."""
    cols: dict[str, tuple[str, tuple[int, ...]]] = {}
    if r.sps_ranged:
        cols["sps"] = ("float32", ())
    if r.rolloff_max > 0:
        cols["rolloff"] = ("float32", ())
    if r.pulses:
        cols["pulse"] = ("int8", ())
    if r.timing_jitter > 0:
        cols["timing_jitter"] = ("float32", ())
    if r.fm_deviation_max > 0:
        cols["fm_deviation_hz"] = ("float32", ())
    if r.am_carrier_max > 0:
        cols["am_carrier"] = ("float32", ())
    return cols


def empty_columns(r: SignalRanges, n: int) -> dict[str, np.ndarray]:
    """The columns of ``n`` frames, NaN (−1 for ``pulse``) until a class fills them."""
    return {
        k: np.full(n, -1 if dt == "int8" else np.nan, dtype=dt)
        for k, (dt, _) in range_columns(r).items()
    }


@lru_cache(maxsize=256)
def symbol_pulse(name: str, rolloff: float, span: int, sps: int) -> np.ndarray:
    """Taps of a linear class's symbol pulse at integer ``sps``: (K,) float64, unit energy."""
    if name == "rrc":
        return pulses.rrc_taps(rolloff, span, sps)
    if name == "rc":
        return pulses.rc_taps(rolloff, span, sps)
    if name == "rect":
        return pulses.rect_taps(sps)
    return pulses.half_sine_taps(sps)


INTERP_PHASES = 1024  # fractional positions tabulated (timing error ≤ 1/2048 sample)


@lru_cache(maxsize=1)
def _interp_table() -> np.ndarray:
    """Interpolator weights per tabulated fraction: (INTERP_PHASES + 1, 2H) float32."""
    frac = np.arange(INTERP_PHASES + 1) / INTERP_PHASES
    d = frac[:, None] - np.arange(-INTERP_HALF + 1, INTERP_HALF + 1)  # distance to each tap
    win = np.i0(INTERP_BETA * np.sqrt(np.clip(1 - (d / INTERP_HALF) ** 2, 0, None)))
    return (np.sinc(d) * win / np.i0(INTERP_BETA)).astype(np.float32)


def interpolate(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``x`` (n, S) complex64 read at fractional positions ``pos`` (n, T) float64 by a
    Kaiser-windowed sinc of ``2·INTERP_HALF`` taps (fractions rounded to 1/INTERP_PHASES);
    positions need ``INTERP_HALF`` samples of margin on both sides. Returns (n, T)
    complex64."""
    base = np.floor(pos).astype(np.int64)  # (n, T)
    phase = np.rint((pos - base) * INTERP_PHASES).astype(np.int64)
    w = _interp_table()[phase]  # (n, T, 2H)
    idx = base[..., None] + np.arange(-INTERP_HALF + 1, INTERP_HALF + 1)  # (n, T, 2H)
    taps = np.take_along_axis(x, idx.reshape(len(x), -1), axis=1).reshape(idx.shape)
    return np.einsum("ntk,ntk->nt", taps, w).astype(np.complex64)


# (rng, sps, frame) -> one frame's samples at integer ``sps``: (need,) complex64
FrameSource = Callable[[np.random.Generator, int, int, int], np.ndarray]


@dataclass(frozen=True)
class _Draws:
    """One class's per-frame symbol-timing draws."""

    sps: np.ndarray  # (n,) float64, fractional samples per symbol
    tau0: np.ndarray  # (n,) float64, start position in [0, 1) input samples
    jitter: np.ndarray  # (n,) float64, rms jitter in symbols
    eps: np.ndarray | None  # (n, T) float32 unit normals, None without jitter


def draw_timing(
    r: SignalRanges, base_sps: int, n: int, num_samples: int, rng: np.random.Generator
) -> _Draws:
    """Symbol rate, start phase and jitter of ``n`` frames, in that order (off: no draws)."""
    if r.sps_ranged:
        sps = np.exp(rng.uniform(np.log(r.sps_min), np.log(r.sps_max), n))
    else:
        sps = np.full(n, float(base_sps))
    tau0 = rng.uniform(0, 1, n)
    jitter = np.zeros(n)
    eps = None
    if r.timing_jitter > 0:
        jitter = rng.uniform(0, r.timing_jitter, n)
        eps = rng.standard_normal((n, num_samples), dtype=np.float32)
    return _Draws(sps, tau0, jitter, eps)


def resampled_frames(
    source: FrameSource, t: _Draws, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Each frame made at ``P = ceil(sps)`` by ``source`` and read at the fractional rate
    (module docstring): (n, num_samples) complex64."""
    n = len(t.sps)
    rate = np.ceil(t.sps).astype(np.int64)  # P per frame
    step = rate / t.sps  # input samples per output sample, [1, 2)
    slack = np.ceil(4 * t.jitter * rate).astype(np.int64) + 1  # 4σ of jitter, in samples
    need = np.ceil(num_samples * step).astype(np.int64) + 2 * (INTERP_HALF + slack) + 2
    x = np.zeros((n, int(need.max())), dtype=np.complex64)
    for i in range(n):
        x[i, : need[i]] = source(rng, int(rate[i]), i, int(need[i]))
    k = np.arange(num_samples, dtype=np.float64)
    pos = (INTERP_HALF + slack + t.tau0)[:, None] + k * step[:, None]  # (n, T)
    if t.eps is not None:
        pos += np.clip(t.eps, -4, 4) * (t.jitter * rate)[:, None]
    out = np.empty((n, num_samples), dtype=np.complex64)
    for lo in range(0, n, 64):  # the (rows, T, 2H) weights stay a few MB
        out[lo : lo + 64] = interpolate(x[lo : lo + 64], pos[lo : lo + 64])
    return out


def analog_params(
    r: SignalRanges, name: str, n: int, default_dev: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """B-FM deviation / DSB-AM carrier level per frame (drawn only where ranged)."""
    if name == "B-FM" and r.fm_deviation_max > 0:
        return {"fm_deviation_hz": rng.uniform(r.fm_deviation_min, r.fm_deviation_max, n)}
    if name == "DSB-AM" and r.am_carrier_max > 0:
        return {"am_carrier": rng.uniform(0, r.am_carrier_max, n)}
    return {}


def am_with_carrier(msg: np.ndarray, level: np.ndarray, carrier_hz: float, fs: float) -> np.ndarray:
    """DSB-AM with a carrier ``level`` (n,) times each message's peak: (n, T) complex64."""
    peak = np.max(np.abs(msg), axis=1, keepdims=True)
    return analog.dsb_am(msg + level[:, None].astype(np.float32) * peak, carrier_hz, fs)


def linear_source(
    points: np.ndarray, pulse_names: list[str], rolloff: np.ndarray, span: int
) -> FrameSource:
    """A :data:`FrameSource` of a linear class: frame ``i`` shaped by its own pulse."""

    def make(rng: np.random.Generator, sps: int, i: int, need: int) -> np.ndarray:
        taps = symbol_pulse(pulse_names[i], float(rolloff[i]), span, sps)
        return digital.linear_modulate(points, 1, need, taps, sps, rng)[0]

    return make


def cpm_source(pulse: Callable[[int], np.ndarray], h: float) -> FrameSource:
    """A :data:`FrameSource` of a binary CPM class with frequency pulse ``pulse(sps)``."""

    def make(rng: np.random.Generator, sps: int, i: int, need: int) -> np.ndarray:
        return digital.cpm_modulate(1, need, pulse(sps), h, sps, rng)[0]

    return make
