"""amrkit.infer: device resolution, compatibility messages, ONNX graphs with a fixed batch,
and the errors of load_predictor."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch

from amrkit.errors import AmrkitError
from amrkit.infer import (
    OnnxPredictor,
    check_compatible,
    load_predictor,
    make_session,
    resolve_device,
)
from amrkit.models import build, get_spec
from amrkit.train.run import save_run_info, save_weights

# the legacy (TorchScript) exporter is used on purpose: it keeps Pad nodes and fixed batches
pytestmark = pytest.mark.filterwarnings(
    "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning",
    "ignore:Constant folding:UserWarning",
    "ignore:The feature will be removed:DeprecationWarning",
    "ignore:.*LeafSpec.*:FutureWarning",
)

CLASSES = ("BPSK", "QPSK", "8PSK")


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(None) == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cuda:x", "gpu"):
        with pytest.raises(AmrkitError, match="not one of cpu, cuda, cuda:N, auto"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(AmrkitError, match="no CUDA device is available; use --device cpu"):
            resolve_device("cuda")


def test_check_compatible_messages():
    pred = SimpleNamespace(classes=CLASSES, frame_length=64)
    check_compatible(pred, CLASSES, 64)
    with pytest.raises(AmrkitError, match="--classes BPSK,QPSK,8PSK$"):
        check_compatible(pred, ("8PSK", "BPSK", "QPSK", "GFSK"), 64)
    with pytest.raises(AmrkitError, match="the data lacks 8PSK"):
        check_compatible(pred, ("BPSK", "QPSK"), 64)
    with pytest.raises(AmrkitError, match="model frame length 64 differs from the data's 1024"):
        check_compatible(pred, CLASSES, 1024)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build(get_spec("6x8p,8x3", num_classes=len(CLASSES))).eval()


def export(model, path, batch):
    torch.onnx.export(
        model, (torch.zeros(batch, 2, 32),), str(path), dynamo=False, input_names=["iq"]
    )
    m = onnx.load(str(path))
    for key, value in {
        "amrkit.classes": json.dumps(list(CLASSES)),
        "amrkit.frame_length": "32",
        "amrkit.sample_rate_hz": "None",
        "amrkit.precision": "fp32",
    }.items():
        e = m.metadata_props.add()
        e.key, e.value = key, value
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize("n", [1, 4, 10, 0])
def test_fixed_batch_graph_runs_in_chunks(model, tmp_path, n):
    """A graph exported with batch 4 still takes any number of frames (zero-padded chunks)."""
    path = export(model, tmp_path / "b4.onnx", batch=4)
    pred = load_predictor(path)
    assert isinstance(pred, OnnxPredictor) and pred.sample_rate_hz is None
    x = np.random.default_rng(n).standard_normal((n, 2, 32)).astype(np.float32)
    got = pred.logits(x)
    assert got.shape == (n, len(CLASSES)) and got.dtype == np.float32
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_run_directory_predictor(model, tmp_path):
    save_run_info(tmp_path, model.spec, CLASSES, 32, 200000.0)
    save_weights(tmp_path, model)
    pred = load_predictor(tmp_path, device="auto", threads=1)
    assert pred.kind == "torch" and pred.classes == CLASSES and pred.frame_length == 32
    x = np.random.default_rng(0).standard_normal((3, 2, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(pred.logits(x), want, rtol=1e-5, atol=1e-6)


def test_load_predictor_errors(model, tmp_path):
    with pytest.raises(AmrkitError, match="neither a run directory nor an existing .onnx"):
        load_predictor(tmp_path / "nothing.onnx")
    with pytest.raises(AmrkitError, match="not a run directory"):
        load_predictor(tmp_path)
    save_run_info(tmp_path, model.spec, CLASSES, 32, None)
    with pytest.raises(AmrkitError, match="has no model.pt"):
        load_predictor(tmp_path)
    with pytest.raises(AmrkitError, match="--threads 0 must be >= 1"):
        load_predictor(tmp_path, threads=0)
    bare = tmp_path / "bare.onnx"
    torch.onnx.export(model, (torch.zeros(1, 2, 32),), str(bare), dynamo=False)
    with pytest.raises(AmrkitError, match="no amrkit metadata"):
        load_predictor(bare)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(AmrkitError, match="not a readable ONNX model"):
        load_predictor(broken)
    with pytest.raises(AmrkitError, match="ONNX Runtime cannot load|not a readable ONNX model"):
        make_session(broken)
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(AmrkitError, match="no CUDAExecutionProvider"):
            make_session(bare, device="cuda")
