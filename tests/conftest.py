"""Fixtures shared by several test packages: a tiny four-class dataset (tones, BPSK, noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amrkit.data.native import FrameWriter
from amrkit.data.split import stratified_split

CLASSES = ("TONE+", "TONE-", "BPSK", "NOISE")


def write_tiny(path: Path, per_class: int = 60, length: int = 128, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n = np.arange(length)
    frames = []
    for label in range(len(CLASSES)):
        for _ in range(per_class):
            rot = np.exp(1j * rng.uniform(0, 2 * np.pi))
            if label == 0:
                x = np.exp(0.4j * n) * rot
            elif label == 1:
                x = np.exp(-0.8j * n) * rot
            elif label == 2:
                x = np.repeat(rng.choice([-1.0, 1.0], length // 8), 8) * rot
            else:
                x = rng.normal(size=length) + 1j * rng.normal(size=length)
            x = x + 0.3 * (rng.normal(size=length) + 1j * rng.normal(size=length))
            x = x / np.sqrt(np.mean(np.abs(x) ** 2))
            frames.append(np.stack([x.real, x.imag]).astype(np.float32))
    label = np.repeat(np.arange(len(CLASSES)), per_class)
    snr = np.full(len(label), 10.0, np.float32)
    split = stratified_split(label, snr, (0.7, 0.15, 0.15), rng)
    with FrameWriter(path, len(label), length, CLASSES, {"sample_rate_hz": 1e5}) as w:
        w.write(0, np.stack(frames), label=label.astype(np.int16), snr_db=snr, split=split)
    return path


@pytest.fixture(autouse=True)
def _no_runtime_preference(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the machine's measured ``--runtime auto`` preference (bench_infer.py
    writes one); tests of the preference point it at their own file."""
    monkeypatch.setenv("AMRKIT_RUNTIME_PREFERENCE", str(tmp_path / "no-preference.json"))


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("tiny-data") / "tiny.h5")
