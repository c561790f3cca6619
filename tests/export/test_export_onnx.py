"""FP32 ONNX export: numerics vs PyTorch, a clean graph for integer hardware, metadata, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from amrkit import __version__
from amrkit.artifacts import load_run
from amrkit.cli import main
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.export.graph import fold_pads
from amrkit.export.onnx_export import export_run, ort_logits, trace_to_onnx
from amrkit.infer import load_predictor
from amrkit.models import build, get_spec
from amrkit.models.cnn import same_padding
from amrkit.models.deploy import DeployCNN

CLASSES = ("A", "B", "C")  # as in conftest.py
L = 128
SPEC = "8x4p,16x8p,16x2"


@pytest.fixture(scope="module")
def exported(run_dir: Path, export_data: Path, tmp_path_factory: pytest.TempPathFactory):
    with open_frames(export_data) as frames:
        check = frames.read(frames.indices("train"))
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    result = export_run(run_dir, out, check_iq=check)
    return result, onnx.load(str(out))


def test_ort_matches_torch_on_real_frames_any_batch(exported, run_dir, export_data):
    result, _ = exported
    run = load_run(run_dir)
    with open_frames(export_data) as frames:
        iq = frames.read(frames.indices("val"))  # frames the export check did not use
    for batch in (iq[:1], iq[:7], iq):  # dynamic batch: 1, 7, 24
        with torch.inference_mode():
            ref = run.model(torch.from_numpy(batch)).numpy()
        got = ort_logits(result.path, batch)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    assert result.max_abs_diff <= 1e-4
    assert result.frames_checked == 24


def test_graph_is_clean_for_integer_hardware(exported):
    _, model = exported
    onnx.checker.check_model(model, full_check=True)
    spec = get_spec(SPEC)
    ops = [n.op_type for n in model.graph.node]
    assert "Pad" not in ops and "BatchNormalization" not in ops
    assert ops == [
        "Conv",
        "Relu",
        "MaxPool",
        "Conv",
        "Relu",
        "MaxPool",
        "Conv",
        "Relu",
        "GlobalAveragePool",
        "Flatten",
        "Gemm",
    ]
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert [n.name for n in convs] == ["conv1", "conv2", "conv3"]
    for node, layer in zip(convs, spec.layers, strict=True):
        pads = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "pads")
        assert list(pads) == list(same_padding(layer.kernel))  # asymmetric 'same' padding
        assert list(node.input[1:]) == [f"{node.name}.weight", f"{node.name}.bias"]
    gemm = model.graph.node[-1]
    assert gemm.name == "fc" and list(gemm.input[1:]) == ["fc.weight", "fc.bias"]
    inits = {i.name for i in model.graph.initializer}
    assert inits == {
        f"{n}.{p}" for n in ("conv1", "conv2", "conv3", "fc") for p in ("weight", "bias")
    }
    (inp,), (out,) = model.graph.input, model.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "iq" and dims[1:] == [2, L] and isinstance(dims[0], str)
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert out.name == "logits" and out_dims[1:] == [len(CLASSES)] and out_dims[0] == dims[0]


def test_metadata_and_predictor(exported):
    result, model = exported
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["amrkit.classes"]) == list(CLASSES)
    assert meta["amrkit.frame_length"] == str(L)
    assert float(meta["amrkit.sample_rate_hz"]) == 200000.0
    assert meta["amrkit.version"] == __version__
    assert meta["amrkit.precision"] == "fp32"
    assert json.loads(meta["amrkit.spec"]) == get_spec(SPEC, len(CLASSES)).to_dict()
    pred = load_predictor(result.path)
    assert pred.kind == "onnx-fp32" and pred.classes == CLASSES and pred.frame_length == L


def test_fold_pads_on_exporter_graph_without_optimizer(helpers):
    """If the exporter leaves Pad nodes, fold_pads moves them into the convs exactly."""
    torch.manual_seed(3)
    model = build(get_spec("4x8p,6x3"), num_classes=3).eval()
    helpers.randomize_bn(model, torch.Generator().manual_seed(3))
    raw = trace_to_onnx(DeployCNN.from_model(model), 64, optimize=False)
    assert sum(n.op_type == "Pad" for n in raw.graph.node) == 2
    iq = helpers.make_frames(5, 64, seed=4)
    before = ort_logits(raw, iq)
    assert fold_pads(raw) == 2
    assert not any(n.op_type == "Pad" for n in raw.graph.node)
    pads = [
        list(helper.get_attribute_value(a))
        for n in raw.graph.node
        if n.op_type == "Conv"
        for a in n.attribute
        if a.name == "pads"
    ]
    assert pads == [[3, 4], [1, 1]]
    np.testing.assert_allclose(ort_logits(raw, iq), before, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    left=st.integers(0, 5),
    right=st.integers(0, 5),
    kernel=st.integers(1, 6),
    conv_left=st.integers(0, 2),
    conv_right=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_fold_pads_property(left, right, kernel, conv_left, conv_right, seed):
    """Pad(l, r) → Conv(pads) computes the same as Conv(pads + (l, r)), for any l, r."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 2, kernel)).astype(np.float32)
    pads = np.array([0, 0, left, 0, 0, right], np.int64)
    graph = helper.make_graph(
        [
            helper.make_node("Pad", ["x", "pads"], ["padded"], mode="constant"),
            helper.make_node("Conv", ["padded", "w"], ["y"], pads=[conv_left, conv_right]),
        ],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(pads, "pads")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    x = rng.standard_normal((2, 2, 16)).astype(np.float32)
    before = ort_logits(model, x)
    assert fold_pads(model) == 1
    (conv,) = model.graph.node
    assert conv.op_type == "Conv"
    np.testing.assert_allclose(ort_logits(model, x), before, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), kernel=st.integers(1, 8))
