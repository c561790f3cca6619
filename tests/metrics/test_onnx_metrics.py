"""The layer table read from ONNX graphs equals the one computed from the spec; INT8 files
are counted by stored type (int8 weight = 1 byte, int32 bias = 4 bytes)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.metrics.onnx_metrics import onnx_network_metrics
from amrkit.metrics.resolve import model_metrics
from amrkit.models import build, get_spec

# the legacy (TorchScript) exporter is used on purpose: it keeps Pad nodes and fixed batches
pytestmark = pytest.mark.filterwarnings(
    "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning",
    "ignore:Constant folding:UserWarning",
    "ignore:The feature will be removed:DeprecationWarning",
    "ignore:.*LeafSpec.*:FutureWarning",
)

TABLE_KEYS = ("name", "type", "weights", "biases", "learnables", "macs", "output_shape")


def spec_of(helpers):
    return get_spec(helpers.spec, num_classes=len(helpers.classes))


def table(m):
    return [tuple(layer[k] for k in TABLE_KEYS) for layer in m["layers"]]


def int8_bytes(ref):
    return sum(layer["weights"] + 4 * layer["biases"] for layer in ref["layers"])


def legacy_export(model, path, length, batch=None, dynamic_length=False):
    """The TorchScript exporter: keeps F.pad as Pad nodes fed by a computed pads tensor."""
    axes = {} if batch else {0: "batch"}
    if dynamic_length:
        axes[2] = "length"
    torch.onnx.export(
        model.eval(),
        (torch.zeros(batch or 2, 2, length),),
        str(path),
        dynamo=False,
        input_names=["iq"],
        dynamic_axes={"iq": axes} if axes else None,
    )
    return path


def run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_fp32_dynamo_export_matches_the_spec(onnx_fp32, helpers):
    m = onnx_network_metrics(onnx_fp32)
    ref = network_metrics(spec_of(helpers), helpers.length)
    assert table(m) == table(ref)
    assert (m["learnables"], m["macs"], m["parameter_bytes"]) == (
        ref["learnables"],
        ref["macs"],
        ref["parameter_bytes"],
    )
    assert m["parameter_memory_mb"] == ref["parameter_memory_mb"]
    assert m["precision"] == "fp32" and m["quantized_layers"] == []
    assert m["frame_length"] == helpers.length and m["source"] == "onnx"
    assert m["bn_learnables"] == 0  # the exporter folds BN into the conv weights
    for got, want in zip(m["layers"], ref["layers"], strict=True):
        if got["type"] == "conv":
            for key in ("filters", "kernel", "in_channels", "padding", "pool"):
                assert got["hyperparameters"][key] == want["hyperparameters"][key], key
    assert m["metadata"]["amrkit.precision"] == "fp32"
    assert m["model"] == spec_of(helpers).name


def test_int8_qdq_counts_stored_types(onnx_int8, helpers):
    m = onnx_network_metrics(onnx_int8)
    ref = network_metrics(spec_of(helpers), helpers.length)
    assert table(m) == table(ref)
    assert m["macs"] == ref["macs"] and m["learnables"] == ref["learnables"]
    assert m["parameter_bytes"] == int8_bytes(ref)
    assert m["parameter_memory_mb"] == int8_bytes(ref) / 2**20
    assert m["precision"] == "int8"
    assert m["quantized_layers"] == [layer["name"] for layer in ref["layers"]]
    for layer in m["layers"]:
        assert (layer["weight_dtype"], layer["bias_dtype"]) == ("int8", "int32")
        assert layer["quantized"] and layer["input_quantized"]
        assert layer["weight_quant_dtype"] == "int8"
    assert m["ops"]["DequantizeLinear"] > 0 and m["ops"]["Conv"] == 3


def test_paper_int8_convention_for_the_optimized_model(tmp_path, helpers):
    """FP32 0.1920 MB → INT8 49,920 weight bytes + 419 int32 biases = 51,596 B = 0.0492 MB."""
    torch.manual_seed(0)
    model = build("optimized").eval()
    fp32 = legacy_export(model, tmp_path / "opt.onnx", 1024)
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((2, 2, 1024)).astype(np.float32) for _ in range(2)]
    int8 = helpers.quantize(fp32, tmp_path / "opt8.onnx", batches)
    m32, m8 = onnx_network_metrics(fp32), onnx_network_metrics(int8)
    assert m32["learnables"] == m8["learnables"] == 50_339
    assert m32["macs"] == m8["macs"] == 2_491_776
    assert m32["parameter_bytes"] == 201_356 and round(m32["parameter_memory_mb"], 4) == 0.1920
    assert m8["weights"] == 49_920 and m8["biases"] == 419
    assert m8["parameter_bytes"] == 49_920 + 4 * 419 == 51_596
    assert round(m8["parameter_memory_mb"], 4) == 0.0492
    assert m8["precision"] == "int8" and len(m8["quantized_layers"]) == 8
    # the spec-side INT8 convention gives the same table as the real quantized graph
    spec8 = network_metrics("optimized", 1024, precision="int8")
    assert table(spec8) == table(m8)
    assert spec8["parameter_bytes"] == m8["parameter_bytes"]
    assert [(x["weight_dtype"], x["bias_dtype"]) for x in spec8["layers"]] == [
        (x["weight_dtype"], x["bias_dtype"]) for x in m8["layers"]
    ]


def test_pad_nodes_static_batch_and_odd_length(tmp_path):
    """Pad → Conv (pads computed by a subgraph), fixed batch 3, L = 99."""
    spec = get_spec("8x8p,6x3p,10x2", num_classes=5)
    path = legacy_export(build(spec), tmp_path / "pad.onnx", 99, batch=3)
    g = onnx.load(str(path)).graph
    assert any(n.op_type == "Pad" for n in g.node)
    m = onnx_network_metrics(path)
    ref = network_metrics(spec, 99)
    assert table(m) == table(ref)
    assert [layer["hyperparameters"]["padding"] for layer in m["layers"][:-1]] == [
        [3, 4],
        [1, 1],
        [0, 1],
    ]
    assert all("pad_node" in layer["hyperparameters"] for layer in m["layers"][:-1])
    assert m["frame_length"] == 99


def test_dynamic_length_uses_the_given_frame_length(tmp_path):
    spec = get_spec("8x8p,6x3", num_classes=3)
    path = legacy_export(build(spec), tmp_path / "dyn.onnx", 64, dynamic_length=True)
    for length in (64, 200):
        m = onnx_network_metrics(path, frame_length=length)
        assert m["macs"] == network_metrics(spec, length)["macs"]
        assert m["frame_length"] == length
    assert onnx_network_metrics(path)["frame_length"] == 1024  # no metadata → 1024


def test_frame_length_conflicting_with_a_fixed_graph_is_an_error(onnx_fp32, helpers):
    with pytest.raises(AmrkitError, match="differs from the ONNX graph's fixed input length"):
        onnx_network_metrics(onnx_fp32, frame_length=helpers.length * 2)
    assert onnx_network_metrics(onnx_fp32, frame_length=helpers.length)["macs"] > 0


def gemm_to_matmul_add(src, dst):
    """Rewrite every Gemm(transB=1) with constant weights into MatMul(x, Wᵀ) + Add(b)."""
    model = onnx.load(str(src))
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for node in g.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w.T), "fc_wT"))
        mid = node.output[0] + "_mm"
        nodes.append(helper.make_node("MatMul", [node.input[0], "fc_wT"], [mid], name="fc_mm"))
        nodes.append(helper.make_node("Add", [mid, node.input[2]], [node.output[0]], name="fc_add"))
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(model, str(dst))
    return dst


def test_matmul_plus_add_fc(onnx_fp32, tmp_path, helpers, calibration):
    mm = gemm_to_matmul_add(onnx_fp32, tmp_path / "mm.onnx")
    x = calibration[0]
    np.testing.assert_allclose(run(mm, x), run(onnx_fp32, x), rtol=1e-5, atol=1e-5)
    ops = {n.op_type for n in onnx.load(str(mm)).graph.node}
    assert "Gemm" not in ops and "MatMul" in ops
    ref = network_metrics(spec_of(helpers), helpers.length)
    m = onnx_network_metrics(mm)
    assert table(m) == table(ref)
    assert m["layers"][-1]["biases"] == len(helpers.classes)
    # and quantized: MatMul weight int8; the Add's bias is quantized as an ordinary input
    mm8 = helpers.quantize(mm, tmp_path / "mm8.onnx", calibration)
    m8 = onnx_network_metrics(mm8)
    assert (m8["learnables"], m8["macs"]) == (ref["learnables"], ref["macs"])
    fc = m8["layers"][-1]
    assert fc["weight_dtype"] == "int8" and fc["quantized"]
    assert fc["biases"] == len(helpers.classes)


def test_qoperator_format(onnx_fp32, tmp_path, helpers, calibration):
    """QLinearConv / QGemm-style integer kernels are measured the same way."""
    q = helpers.quantize(onnx_fp32, tmp_path / "qop.onnx", calibration, fmt="QOperator")
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert "QLinearConv" in ops
    m = onnx_network_metrics(q)
    ref = network_metrics(spec_of(helpers), helpers.length)
    assert table(m) == table(ref)
    convs = [layer for layer in m["layers"] if layer["type"] == "conv"]
    assert all(
        layer["weight_dtype"] == "int8" and layer["bias_dtype"] == "int32" for layer in convs
    )
    assert all(layer["quantized"] for layer in m["layers"])


class FakeQuantCNN(torch.nn.Module):
    """QAT-style graph: per-channel fake-quant weights, per-tensor fake-quant activations."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, x):
        for b in self.m.blocks:
            w = b.conv.weight
            scale = (w.detach().abs().amax(dim=(1, 2)) / 127).clamp_min(1e-8)
            zp = torch.zeros(w.shape[0], dtype=torch.int32)
            wq = torch.fake_quantize_per_channel_affine(w, scale, zp, 0, -128, 127)
            x = F.relu(b.bn(F.conv1d(F.pad(x, b.pad), wq, b.conv.bias)))
            x = torch.fake_quantize_per_tensor_affine(x, 0.05, 0, -128, 127)
            if b.pool is not None:
                x = b.pool(x)
        return self.m.fc(F.adaptive_avg_pool1d(x, 1).flatten(1))


