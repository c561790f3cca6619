"""Fixtures for the trainer tests: a tiny, easy dataset written with FrameWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from amrkit.data.native import FrameWriter
from amrkit.data.split import stratified_split

CLASSES = ("TONE+", "TONE-", "BPSK", "NOISE")


def easy_frames(
    per_class: int, length: int, rng: np.random.Generator, snr_db: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, L) float32 unit-power frames and (N,) labels of four easily told classes."""
    n = np.arange(length)
    frames, labels = [], []
    for label in range(len(CLASSES)):
        for _ in range(per_class):
            phase = rng.uniform(0, 2 * np.pi)
            if label == 0:  # positive-frequency tone
                x = np.exp(1j * (2 * np.pi * 0.06 * n + phase))
            elif label == 1:  # negative-frequency tone
                x = np.exp(1j * (-2 * np.pi * 0.12 * n + phase))
            elif label == 2:  # BPSK, 8 samples per symbol, random phase
                x = np.repeat(rng.choice([-1.0, 1.0], length // 8 + 1), 8)[:length] * np.exp(
                    1j * phase
                )
            else:  # white noise
                x = rng.normal(size=length) + 1j * rng.normal(size=length)
            x = x / np.sqrt(np.mean(np.abs(x) ** 2))
            noise = (rng.normal(size=length) + 1j * rng.normal(size=length)) / np.sqrt(2)
            x = x + noise * 10 ** (-snr_db / 20)
            x = x / np.sqrt(np.mean(np.abs(x) ** 2))
            frames.append(np.stack([x.real, x.imag]).astype(np.float32))
            labels.append(label)
    return np.stack(frames), np.asarray(labels, dtype=np.int64)


def write_easy(
    path: Path,
    per_class: int = 100,
    length: int = 128,
    seed: int = 0,
    split: np.ndarray | None = None,
) -> Path:
    rng = np.random.default_rng(seed)
    iq, label = easy_frames(per_class, length, rng)
    snr = np.full(len(label), 10.0, np.float32)
    if split is None:
        split = stratified_split(label, snr, (0.8, 0.1, 0.1), rng)
    attrs = {"sample_rate_hz": 200e3, "config": {"test": "easy", "seed": seed}}
    with FrameWriter(path, len(label), length, CLASSES, attrs) as w:
        w.write(0, iq, label=label.astype(np.int16), snr_db=snr, split=split)
    return path


@pytest.fixture(scope="session")
def easy_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 frames (4 classes x 100), length 128, split 80/10/10."""
    return write_easy(tmp_path_factory.mktemp("data") / "easy.h5")


@pytest.fixture(autouse=True)
def _keep_threads():
    """Tests may set torch threads (--threads); restore the session's setting afterwards."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def make_easy():
    """``make_easy(path, per_class=100, length=128, seed=0, split=None) -> path``."""
    return write_easy
