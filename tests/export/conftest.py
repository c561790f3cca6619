"""Fixtures for the export tests: a run whose batch norm is far from identity, and data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from amrkit.artifacts import save_run_info, save_weights
from amrkit.data.native import FrameWriter
from amrkit.models import build, get_spec

CLASSES = ("A", "B", "C")
L = 128
SPEC = "8x4p,16x8p,16x2"  # kernel 8 → pads (3, 4), kernel 4 → (1, 2), kernel 2 → (0, 1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The test machine is shared: tiny models run faster without thread contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomize_bn(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BN statistics and affine parameters, so folding them matters."""
    with torch.no_grad():
        for block in model.blocks:
            bn = block.bn
            c = bn.num_features
            bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
            bn.running_var.copy_(torch.rand(c, generator=gen) * 2 + 0.2)
            bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(c, generator=gen) * 0.3)


def make_frames(n: int, length: int, seed: int) -> np.ndarray:
    """Unit-power I/Q frames: random tones plus noise (real-valued signal shapes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    f = rng.uniform(-0.2, 0.2, (n, 1))
    x = np.exp(2j * np.pi * f * t + 1j * rng.uniform(0, 6.3, (n, 1)))
    x = x + 0.3 * (rng.standard_normal((n, length)) + 1j * rng.standard_normal((n, length)))
    x /= np.sqrt(np.mean(np.abs(x) ** 2, axis=1, keepdims=True))
    return np.stack([x.real, x.imag], axis=1).astype(np.float32)


def write_frames(path: Path, n: int, length: int, seed: int = 0) -> Path:
    iq = make_frames(n, length, seed)
    label = np.arange(n) % len(CLASSES)
    split = np.where(np.arange(n) < n // 2, 0, 1).astype(np.uint8)
    with FrameWriter(path, n, length, CLASSES, {"sample_rate_hz": 200000.0}) as w:
        w.write(
            0, iq, label=label.astype(np.int16), snr_db=np.full(n, 10.0, np.float32), split=split
        )
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("export") / "run"
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = build(get_spec(SPEC), num_classes=len(CLASSES)).eval()
    randomize_bn(model, gen)
    run_dir.mkdir()
    save_run_info(run_dir, model.spec, CLASSES, L, 200000.0)
    save_weights(run_dir, model)
    return run_dir


@pytest.fixture(scope="session")
def export_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("export_data") / "frames.h5", 48, L, seed=1)


@pytest.fixture(scope="session")
def short_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames of the wrong length (64) for the bad-input tests."""
    return write_frames(tmp_path_factory.mktemp("short_data") / "short.h5", 12, 64, seed=2)


@pytest.fixture(scope="session")
def helpers():
    """Constants and helpers of this folder (test modules cannot import conftest)."""

    class H:
        classes, length, spec = CLASSES, L, SPEC
        randomize_bn = staticmethod(randomize_bn)
        make_frames = staticmethod(make_frames)

    return H