def test_fake_quant_export_is_quantized_but_stores_float(tmp_path):
    spec = get_spec("8x8p,12x4", num_classes=4)
    model = build(spec).eval()
    path = tmp_path / "fq.onnx"
    torch.onnx.export(
        FakeQuantCNN(model).eval(),
        (torch.zeros(2, 2, 64),),
        str(path),
        dynamo=False,
        input_names=["iq"],
        do_constant_folding=False,
    )
    m = onnx_network_metrics(path)
    ref = network_metrics(spec, 64)
    assert table(m) == table(ref)
    assert m["precision"] == "fake-quant"
    assert m["quantized_layers"] == ["conv1", "conv2"]
    assert [layer["weight_dtype"] for layer in m["layers"]] == ["float32"] * 3
    assert [layer["weight_quant_dtype"] for layer in m["layers"]] == ["int8", "int8", None]
    assert m["parameter_bytes"] == ref["parameter_bytes"]  # stored as float32
    assert m["bn_learnables"] == 2 * (8 + 12)  # BN left unfolded next to the fake-quant


def test_model_metrics_dispatches_onnx(onnx_int8, helpers):
    assert model_metrics(str(onnx_int8)) == onnx_network_metrics(onnx_int8)
    with pytest.raises(AmrkitError, match="does not apply"):
        model_metrics(str(onnx_int8), num_classes=3)
    with pytest.raises(AmrkitError, match="stored types are measured"):
        model_metrics(str(onnx_int8), precision="int8")


def test_unreadable_and_layerless_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(AmrkitError, match="not a readable ONNX model"):
        onnx_network_metrics(bad)
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 8])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 8])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(g), str(tmp_path / "relu.onnx"))
    with pytest.raises(AmrkitError, match="no conv or fully connected layer"):
        onnx_network_metrics(tmp_path / "relu.onnx")


def test_cli_metrics_on_int8_onnx(cli, onnx_int8, helpers):
    code, out, err = cli("metrics", onnx_int8, "--json")
    assert code == 0, err
    data = helpers.strict_json(out)
    ref = network_metrics(spec_of(helpers), helpers.length)
    assert data["parameter_bytes"] == int8_bytes(ref)
    assert data["precision"] == "int8"
    code, out, _ = cli("metrics", onnx_int8)
    assert code == 0 and "int8/int32" in out and "quantized to" in out
