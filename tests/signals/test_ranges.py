"""Per-frame modulator ranges (amrkit/signals/ranges.py): every drawn value is checked against
what the generated frame shows, with the reference modulators as the control."""

from __future__ import annotations

import numpy as np
import pytest

from amrkit.errors import AmrkitError
from amrkit.signals import ModulationParams, SignalRanges, modulate, modulate_ranged
from amrkit.signals.ranges import INTERP_HALF, interpolate

FS = 200e3
T = 1084


def _ranged(name, n, ranges, seed=0, sps=8, audio=None):
    rng = np.random.default_rng(seed)
    kw = {"sps": sps, "sample_rate_hz": FS, "params": ModulationParams(), "audio": audio}
    return modulate_ranged(name, n, T, rng, ranges_=ranges, **kw)


def _tone(n, length, rng):  # the same 1 kHz message in every frame: (n, length)
    return np.tile(np.sin(2 * np.pi * 1e3 / FS * np.arange(length)), (n, 1)).astype(np.float32)


def _inst_freq(x):  # cycles per sample, (n, T-1)
    return np.angle(x[:, 1:] * np.conj(x[:, :-1])) / (2 * np.pi)


def test_interpolator_reads_a_band_limited_tone_at_fractional_times():
    f = np.array([0.05, 0.21, -0.33])[:, None]  # cycles per sample, below the 0.5 Nyquist
    x = np.exp(2j * np.pi * f * np.arange(520)).astype(np.complex64)
    pos = INTERP_HALF + 3.37 + np.arange(300) * 1.618  # (300,) fractional positions
    pos = np.broadcast_to(pos, (3, 300))
    got = interpolate(x, pos)
    want = np.exp(2j * np.pi * f * pos)
    assert np.max(np.abs(got - want)) < 2e-3
    # control: rounding the positions to whole samples is far off
    assert np.max(np.abs(interpolate(x, np.round(pos)) - want)) > 0.1


def test_no_ranges_draws_exactly_what_the_reference_modulator_draws():
    for name in ("QPSK", "GFSK", "B-FM"):
        x, cols = _ranged(name, 3, SignalRanges())
        ref = modulate(name, 3, T, np.random.default_rng(0), sps=8, sample_rate_hz=FS)
        assert cols == {}
        np.testing.assert_array_equal(x, ref)


def test_cpfsk_tone_spacing_follows_the_drawn_symbol_rate():
    # CPFSK (h = 0.5) sits at ±h/(2·sps) cycles per sample: the drawn sps is measurable
    x, cols = _ranged("CPFSK", 24, SignalRanges(sps_min=2.5, sps_max=15.0), seed=3)
    sps = cols["sps"]
    assert sps.min() >= 2.5 and sps.max() <= 15.0 and np.ptp(sps) > 5
    assert np.any(np.abs(sps - np.round(sps)) > 0.2)  # fractional rates occur
    measured = 0.25 / np.median(np.abs(_inst_freq(x[:, 100:])), axis=1)
    np.testing.assert_allclose(measured, sps, rtol=0.03)


def test_rect_pulse_frames_are_constant_within_each_symbol_and_rrc_are_not():
    r = SignalRanges(pulses=("rect", "rrc"))
    x, cols = _ranged("BPSK", 16, r, seed=1)
    assert set(np.unique(cols["pulse"])) == {0, 1}
    steps = np.abs(np.diff(x[:, :1080].reshape(16, -1, 8)[:, 20:], axis=2)).max(axis=(1, 2))  # (n,)
    rect = cols["pulse"] == 0
    assert np.all(steps[rect] < 1e-6)
    assert np.all(steps[~rect] > 1e-3)


