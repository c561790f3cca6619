"""A tiny portable INT8 file (and its FP32 source) for the runtime tests: random weights,
``8x4p,16x2p,16x2`` with 4 classes at L = 64, quantized as ``amrkit quantize`` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

L = 64
CLASSES = ("a", "b", "c", "d")


def noise(n: int, seed: int) -> np.ndarray:
    """(n, 2, L) float32 complex Gaussian frames at unit average power."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2, L)) / np.sqrt(2)).astype(np.float32)


@pytest.fixture(name="noise", scope="session")
def noise_fixture():
    return noise


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import onnx
    import torch

    from amrkit.export.graph import set_metadata
    from amrkit.export.onnx_export import export_model
    from amrkit.models import build, get_spec
    from amrkit.quant.calibrate import calibrate
    from amrkit.quant.config import PTQConfig
    from amrkit.quant.ptq import ptq_onnx

    folder = tmp_path_factory.mktemp("runtime-models")
    torch.manual_seed(0)
    model = build(get_spec("8x4p,16x2p,16x2", num_classes=len(CLASSES))).eval()
    fp32 = folder / "tiny_fp32.onnx"
    export_model(model, fp32, classes=list(CLASSES), frame_length=L)
    cfg = PTQConfig()
    int8 = folder / "tiny_int8.onnx"
    q = ptq_onnx(fp32, cfg, calibrate(fp32, noise(64, 1), cfg.method))
    set_metadata(q, {"amrkit.precision": "int8"})  # as amrkit quantize marks its files
    onnx.save_model(q, str(int8))
    return {"fp32": fp32, "int8": int8}
