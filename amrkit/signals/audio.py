"""Analog message sources: a synthetic speech/music-like source, or segments of a WAV file.

Both produce ``(n, T)`` float32 audio at the modulator's sample rate, one independent
segment per frame, using only the ``rng`` passed in.

The synthetic source (see docs/data.md, "The analog source") is, per frame:

- coloured Gaussian noise with a power spectrum ∝ f^−tilt between a random low corner
  (80–300 Hz, 2nd-order) and a random high corner (3–15 kHz, log-uniform, 6th-order), the
  broadband, formant-less part of speech and music;
- 1–3 harmonic tones with log-uniform fundamentals (80 Hz–1 kHz), up to 24 harmonics
  decaying as k^−(0.7…1.5) with random phases, band-limited to the same high corner;
- mixed at a random noise/tone power ratio, under a syllable-rate envelope
  (2–8 Hz, depth 10–90 %) and scaled to an RMS of 0.12–0.3 of full scale (peaks near ±1,
  clipped at ±1), as real recordings are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import fft as sfft

from amrkit.errors import AmrkitError
from amrkit.signals.fastmath import cis, complex_normal

F_LOW_HZ = (80.0, 300.0)
F_HIGH_HZ = (3e3, 15e3)
TILT = (1.0, 3.0)
F0_HZ = (80.0, 1000.0)
MAX_TONES = 3
HARMONICS = 24
DECAY = (0.7, 1.5)
SYLLABLE_HZ = (2.0, 8.0)
RMS_LEVEL = (0.12, 0.3)
NOISE_FRACTION = (0.1, 0.9)
_TABLE = 1024  # wavetable points per period of a harmonic tone (a power of 2)
_TONE_ROWS = 64  # frames per wavetable pass (cache-sized)
AUDIO_RATE_HZ = 40e3  # the source is made at fs/d ≥ this, then interpolated to fs
_PAD = 24  # audio-rate samples of tapered margin on each side

AUDIO_RATES_HZ = (1_000, 384_000)  # what a WAV must have to count as audio
MAX_AUDIO_SECONDS = 600.0


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True)) + np.float32(1e-12)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, size: tuple) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size=size))


def audio_decimation(sample_rate_hz: float) -> int:
    """Integer factor d so that the source is made at ``fs/d`` ≥ 40 kHz and interpolated up."""
    return max(1, int(sample_rate_hz // AUDIO_RATE_HZ))


def _band_noise(
    n: int, t_len: int, fs: float, f_hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Coloured Gaussian noise, shaped in the frequency domain: (n, t_len) float32, unit RMS."""
    k = t_len // 2 + 1
    f = np.maximum(np.fft.rfftfreq(t_len, 1.0 / fs), fs / t_len)[None, :].astype(np.float32)
    f_lo = rng.uniform(*F_LOW_HZ, size=(n, 1)).astype(np.float32)
    tilt = rng.uniform(*TILT, size=(n, 1)).astype(np.float32)
    rl = np.square(f / f_lo)
    rh = np.square(np.square(f / f_hi.astype(np.float32)))
    # PSD ∝ f^−tilt · 2nd-order high-pass (f_lo) · 6th-order low-pass (f_hi), as magnitudes
    mag = np.exp(-0.5 * tilt * np.log(f / 1e3)) * rl / np.sqrt(1 + rl * rl) / np.sqrt(1 + rh**3)
    mag[:, 0] = 0.0
    spec = complex_normal(rng, (n, k)) * mag
    noise = sfft.irfft(spec, t_len, axis=1).astype(np.float32)
    return noise / _rms(noise)