def test_rolloff_range_is_recorded_and_widens_the_spectrum():
    r = SignalRanges(rolloff_min=0.1, rolloff_max=0.9)
    x, cols = _ranged("QPSK", 40, r, seed=2)
    beta = cols["rolloff"]
    assert beta.min() >= 0.1 and beta.max() <= 0.9
    # power beyond the Nyquist edge 1/(2·sps) = 1/16 grows with the roll-off
    spec = np.abs(np.fft.fft(x, axis=1)) ** 2
    f = np.abs(np.fft.fftfreq(T))
    excess = spec[:, f > 1 / 16].sum(1) / spec.sum(1)
    assert np.corrcoef(beta, excess)[0, 1] > 0.9


def test_timing_jitter_is_drawn_per_frame_and_perturbs_the_samples():
    base = SignalRanges(sps_min=8, sps_max=8)
    jit = SignalRanges(sps_min=8, sps_max=8, timing_jitter=0.2)
    x0, _ = _ranged("CPFSK", 8, base, seed=4)
    x1, cols = _ranged("CPFSK", 8, jit, seed=4)
    assert cols["timing_jitter"].max() <= 0.2 and np.ptp(cols["timing_jitter"]) > 0
    # jitter makes the instantaneous frequency of a CPFSK tone wander off ±1/32
    spread0 = np.std(np.abs(_inst_freq(x0[:, 100:])), axis=1)
    spread1 = np.std(np.abs(_inst_freq(x1[:, 100:])), axis=1)
    assert np.median(spread1) > 3 * np.median(spread0)


def test_fm_deviation_range_scales_the_frequency_swing():
    r = SignalRanges(fm_deviation_min=20e3, fm_deviation_max=90e3)
    x, cols = _ranged("B-FM", 30, r, seed=5, audio=_tone)
    dev = cols["fm_deviation_hz"]
    assert dev.min() >= 20e3 and dev.max() <= 90e3 and np.ptp(dev) > 30e3
    swing = np.max(np.abs(_inst_freq(x[:, 200:])), axis=1) * FS  # same message: ∝ deviation
    np.testing.assert_allclose(swing / dev, np.median(swing / dev), rtol=0.01)


def test_am_carrier_level_shows_as_a_spectral_line_at_the_carrier():
    r = SignalRanges(am_carrier_max=2.0)
    x, cols = _ranged("DSB-AM", 30, r, seed=6, audio=_tone)
    level = cols["am_carrier"]
    t = np.arange(T)
    line = np.abs(np.mean(x * np.exp(-2j * np.pi * 50e3 / FS * t), axis=1))
    # a carrier c·cos(ωt) (message peak 1) adds c/2 to the line, over the message's leakage
    big = level > 0.3  # where the carrier dominates the leakage
    assert np.ptp(line[big] - level[big] / 2) < 0.01 and np.ptp(level) > 1
    # the reference (suppressed carrier) has no line
    ref, _ = _ranged("DSB-AM", 30, SignalRanges(), seed=6, audio=_tone)
    ref_line = np.abs(np.mean(ref * np.exp(-2j * np.pi * 50e3 / FS * t), axis=1))
    assert np.median(ref_line) < 0.2 * np.median(line)


def test_same_seed_same_frames_and_another_seed_differs():
    r = SignalRanges(sps_min=2, sps_max=16, pulses=("rc", "rect"), timing_jitter=0.05)
    a, ca = _ranged("16QAM", 5, r, seed=7)
    b, cb = _ranged("16QAM", 5, r, seed=7)
    c, _ = _ranged("16QAM", 5, r, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca["sps"], cb["sps"])
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sps_min": 1.0, "sps_max": 4.0}, "sps_min 1, sps_max 4 must satisfy 2"),
        ({"sps_min": 9.0, "sps_max": 4.0}, "min ≤ max"),
        ({"rolloff_min": 0.2, "rolloff_max": 1.5}, "rolloff"),
        ({"pulses": ("rrc", "sinc")}, "rrc, rc, rect, halfsine"),
        ({"timing_jitter": 0.9}, "allowed 0..0.5"),
        ({"am_carrier_max": -1.0}, "≥ 0"),
    ],
)
def test_bad_ranges_are_one_line_errors(kwargs, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        SignalRanges(**kwargs)
    assert "\n" not in str(exc.value)
