"""The synthetic analog source and WAV recordings as the analog source."""

import numpy as np
import pytest
from scipy.io import wavfile

from amrkit.errors import AmrkitError
from amrkit.signals.audio import clip_segments, load_wav, synthetic_audio

FS = 200e3


@pytest.fixture(scope="module")
def audio():
    return synthetic_audio(256, 4096, FS, np.random.default_rng(7))


def test_audio_like_levels(audio):
    assert audio.shape == (256, 4096) and audio.dtype == np.float32
    assert np.max(np.abs(audio)) <= 1.0
    peak = np.max(np.abs(audio), axis=1)
    rms = np.sqrt(np.mean(audio**2, axis=1))
    assert np.quantile(peak, 0.9) > 0.5  # peaks near full scale
    assert np.all(rms < 0.4) and np.median(rms) < 0.25  # mean well below it
    assert np.all(rms > 0.005)  # never silent
    assert np.all(np.abs(np.mean(audio, axis=1)) < 0.3 * rms + 0.01)  # no DC


def test_audio_is_band_limited_speech_like(audio):
    spec = np.mean(np.abs(np.fft.rfft(audio * np.hanning(4096), axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(4096, 1 / FS)
    total = spec.sum()
    assert spec[f > 17e3].sum() / total < 1e-3  # band-limited to ~15 kHz
    assert spec[f < 4e3].sum() / total > 0.5  # most power at low audio frequencies
    assert spec[(f > 2e3) & (f < 15e3)].sum() / total > 0.02  # but not only a tone


def test_not_a_single_tone(audio):
    """Each frame spreads its power over many spectral lines (not one tone)."""
    spec = np.abs(np.fft.rfft(audio * np.hanning(4096), axis=1)) ** 2
    top = np.sort(spec, axis=1)[:, ::-1]
    share = top[:, :8].sum(axis=1) / spec.sum(axis=1)  # a pure tone: ≈ 1
    assert np.median(share) < 0.8


def test_new_realization_per_frame(audio):
    c = np.corrcoef(audio[:32])
    off = c[~np.eye(32, dtype=bool)]
    # independent low-pass frames correlate only by chance over a few audio cycles
    assert np.mean(np.abs(off)) < 0.15 and np.max(np.abs(off)) < 0.8


def test_same_rng_same_audio():
    a = synthetic_audio(4, 1000, FS, np.random.default_rng(3))
    b = synthetic_audio(4, 1000, FS, np.random.default_rng(3))
    assert np.array_equal(a, b)


def _write(path, rate, data):
    wavfile.write(path, rate, data)
    return path


def test_load_wav_resamples_mixes_and_segments(tmp_path):
    rate = 44100
    t = np.arange(rate) / rate  # 1 s
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.5 * np.sin(2 * np.pi * 440 * t)
    pcm = (np.stack([left, right], axis=1) * 32767).astype(np.int16)
    clip = load_wav(_write(tmp_path / "a.wav", rate, pcm), FS, 2048)
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert len(clip.samples) == pytest.approx(FS, rel=0.03)  # 1 s at 200 kHz
    assert np.max(np.abs(clip.samples)) == pytest.approx(0.5, abs=0.02)
    assert len(clip.sha256) == 64
    seg = clip_segments(clip, 16, 1024, np.random.default_rng(0))
    assert seg.shape == (16, 1024)
    # the 440 Hz tone survives resampling: 8 periods in 1024 samples at 200 kHz → 2.25 cycles
    spec = np.abs(np.fft.rfft(clip.samples[:200000]))
    assert np.argmax(spec) * FS / 200000 == pytest.approx(440, abs=2)
    starts = {int(np.argmin(np.abs(clip.samples - s[0]))) for s in seg}
    assert len(starts) > 1  # random segments, not one


def test_load_wav_drops_silence(tmp_path):
    rate = 48000
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)).astype(np.float32)
    data = np.concatenate([np.zeros(rate, np.float32), tone])  # 1 s silence + 1 s tone
    clip = load_wav(_write(tmp_path / "s.wav", rate, data), FS, 2048)
    assert len(clip.samples) < 1.2 * FS  # the silent second is gone
    seg = clip_segments(clip, 64, 1024, np.random.default_rng(1))
    assert np.all(np.sqrt(np.mean(seg**2, axis=1)) > 0.1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_bytes(b"not a wav at all" * 10), "not a readable WAV"),
        (lambda p: _write(p, 2_400_000, np.zeros((1000, 2), np.int16) + 5), "not an audio rate"),
        (lambda p: _write(p, 44100, np.zeros(44100, np.int16)), "no sound"),
        (lambda p: _write(p, 44100, (np.ones(100) * 1000).astype(np.int16)), "too short"),
        (lambda p: _write(p, 44100, np.full(44100, np.nan, np.float32)), "NaN"),
    ],
)
def test_bad_wav_is_one_line_error(tmp_path, make, match):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AmrkitError, match=match) as exc:
        load_wav(p, FS, 2048)
    assert "\n" not in str(exc.value)


def test_missing_wav(tmp_path):
    with pytest.raises(AmrkitError, match="does not exist"):
        load_wav(tmp_path / "nope.wav", FS, 2048)
