"""What the synthesized frames must show: constellations, cumulants, SNR, channel draws."""

import numpy as np
import pytest
from scipy import stats

from amrkit.data.synth import SynthConfig, synthesize_arrays
from amrkit.signals import CLASSES, LINEAR
from amrkit.signals.digital import CONSTELLATIONS
from amrkit.signals.pulses import rrc_taps

INF = float("inf")
THEORY = {  # normalized |C40|, C42
    "BPSK": (2.0, -2.0),
    "QPSK": (1.0, -1.0),
    "8PSK": (0.0, -1.0),
    "16QAM": (0.68, -0.68),
    "64QAM": (0.619, -0.619),
    "PAM4": (1.36, -1.36),
}


@pytest.fixture(scope="module")
def clean():
    cfg = SynthConfig(classes=LINEAR, frames_per_class=24, channel="none", snrs=(INF,), seed=3)
    return synthesize_arrays(cfg)


def _symbols(out, cls_index, sps=8):
    """Matched-filter each frame and sample at its symbol instants (from channel/offset)."""
    h = rrc_taps(0.35, 4, sps)
    delay = len(h) - 1  # transmit + receive filter delay, samples
    got = []
    for i in np.flatnonzero(out["label"] == cls_index):
        frame = out["iq"][i, 0] + 1j * out["iq"][i, 1]
        start = 50 + int(out["channel"]["offset"][i])  # frame sample 0 = stream sample start
        mf = np.convolve(frame, h)  # mf[u] ↔ stream sample start + u
        u = np.arange((delay - start) % sps, len(frame), sps)
        got.append(mf[u[u >= delay]])  # only fully overlapped outputs
    s = np.concatenate(got)
    return s / np.sqrt(np.mean(np.abs(s) ** 2))


@pytest.mark.parametrize("name", LINEAR)
def test_matched_filter_recovers_constellation(clean, name, cumulants):
    s = _symbols(clean, LINEAR.index(name))
    pts = CONSTELLATIONS[name]
    dist = np.abs(s[:, None] - pts[None, :])
    nearest = dist.argmin(axis=1)
    evm_db = 10 * np.log10(np.mean(dist.min(axis=1) ** 2))
    assert evm_db < -20  # the span-4 RRC leaves ≈ −23 dB of ISI, nothing more
    counts = np.bincount(nearest, minlength=len(pts))
    assert counts.min() > 0  # every point used ...
    assert stats.chisquare(counts).pvalue > 1e-3  # ... uniformly (i.i.d. uniform symbols)
    c40, c42 = cumulants(s)
    assert abs(c40) == pytest.approx(THEORY[name][0], abs=0.06)
    assert c42 == pytest.approx(THEORY[name][1], abs=0.06)


def test_wrong_timing_does_not_recover_constellation(clean):
    """Control: sampling half a symbol off breaks the QPSK constellation (the test can fail)."""
    out = {**clean, "channel": {"offset": (clean["channel"]["offset"] + 4) % 9}}
    s = _symbols(out, LINEAR.index("QPSK"))
    dist = np.abs(s[:, None] - CONSTELLATIONS["QPSK"][None, :]).min(axis=1)
    assert 10 * np.log10(np.mean(dist**2)) > -12


@pytest.mark.parametrize("name", ["GFSK", "CPFSK", "B-FM"])
def test_constant_envelope_before_channel(name):
    out = synthesize_arrays(
        SynthConfig(classes=(name,), frames_per_class=8, channel="none", snrs=(INF,))
    )
    amp = np.hypot(out["iq"][:, 0], out["iq"][:, 1])
    np.testing.assert_allclose(amp, 1.0, atol=1e-4)  # unit power and constant envelope


def _paired(channel, convention, snr, classes=CLASSES, fpc=12, seed=5):
    base = dict(
        classes=classes, frames_per_class=fpc, channel=channel, snr_convention=convention, seed=seed
    )
    noisy = synthesize_arrays(SynthConfig(snrs=(snr,), **base))
    clean = synthesize_arrays(SynthConfig(snrs=(INF,), **base))
    return noisy, clean


@pytest.mark.parametrize("channel", ["awgn", "full"])
def test_measured_snr_matches_request(channel, snr_estimate):
    """Same seed at SNR inf gives the clean frames; the noise is 10 dB below each class."""
    noisy, clean = _paired(channel, "measured", 10.0)
    for c, name in enumerate(CLASSES):
        sel = noisy["label"] == c
        est = snr_estimate(noisy["iq"][sel], clean["iq"][sel])
        assert est == pytest.approx(10.0, abs=0.3), name


def test_matlab_convention_costs_rrc_classes_9db(snr_estimate):
    noisy, clean = _paired("awgn", "matlab", 20.0, classes=("QPSK", "16QAM", "GFSK", "CPFSK"))
    est = {}
    for c, name in enumerate(("QPSK", "16QAM", "GFSK", "CPFSK")):
        sel = noisy["label"] == c
        est[name] = snr_estimate(noisy["iq"][sel], clean["iq"][sel])
    for name in ("QPSK", "16QAM"):  # RRC-shaped: power 1/8 → 20 − 9.03 dB
        assert est[name] == pytest.approx(20 - 10 * np.log10(8), abs=0.4)
    for name in ("GFSK", "CPFSK"):  # unit-power constant envelope: as nominal
        assert est[name] == pytest.approx(20.0, abs=0.3)


def test_channel_draws_are_stored_and_in_range():
    out = synthesize_arrays(SynthConfig(classes=("BPSK", "B-FM"), frames_per_class=300, seed=2))
    ch = out["channel"]
    assert set(ch) == {"offset", "ppm", "freq_offset_hz", "path_gain"}
    assert ch["offset"].min() == 0 and ch["offset"].max() == 8  # 0…sps inclusive
    assert np.abs(ch["ppm"]).max() <= 5
    digital = out["label"] == 0
    np.testing.assert_allclose(
        ch["freq_offset_hz"][digital], -ch["ppm"][digital] * 902.0, rtol=1e-5
    )
    np.testing.assert_allclose(
        ch["freq_offset_hz"][~digital], -ch["ppm"][~digital] * 100.0, rtol=1e-5
    )
    g = ch["path_gain"][..., 0] + 1j * ch["path_gain"][..., 1]  # (n, 3)
    power = np.mean(np.abs(g) ** 2, axis=0)
    np.testing.assert_allclose(power / power.sum(), [0.5696, 0.3594, 0.0570], atol=0.06)


def test_frames_have_unit_power_in_every_mode():
    for channel, snrs in (("none", (INF,)), ("awgn", (-5.0, 30.0)), ("full", (0.0,))):
        out = synthesize_arrays(
            SynthConfig(frames_per_class=4, channel=channel, snrs=snrs, frame_length=256)
        )
        p = np.mean(out["iq"][:, 0] ** 2 + out["iq"][:, 1] ** 2, axis=1)
        np.testing.assert_allclose(p, 1.0, rtol=1e-5)
        assert out["iq"].shape == (44, 2, 256) and out["iq"].dtype == np.float32
