"""Receiver impairments drawn per frame (the wide preset): each one measured on generated
frames against the same config without it (same seed, so the same clean frames)."""

import json

import numpy as np
import pytest

from amrkit.channel import Impairments
from amrkit.channel.impairments import iq_coefficients
from amrkit.data.synth import (
    SynthConfig,
    config_from_mapping,
    config_to_json,
    preset_config,
    synthesize_arrays,
)
from amrkit.errors import AmrkitError

INF = float("inf")
FS = 200e3


def _pair(classes=("GFSK", "CPFSK"), channel="none", **imp):
    """(impaired, clean) frames of the same config and seed, as complex (n, L)."""
    kw = dict(classes=classes, frames_per_class=16, snrs=(INF,), channel=channel, seed=5)
    dirty = synthesize_arrays(SynthConfig(**kw, impairments=Impairments(**imp)))
    clean = synthesize_arrays(SynthConfig(**kw))
    as_c = lambda out: out["iq"][:, 0].astype(np.complex128) + 1j * out["iq"][:, 1]  # noqa: E731
    return as_c(dirty), as_c(clean), dirty["channel"], clean["channel"]


def _phase_diff(y, x):
    return np.unwrap(np.angle(y * np.conj(x)), axis=1)  # (n, L)


def test_frequency_offset_is_the_recorded_one():
    y, x, cols, _ = _pair(cfo_max=0.01)
    t = np.arange(y.shape[1])
    slope = np.polyfit(t, _phase_diff(y, x).T, 1)[0]  # rad/sample per frame
    np.testing.assert_allclose(slope * FS / (2 * np.pi), cols["cfo_hz"], atol=0.5)
    assert np.max(np.abs(cols["cfo_hz"])) > 0.5 * 0.01 * FS  # the range is used
    _, x2, _, _ = _pair()
    control = np.polyfit(t, _phase_diff(x2, x).T, 1)[0]  # control: no offset, no slope
    assert np.max(np.abs(control)) < 1e-6


def test_phase_noise_has_the_recorded_linewidth():
    y, x, cols, _ = _pair(phase_noise_hz=5e3)
    steps = np.diff(_phase_diff(y, x), axis=1)
    want = 2 * np.pi * cols["phase_noise_hz"] / FS  # Wiener increment variance
    big = cols["phase_noise_hz"] > 500
    assert big.sum() >= 10
    np.testing.assert_allclose(np.var(steps, axis=1)[big], want[big], rtol=0.25)
    assert abs(np.mean(steps)) < 3 * np.sqrt(np.mean(want) / steps.size)  # zero-mean
    y0, _, _, _ = _pair(cfo_max=1e-9)  # control: a (tiny) pure offset has no phase noise
    assert np.max(np.var(np.diff(_phase_diff(y0, x), axis=1), axis=1)) < 1e-9


def test_iq_imbalance_is_the_recorded_one():
    y, x, cols, _ = _pair(classes=("QPSK", "16QAM"), iq_gain_db=2.0, iq_phase_deg=10.0)
    mu, nu = iq_coefficients(cols["iq_gain_db"], cols["iq_phase_deg"])
    for i in range(len(y)):
        a, b = np.linalg.lstsq(np.stack([x[i], np.conj(x[i])], axis=1), y[i], rcond=None)[0]
        assert abs(b / a - nu[i] / mu[i]) < 1e-4
    assert np.min(np.abs(nu / mu)) > 0 and np.max(np.abs(cols["iq_gain_db"])) > 1.0
    # control: without imbalance the image term is absent
    a, b = np.linalg.lstsq(np.stack([x[0], np.conj(x[0])], axis=1), x[0], rcond=None)[0]
    assert abs(b) < 1e-6


