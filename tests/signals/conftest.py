import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def _cumulants(x: np.ndarray) -> tuple[complex, float]:
    """Normalized fourth-order cumulants (C40/C21², C42/C21²) of complex samples."""
    c20 = np.mean(x**2)
    c21 = np.mean(np.abs(x) ** 2)
    c40 = np.mean(x**4) - 3 * c20**2
    c42 = np.mean(np.abs(x) ** 4) - np.abs(c20) ** 2 - 2 * c21**2
    return c40 / c21**2, float(np.real(c42) / c21**2)


def _instantaneous_frequency(x: np.ndarray, fs: float) -> np.ndarray:
    """Hz, along the last axis: angle(x[t+1] x*[t]) fs / 2π."""
    return np.angle(x[..., 1:] * np.conj(x[..., :-1])) * fs / (2 * np.pi)


def _psd(x: np.ndarray, fs: float, nfft: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Averaged two-sided periodogram (Hann), fftshifted: (freqs, power)."""
    x = np.atleast_2d(x)
    segs = x[:, : x.shape[1] // nfft * nfft].reshape(-1, nfft)
    w = np.hanning(nfft)
    p = np.mean(np.abs(np.fft.fft(segs * w, axis=1)) ** 2, axis=0)
    f = np.fft.fftfreq(nfft, 1 / fs)
    return np.fft.fftshift(f), np.fft.fftshift(p)


@pytest.fixture
def cumulants():
    return _cumulants


@pytest.fixture
def inst_freq():
    return _instantaneous_frequency


@pytest.fixture
def psd():
    return _psd
