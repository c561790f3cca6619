import math

import numpy as np
import pytest

from amrkit.data.synth import SynthConfig, synthesize


@pytest.fixture(scope="session")
def small_file(tmp_path_factory):
    """A small generated dataset: 3 classes × 24 frames at two SNRs, full channel."""
    cfg = SynthConfig(
        classes=("QPSK", "GFSK", "DSB-AM"),
        frames_per_class=24,
        snrs=(0.0, 20.0),
        seed=11,
        block_size=16,
    )
    path = tmp_path_factory.mktemp("synth") / "small.h5"
    summary = synthesize(cfg, path, workers=1)
    return path, cfg, summary


def estimate_snr_db(noisy: np.ndarray, clean: np.ndarray) -> float:
    """SNR of ``noisy`` against the (scaled) ``clean`` frames, pooled: (n, 2, L) inputs."""
    y = noisy[:, 0] + 1j * noisy[:, 1]
    x = clean[:, 0] + 1j * clean[:, 1]
    a = np.sum(np.conj(x) * y, axis=1) / np.sum(np.abs(x) ** 2, axis=1)  # per-frame gain
    err = y - a[:, None] * x
    sig = np.abs(a) ** 2 * np.sum(np.abs(x) ** 2, axis=1)
    return 10 * math.log10(np.sum(sig) / np.sum(np.abs(err) ** 2))


@pytest.fixture
def snr_estimate():
    return estimate_snr_db


def _cumulants(x: np.ndarray) -> tuple[complex, float]:
    """Normalized fourth-order cumulants (C40/C21², C42/C21²) of complex samples."""
    c20 = np.mean(x**2)
    c21 = np.mean(np.abs(x) ** 2)
    c40 = np.mean(x**4) - 3 * c20**2
    c42 = np.mean(np.abs(x) ** 4) - np.abs(c20) ** 2 - 2 * c21**2
    return c40 / c21**2, float(np.real(c42) / c21**2)


@pytest.fixture
def cumulants():
    return _cumulants