def test_dc_offset_is_the_recorded_one():
    y, x, cols, _ = _pair(classes=("QPSK", "B-FM"), dc_offset=0.3)
    dc = cols["dc_offset"][:, 0] + 1j * cols["dc_offset"][:, 1]  # relative to the frame RMS
    for i in range(len(y)):
        a, c = np.linalg.lstsq(np.stack([x[i], np.ones_like(x[i])], axis=1), y[i], rcond=None)[0]
        assert abs(c / a - dc[i]) < 1e-4
    assert np.max(np.abs(dc)) > 0.15
    # control: the same fit finds no offset in the clean frames (B-FM's own mean included)
    for i in range(len(x)):
        ones = np.stack([x[i], np.ones_like(x[i])], axis=1)
        assert abs(np.linalg.lstsq(ones, x[i], rcond=None)[0][1]) < 1e-6


def test_impairments_follow_the_full_channel_without_changing_its_draws():
    y, x, cols, clean_cols = _pair(classes=("QPSK",), channel="full", cfo_max=0.005)
    for k in ("ppm", "path_gain", "offset"):
        assert np.array_equal(cols[k], clean_cols[k])
    slope = np.polyfit(np.arange(y.shape[1]), _phase_diff(y, x).T, 1)[0]
    np.testing.assert_allclose(slope * FS / (2 * np.pi), cols["cfo_hz"], atol=1.0)


def test_wide_preset_draws_everything_and_stays_worker_independent():
    cfg = preset_config("wide", classes=("BPSK", "GFSK", "DSB-AM"), frames_per_class=21)
    assert cfg.snrs[0] == -10.0 and cfg.snrs[-1] == 30.0 and len(cfg.snrs) == 21
    one = synthesize_arrays(cfg, workers=1)
    two = synthesize_arrays(cfg, workers=2)
    assert one["iq"].tobytes() == two["iq"].tobytes()
    cols = one["channel"]
    imp = cfg.impairments
    assert np.all(np.abs(cols["cfo_hz"]) <= imp.cfo_max * FS)
    assert np.all((cols["phase_noise_hz"] >= 0) & (cols["phase_noise_hz"] <= imp.phase_noise_hz))
    assert np.all(np.abs(cols["iq_gain_db"]) <= imp.iq_gain_db)
    assert np.all(np.abs(cols["iq_phase_deg"]) <= imp.iq_phase_deg)
    assert np.all(np.hypot(*cols["dc_offset"].T) <= imp.dc_offset + 1e-6)
    np.testing.assert_allclose(np.mean(one["iq"] ** 2, axis=(1, 2)) * 2, 1.0, rtol=1e-4)
    stored = json.loads(config_to_json(cfg))
    assert stored["impairments"]["cfo_max"] == imp.cfo_max
    assert config_from_mapping(stored) == cfg
    r, mp = cfg.signal_ranges, cfg.multipath
    digital = np.isin(one["label"], (0, 1))
    assert np.all((cols["sps"][digital] >= r.sps_min) & (cols["sps"][digital] <= r.sps_max))
    assert np.all(np.isnan(cols["sps"][~digital]))  # DSB-AM has no symbol rate
    assert np.all(cols["pulse"][one["label"] == 0] >= 0) and np.all(cols["pulse"][~digital] == -1)
    assert np.all(np.isfinite(cols["am_carrier"][one["label"] == 2]))
    assert np.all(cols["delay_spread"] <= mp.delay_spread_max)
    assert cols["taps"].shape == (len(one["label"]), mp.taps, 2)


def test_matlab_preset_has_no_impairments():
    cfg = preset_config("matlab", frames_per_class=2)
    assert not cfg.impairments.enabled
    stored = json.loads(config_to_json(cfg))
    assert not {"impairments", "signal_ranges", "multipath"} & set(stored)  # as before
    cols = synthesize_arrays(cfg)["channel"]
    assert set(cols) == {"offset", "ppm", "freq_offset_hz", "path_gain"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cfo_max": 0.5}, "cfo_max 0.5"),
        ({"dc_offset": -0.1}, "dc_offset -0.1"),
        ({"iq_gain_db": "x"}, "iq_gain_db 'x'"),
    ],
)
def test_bad_impairments_are_one_line_errors(kwargs, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        Impairments(**kwargs)
    assert "\n" not in str(exc.value)
