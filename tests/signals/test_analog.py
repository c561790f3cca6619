"""Analog modulators (B-FM, DSB-AM, SSB-AM) and their synthetic audio source."""

import numpy as np
import pytest
from scipy.signal import freqz

from amrkit.signals import modulate
from amrkit.signals.analog import (
    broadcast_fm,
    dsb_am,
    hilbert_imag,
    preemphasis,
    preemphasis_coefficients,
    ssb_am,
)
from amrkit.signals.audio import synthetic_audio

FS = 200e3
FC = 50e3


def test_bfm_constant_envelope_and_deviation(rng, inst_freq):
    audio = synthetic_audio(16, 4096, FS, rng)
    x = broadcast_fm(audio, 75e3, 75e-6, FS)
    np.testing.assert_allclose(np.abs(x), 1.0, atol=1e-5)
    # the demodulated frequency is 75 kHz × the pre-emphasized audio
    f = inst_freq(x, FS)
    want = 75e3 * preemphasis(audio, 75e-6, FS)[:, 1:]
    ok = np.abs(want) < 0.9 * FS / 2  # beyond fs/2 the discrete phase aliases
    assert np.mean(ok) > 0.995  # the audio's level keeps that rare
    np.testing.assert_allclose(f[ok], want[ok], atol=5.0)  # Hz (float32 phase)
    assert 5e3 < np.sqrt(np.mean(want**2)) < 40e3  # a broadcast-like RMS deviation


def test_bfm_through_modulate_is_constant_envelope(rng):
    x = modulate("B-FM", 8, 1100, rng, sps=8, sample_rate_hz=FS)
    assert x.shape == (8, 1100)
    np.testing.assert_allclose(np.abs(x), 1.0, atol=1e-5)


def test_preemphasis_response():
    """75 µs: +3 dB at 2.12 kHz, unit gain at DC, rising 6 dB/octave in the audio band."""
    b, a = preemphasis_coefficients(75e-6, FS)
    f = np.array([10.0, 1 / (2 * np.pi * 75e-6), 10e3])
    _, h = freqz(b, a, worN=f, fs=FS)
    db = 20 * np.log10(np.abs(h))
    assert db[0] == pytest.approx(0.0, abs=0.01)
    assert db[1] == pytest.approx(3.0, abs=0.3)
    assert db[2] == pytest.approx(20 * np.log10(np.hypot(1, 2 * np.pi * 10e3 * 75e-6)), abs=1.0)
    assert np.all(np.abs(np.roots(a)) < 1)  # stable


def _band_powers(x, fs, lo, hi):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.shape[-1]), axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1 / fs)
    return spec[..., (f >= lo) & (f < hi)].sum(axis=-1)


def test_dsb_spectrum_symmetric_about_carrier(rng, psd):
    audio = synthetic_audio(32, 4096, FS, rng)
    x = dsb_am(audio, FC, FS)
    assert np.all(x.imag == 0)  # real-valued, suppressed carrier
    f, p = psd(x.real, FS, 4096)
    for d in (1e3, 3e3, 8e3):
        up = p[np.argmin(np.abs(f - (FC + d)))]
        down = p[np.argmin(np.abs(f - (FC - d)))]
        assert 10 * np.log10(up / down) == pytest.approx(0.0, abs=1.5)
    lower = _band_powers(x.real, FS, FC - 16e3, FC).sum()
    upper = _band_powers(x.real, FS, FC, FC + 16e3).sum()
    assert 10 * np.log10(upper / lower) == pytest.approx(0.0, abs=0.3)
    # suppressed carrier: no line at fc
    assert p[np.argmin(np.abs(f - FC))] < 0.1 * p.max()


def test_ssb_is_lower_sideband(rng):
    audio = synthetic_audio(32, 4096 + 256, FS, rng)
    x = ssb_am(audio, FC, FS)[:, 128:-128]
    assert np.all(x.imag == 0)
    lower = _band_powers(x.real, FS, FC - 16e3, FC - 100).sum()
    upper = _band_powers(x.real, FS, FC + 100, FC + 16e3).sum()
    assert 10 * np.log10(lower / upper) > 25  # one-sided: the upper sideband is suppressed


def test_ssb_tone_goes_to_difference_frequency():
    t = np.arange(4096 + 256)
    tone = np.cos(2 * np.pi * 3e3 / FS * t)[None, :].astype(np.float32)
    x = ssb_am(tone, FC, FS).real[0, 128:-128]
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / FS)
    assert f[np.argmax(spec)] == pytest.approx(FC - 3e3, abs=FS / len(x))


def test_hilbert_of_cosine_is_sine():
    t = np.arange(2048)
    x = np.cos(2 * np.pi * 8 * t / 2048)
    np.testing.assert_allclose(hilbert_imag(x), np.sin(2 * np.pi * 8 * t / 2048), atol=1e-9)


@pytest.mark.parametrize("name", ["DSB-AM", "SSB-AM"])
def test_am_output_real_and_nonzero(name, rng):
    x = modulate(name, 8, 1100, rng, sps=8, sample_rate_hz=FS)
    assert np.all(x.imag == 0) and np.all(np.mean(np.abs(x) ** 2, axis=1) > 0)
