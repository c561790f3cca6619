"""Fixtures for the deploy tests: a tiny synthetic dataset, both paper networks trained for
one short epoch and quantized (PTQ), generated as C libraries once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FRAMES_PER_CLASS = 100  # 11 classes: 1,100 frames, all of them run through the C code
MODELS = ("original", "optimized")


@pytest.fixture(scope="session")
def deploy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from amrkit.data.synth import SynthConfig, synthesize

    path = tmp_path_factory.mktemp("deploy_data") / "frames.h5"
    synthesize(SynthConfig(frames_per_class=FRAMES_PER_CLASS, seed=3), path)
    return path


@pytest.fixture(scope="session")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """220 frames: enough for one short epoch and a calibration (fast on 2 cores)."""
    from amrkit.data.synth import SynthConfig, synthesize

    path = tmp_path_factory.mktemp("deploy_train") / "train.h5"
    synthesize(SynthConfig(frames_per_class=20, seed=4), path)
    return path


@pytest.fixture(scope="session")
def deploy_iq(deploy_data: Path) -> np.ndarray:
    """(1100, 2, 1024) float32: every frame of the dataset."""
    from amrkit.data.open import open_frames

    with open_frames(deploy_data) as frames:
        return frames.read(frames.indices("all"))


def _int8_model(root: Path, data: Path, model: str) -> Path:
    import torch

    from amrkit.data.open import open_frames
    from amrkit.quant import PTQConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = root / f"run_{model}"
        cfg = TrainConfig(epochs=1, batch_size=64)
        train_model(data, model, run, cfg, device="cpu", progress=False)
        with open_frames(data) as frames:
            quantize(run, PTQConfig(calib_frames=64), frames, root / f"q_{model}")
    finally:
        torch.set_num_threads(threads)
    return root / f"q_{model}" / "model_int8.onnx"


@pytest.fixture(scope="session")
def int8_models(tmp_path_factory: pytest.TempPathFactory, train_data: Path) -> dict[str, Path]:
    """model name → model_int8.onnx (amrkit train 1 epoch + amrkit quantize)."""
    root = tmp_path_factory.mktemp("deploy_models")
    return {m: _int8_model(root, train_data, m) for m in MODELS}


@pytest.fixture(scope="session")
def libraries(int8_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """model name → (IntegerModel, generated library folder)."""
    from amrkit.deploy import write_library
    from amrkit.golden import load_integer_model

    root = tmp_path_factory.mktemp("deploy_libs")
    out = {}
    for name, path in int8_models.items():
        model = load_integer_model(path)
        write_library(model, root / name)
        out[name] = (model, root / name)
    return out


def corrupt_weight(lib: Path, array: str = "amr_conv3_w", delta: int = 37) -> None:
    """Change the first value of a weight array in amr_weights.c (the control)."""
    path = lib / "amr_weights.c"
    text = path.read_text()
    head = text.index(f"{array}[")
    start = text.index("{\n    ", head) + 6
    end = text.index(",", start)
    value = int(text[start:end])
    new = (value + delta + 128) % 256 - 128
    path.write_text(text[:start] + str(new) + text[end:])


@pytest.fixture(scope="session")
def corrupt():
    """The control's tool: ``corrupt(lib_dir)`` changes one weight of a generated library."""
    return corrupt_weight