def test_batchnorm_folding_preserves_the_function(seed, kernel):
    from amrkit.models.cnn import AmrCNN

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build(get_spec(f"5x{kernel}p,7x{kernel}"), num_classes=4).eval()
    with torch.no_grad():
        for block in model.blocks:
            c = block.bn.num_features
            block.bn.running_mean.copy_(torch.randn(c, generator=gen))
            block.bn.running_var.copy_(torch.rand(c, generator=gen) * 3 + 0.05)
            block.bn.weight.copy_(torch.randn(c, generator=gen))
            block.bn.bias.copy_(torch.randn(c, generator=gen))
    assert isinstance(model, AmrCNN)
    x = torch.randn(3, 2, 32, generator=gen)
    deploy = DeployCNN.from_model(model)
    with torch.no_grad():
        torch.testing.assert_close(deploy(x), model(x), atol=1e-5, rtol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in deploy.modules())


def test_export_rejects_check_frames_of_wrong_length(run_dir, tmp_path):
    out = tmp_path / "m.onnx"
    with pytest.raises(AmrkitError, match="expected .*128"):
        export_run(run_dir, out, check_iq=np.zeros((2, 2, 64), np.float32))
    assert not out.exists() and not list(tmp_path.iterdir())


# ---- CLI --------------------------------------------------------------------------------------
def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_export_with_data(run_dir, export_data, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    code, stdout, _ = run_cli(
        ["export", str(run_dir), "--out", str(out), "--data", str(export_data), "--json"],
        capsys,
    )
    assert code == 0
    report = json.loads(stdout)
    assert report["frames_checked"] == 48 and report["check_frames"] == "data"
    assert report["max_abs_diff"] <= 1e-4
    assert report["layers"] == ["conv1", "conv2", "conv3", "fc"]
    assert out.is_file() and onnx.load(str(out)).graph.node[0].name == "conv1"


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda run, short, tmp: [str(tmp), "--out", str(tmp / "m.onnx")], "not a run directory"),
        (
            lambda run, short, tmp: [str(run), "--out", str(tmp / "m.onnx"), "--data", str(short)],
            "frame length 64",
        ),
        (
            lambda run, short, tmp: [
                str(run),
                "--out",
                str(tmp / "m.onnx"),
                "--data",
                str(tmp / "missing.h5"),
            ],
            "does not exist",
        ),
        (lambda run, short, tmp: [str(run), "--out", str(tmp / "m.txt")], "must end in .onnx"),
    ],
)
def test_cli_export_bad_input(make_args, message, run_dir, short_data, tmp_path, capsys):
    code, _, err = run_cli(["export", *make_args(run_dir, short_data, tmp_path)], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*"))
