"""Fixtures for the quantization tests: a tiny synthetic dataset and a briefly trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amrkit.data.native import FrameWriter
from amrkit.models import build, get_spec
from amrkit.train.run import save_run_info, save_weights

CLASSES = ("TONE_A", "TONE_B", "BPSK", "QPSK")
L = 128
SPEC = "8x4p,16x4p,16x2"


def synth_frames(n_per_class: int, length: int, snr_db: float, rng: np.random.Generator):
    """(n, 2, L) unit-power frames of four easy-but-noisy classes, labels, split ids."""
    frames, labels = [], []
    t = np.arange(length)
    for label in range(len(CLASSES)):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            if label < 2:
                f = (0.06 if label == 0 else 0.09) + rng.uniform(-0.005, 0.005)
                x = np.exp(1j * (2 * np.pi * f * t + phase))
            else:
                m = 2 if label == 2 else 4
                sym = np.exp(1j * (2 * np.pi * rng.integers(0, m, length // 8 + 1) / m))
                x = np.repeat(sym, 8)[:length] * np.exp(1j * phase)
            x = x / np.sqrt(np.mean(np.abs(x) ** 2))
            noise = (rng.standard_normal(length) + 1j * rng.standard_normal(length)) / np.sqrt(2)
            x = x + noise * 10 ** (-snr_db / 20)
            x = x / np.sqrt(np.mean(np.abs(x) ** 2))
            frames.append(np.stack([x.real, x.imag]).astype(np.float32))
            labels.append(label)
    iq, label = np.stack(frames), np.asarray(labels, np.int16)
    split = np.zeros(len(label), np.uint8)
    for c in range(len(CLASSES)):  # per class: 60 % train, 40 % val (no test needed here)
        idx = np.flatnonzero(label == c)
        split[idx[int(0.6 * len(idx)) :]] = 1
    return iq, label, split


def write_dataset(
    path: Path, n_per_class: int = 500, length: int = L, snr_db: float = 0.0, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    iq, label, split = synth_frames(n_per_class, length, snr_db, rng)
    attrs = {"sample_rate_hz": 200000.0, "samples_per_symbol": 8, "snr_convention": "standard"}
    with FrameWriter(path, len(iq), length, CLASSES, attrs) as w:
        w.write(0, iq, label=label, snr_db=np.full(len(iq), snr_db, np.float32), split=split)
    return path


def train_run(run_dir: Path, data: Path, spec: str = SPEC, steps: int = 400, seed: int = 0) -> Path:
    """A few hundred Adam steps on the training split; saved as a run directory."""
    from amrkit.data.open import open_frames

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared 2-core machine: tiny models run fastest on one thread

    frames = open_frames(data)
    pos = frames.indices("train")
    x = torch.from_numpy(frames.read(pos))
    y = torch.from_numpy(frames.label[pos])
    torch.manual_seed(seed)
    model = build(get_spec(spec), num_classes=len(CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    run_dir.mkdir(parents=True, exist_ok=True)
    save_run_info(
        run_dir,
        model.spec,
        CLASSES,
        frames.frame_length,
        frames.sample_rate_hz,
        dataset=frames.identity(),
    )
    save_weights(run_dir, model)
    frames.close()
    torch.set_num_threads(threads)
    return run_dir


@pytest.fixture(scope="session")
def quant_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("qdata") / "frames.h5")


@pytest.fixture(scope="session")
def quant_run(tmp_path_factory: pytest.TempPathFactory, quant_data: Path) -> Path:
    return train_run(tmp_path_factory.mktemp("qrun") / "run", quant_data)


@pytest.fixture(scope="session")
def short_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same classes, frame length 64: the wrong length for the runs here."""
    return write_dataset(tmp_path_factory.mktemp("qshort") / "short.h5", n_per_class=10, length=64)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ptq_default(tmp_path_factory: pytest.TempPathFactory, quant_run: Path, quant_data: Path):
    """The default PTQ (per-channel, int8 activations, minmax, 512 frames), with the plot."""
    from amrkit.data.open import open_frames
    from amrkit.quant import PTQConfig, quantize

    out = tmp_path_factory.mktemp("ptq") / "int8"
    with open_frames(quant_data) as frames:
        return quantize(quant_run, PTQConfig(), frames, out, plot=True)


@pytest.fixture(scope="session")
def quant_helpers():
    """This folder's builders (test modules cannot import conftest)."""

    class H:
        write_dataset = staticmethod(write_dataset)
        train_run = staticmethod(train_run)

    return H