def _harmonic_tones(
    n: int, t_len: int, fs: float, f_hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """1–MAX_TONES harmonic tones from one-period wavetables: (n, t_len) float32, unit RMS."""
    m, h, w = MAX_TONES, HARMONICS, _TABLE
    n_tones = rng.integers(1, m + 1, size=(n, 1))
    amp = rng.uniform(0.3, 1.0, size=(n, m)) * (np.arange(m)[None, :] < n_tones)  # (n, M)
    f0 = _log_uniform(rng, *F0_HZ, (n, m))
    decay = rng.uniform(*DECAY, size=(n, m, 1))
    kk = np.arange(1, h + 1, dtype=np.float64)
    h_amp = kk ** (-decay) * rng.uniform(0.5, 1.0, size=(n, m, h))
    h_amp *= kk * f0[..., None] < f_hi[..., None]  # band-limit every harmonic
    h_phase = rng.uniform(0, 2 * np.pi, size=(n, m, h))
    spec = np.zeros((n, m, w // 2 + 1), dtype=np.complex64)
    spec[..., 1 : h + 1] = h_amp * cis(h_phase)
    start = rng.uniform(0, 1, size=(n, m, 1))
    # table position of every sample (nearest point, wrapped by the power-of-2 mask); float32
    # keeps 1e-3 of a table step over a frame. Nearest-point phase error: < −38 dB of the tone.
    step = (f0 / fs * w).astype(np.float32)[..., None]  # table points per sample
    first = (start * w + 0.5).astype(np.float32)  # (n, M, 1)
    tones = _read_tables(spec, amp.astype(np.float32)[..., None], step, first, t_len)  # (n, T)
    return tones / _rms(tones)


def _read_tables(
    spec: np.ndarray, amp: np.ndarray, step: np.ndarray, first: np.ndarray, t_len: int
) -> np.ndarray:
    """Wavetables from ``spec`` (n, M, W/2+1), scaled by ``amp`` (n, M, 1), read at
    ``first + step·t`` and summed over the M tones: (n, t_len) float32.

    In row chunks, so that tables and indices stay in cache (rows are independent: the
    values do not depend on the chunk size).
    """
    n, m, w = spec.shape[0], spec.shape[1], _TABLE
    t = np.arange(t_len, dtype=np.float32)
    tones = np.empty((n, t_len), dtype=np.float32)
    rows = _TONE_ROWS
    offsets = (np.arange(rows * m) * w).reshape(rows, m, 1)  # each table's flat start
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        table = sfft.irfft(spec[lo:hi], w, axis=-1)  # (r, M, W) float32
        table *= np.float32(w / 2)
        table *= amp[lo:hi]
        pos = step[lo:hi] * t
        pos += first[lo:hi]
        idx = pos.astype(np.intp)
        idx &= w - 1
        idx += offsets[: hi - lo]
        np.sum(np.take(table.reshape(-1), idx), axis=1, out=tones[lo:hi])
    return tones


def synthetic_audio(
    n: int, num_samples: int, sample_rate_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """A fresh speech/music-like realization per frame: (n, num_samples) float32 in [−1, 1].

    Made at an audio rate ``fs/d`` (≥ 40 kHz, like a recording) and band-limited
    interpolated to ``fs`` in the frequency domain, with tapered margins on both sides so
    the circular interpolation leaves no edge artefacts in the returned samples.
    """
    fs = float(sample_rate_hz)
    d = audio_decimation(fs)
    fa = fs / d
    pad = _PAD if d > 1 else 0
    ta = sfft.next_fast_len(-(-num_samples // d) + 2 * pad, real=True)
    f_top = min(F_HIGH_HZ[1], 0.45 * fa)
    f_hi = _log_uniform(rng, min(F_HIGH_HZ[0], f_top), f_top, (n, 1))  # (n, 1)

    noise = _band_noise(n, ta, fa, f_hi, rng)
    tones = _harmonic_tones(n, ta, fa, f_hi, rng)
    w = rng.uniform(*NOISE_FRACTION, size=(n, 1)).astype(np.float32)
    mix = np.sqrt(w) * noise + np.sqrt(1 - w) * tones
    mix /= _rms(mix)

    f_syl = rng.uniform(*SYLLABLE_HZ, size=(n, 1))
    depth = rng.uniform(0.1, 0.9, size=(n, 1)).astype(np.float32)
    ph = rng.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(ta) - pad
    env = 1 - depth * 0.5 * (1 + np.sin((2 * np.pi * f_syl / fa * t + ph).astype(np.float32)))
    level = rng.uniform(*RMS_LEVEL, size=(n, 1)).astype(np.float32)
    audio = mix * env * level  # (n, ta) at fa
    if d > 1:
        audio *= _taper(ta, pad)
        spec = sfft.rfft(audio, axis=1)
        spec[:, -1] = 0  # drop the Nyquist bin (empty: audio ≤ 0.45 fa)
        audio = sfft.irfft(spec, ta * d, axis=1)[:, pad * d : pad * d + num_samples] * d
    return np.clip(audio[:, :num_samples], -1.0, 1.0).astype(np.float32)


def _taper(length: int, pad: int) -> np.ndarray:
    """1 in the middle, raised-cosine to 0 over ``pad`` samples at both ends: (length,)."""
    w = np.ones(length, dtype=np.float32)
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(pad) + 0.5) / pad)).astype(np.float32)
    w[:pad] = ramp
    w[length - pad :] = ramp[::-1]
    return w


@dataclass(frozen=True)
class AudioClip:
    """A recording loaded once: mono float32 at the modulator's sample rate."""

    samples: np.ndarray  # (M,) float32
    sample_rate_hz: float
    path: str
    sha256: str


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _to_float(data: np.ndarray, where: str) -> np.ndarray:
    kind = data.dtype.kind
    if kind == "f":
        out = data.astype(np.float32)
    elif kind == "i":
        out = data.astype(np.float32) / np.float32(2.0 ** (8 * data.dtype.itemsize - 1))
    elif kind == "u" and data.dtype.itemsize == 1:
        out = (data.astype(np.float32) - 128) / np.float32(128)
    else:
        raise AmrkitError(
            f"{where} has sample type {data.dtype}, which is not audio PCM; "
            "give an 8/16/24/32-bit PCM or float WAV recording"
        )
    if not np.all(np.isfinite(out)):
        raise AmrkitError(f"{where} contains NaN or infinite samples; give a clean WAV recording")
    return out


def load_wav(
    path: str | Path, sample_rate_hz: float, min_samples: int, chunk: int = 4096
) -> AudioClip:
    """Read a WAV recording, mix to mono, resample to ``sample_rate_hz``, drop silences.

    At most the first ``MAX_AUDIO_SECONDS`` are used. Stretches of ``chunk`` samples whose
    RMS is below 1e-3 of the recording's RMS (digital silence, fades) are removed so that no
    frame is built from silence. Raises :class:`AmrkitError` for anything that is not a
    usable audio recording.
    """
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    p = Path(path)
    where = f"audio file {str(p)!r}"
    if not p.is_file():
        raise AmrkitError(f"{where} does not exist; pass an existing .wav recording to --audio")
    try:
        rate, data = wavfile.read(p, mmap=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same user error
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AmrkitError(
            f"{where} is not a readable WAV audio file ({first}); give a PCM or float .wav"
        ) from None
    if not AUDIO_RATES_HZ[0] <= rate <= AUDIO_RATES_HZ[1]:
        raise AmrkitError(
            f"{where} has sample rate {rate} Hz, not an audio rate "
            f"({AUDIO_RATES_HZ[0]}–{AUDIO_RATES_HZ[1]} Hz); is it an I/Q recording? "
            "give a speech or music WAV"
        )
    if data.ndim == 2 and data.shape[1] > 8:
        raise AmrkitError(
            f"{where} has {data.shape[1]} channels, not audio (at most 8); give a speech/music WAV"
        )
    data = data[: int(MAX_AUDIO_SECONDS * rate)]
    audio = _to_float(np.asarray(data), where)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.size == 0 or not np.any(audio):
        raise AmrkitError(f"{where} holds no sound (empty or silent); give a recording with audio")
    ratio = Fraction(sample_rate_hz).limit_denominator(1000) / rate
    up, down = ratio.numerator, ratio.denominator
    if up != down:
        audio = resample_poly(audio, up, down).astype(np.float32)
    # drop silent stretches
    m = len(audio) // chunk * chunk
    if m >= chunk:
        blocks = audio[:m].reshape(-1, chunk)
        rms = np.sqrt(np.mean(np.square(blocks, dtype=np.float64), axis=1))
        keep = rms >= 1e-3 * np.sqrt(np.mean(np.square(audio, dtype=np.float64)))
        audio = np.concatenate([blocks[keep].reshape(-1), audio[m:]])
    if len(audio) < min_samples:
        raise AmrkitError(
            f"{where} is too short: {len(audio)} usable samples at {sample_rate_hz:g} Hz, "
            f"need at least {min_samples}; give a longer recording"
        )
    return AudioClip(
        np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate_hz), str(p), file_sha256(p)
    )


def clip_segments(
    clip: AudioClip, n: int, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` segments of ``num_samples`` at random starts: (n, num_samples) float32."""
    starts = rng.integers(0, len(clip.samples) - num_samples + 1, size=(n, 1))
    return clip.samples[starts + np.arange(num_samples)]
