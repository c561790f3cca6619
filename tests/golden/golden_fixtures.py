"""Builders of small INT8 QDQ models for the golden-model tests (imported by path).

A tiny AmrCNN (``8x4p,16x2p,16x2``, 4 classes, L = 64) is trained for a few steps on
synthetic tones so that its predictions are meaningful (BN running stats non-trivial), then:

- exported with the default dynamo exporter (Conv pads, BN folded, ReduceMean, Squeeze,
  Reshape, Gemm) and quantized by ``quantize_static`` (QDQ; per-channel / per-tensor;
  int8 / uint8 activations);
- exported with the legacy TorchScript exporter (explicit Pad nodes, GlobalAveragePool,
  Flatten), with or without BN folding;
- rewritten to 4-bit weights stored as int8 ("fake-quant style"), one layer's weights as a
  float initializer → QuantizeLinear → DequantizeLinear;
- exported from a torch fake-quant module (QAT style: float weights → Q → DQ, float bias,
  unfolded BatchNormalization) with the legacy exporter.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np

L = 64
CLASSES = ("tone1", "tone2", "tone3", "tone4")
FREQS = np.array([0.03, 0.08, 0.14, 0.22])
SPEC = "8x4p,16x2p,16x2"


def synth(n: int, rng: np.random.Generator, snr_db: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, L) unit-power tones in noise, label = tone frequency index."""
    labels = rng.integers(0, len(CLASSES), n)
    t = np.arange(L)
    f = FREQS[labels] * (1 + 0.05 * rng.standard_normal(n))
    phase = rng.uniform(0, 2 * np.pi, n)
    s = np.exp(1j * (2 * np.pi * f[:, None] * t + phase[:, None]))
    noise = (rng.standard_normal((n, L)) + 1j * rng.standard_normal((n, L))) * np.sqrt(0.5)
    x = s + noise * 10 ** (-snr_db / 20)
    x /= np.sqrt(np.mean(np.abs(x) ** 2, axis=1, keepdims=True))
    return np.stack([x.real, x.imag], axis=1).astype(np.float32), labels.astype(np.int64)


@contextlib.contextmanager
def quiet():
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def train_model(seed: int = 0, steps: int = 120):
    import torch

    from amrkit.models import build

    torch.manual_seed(seed)
    model = build(SPEC, num_classes=len(CLASSES))
    iq, labels = synth(1024, np.random.default_rng(seed))
    x, y = torch.from_numpy(iq), torch.from_numpy(labels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def set_metadata(path: Path, classes=CLASSES, frame_length: int = L) -> None:
    import onnx

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props.update(
        {
            "amrkit.classes": json.dumps(list(classes)),
            "amrkit.frame_length": str(frame_length),
            "amrkit.precision": "int8",
        }
    )
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))


def export_dynamo(model, path: Path) -> Path:
    import torch

    with quiet():
        torch.onnx.export(
            model,
            (torch.zeros(2, 2, L),),
            str(path),
            input_names=["iq"],
            output_names=["logits"],
            dynamo=True,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
        )
    return path


def export_legacy(model, path: Path, fold_bn: bool = True) -> Path:
    import torch

    with quiet():
        torch.onnx.export(
            model,
            (torch.zeros(2, 2, L),),
            str(path),
            input_names=["iq"],
            output_names=["logits"],
            dynamo=False,
            dynamic_axes={"iq": {0: "batch"}},
            opset_version=17,
            do_constant_folding=fold_bn,
            training=torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE,
        )
    return path


def quantize(fp32: Path, out: Path, per_channel: bool, act: str, calib: np.ndarray) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"iq": calib[i : i + 32]} for i in range(0, len(calib), 32)])

        def get_next(self):
            return next(self.batches, None)

    with quiet():
        quantize_static(
            str(fp32),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QInt8 if act == "s8" else QuantType.QUInt8,
        )
    set_metadata(out)
    return out


def to_4bit(src: Path, out: Path, bits: int = 4, float_layer: int = 1) -> Path:
    """Weights re-quantized to ``bits``-bit integers stored as int8 (per output channel), the
    int32 biases re-scaled to s_x·s_w; layer ``float_layer`` keeps its weights as a float
    initializer read through QuantizeLinear → DequantizeLinear (the fake-quant pattern)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    qmax = 2 ** (bits - 1) - 1

    def arr(name):
        return numpy_helper.to_array(inits[name])

    def put(name, value):
        inits[name].CopyFrom(numpy_helper.from_array(value, name))

    layer = 0
    for node in list(g.node):
        if node.op_type not in ("Conv", "Gemm"):
            continue
        x_dq, w_dq = producer[node.input[0]], producer[node.input[1]]
        s_x = float(arr(x_dq.input[1]))
        w_name, ws_name = w_dq.input[0], w_dq.input[1]
        w = arr(w_name).astype(np.float64)
        s = arr(ws_name).astype(np.float64)
        real = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        s4 = np.abs(real).reshape(len(real), -1).max(axis=1) / qmax
        s4 = np.where(s4 > 0, s4, 1.0).astype(np.float32)
        w4 = np.clip(np.rint(real / s4.reshape((-1,) + (1,) * (w.ndim - 1))), -qmax - 1, qmax)
        put(ws_name, s4)
        if len(node.input) > 2 and node.input[2]:
            b_dq = producer[node.input[2]]
            b_real = arr(b_dq.input[0]).astype(np.float64) * arr(b_dq.input[1]).astype(np.float64)
            sb = (np.float32(s_x) * s4).astype(np.float32)
            put(b_dq.input[1], sb)
            put(b_dq.input[0], np.rint(b_real / sb).astype(np.int32))
        if layer == float_layer:  # float weights → QuantizeLinear → DequantizeLinear
            fname = w_name + "_float"
            g.initializer.append(
                numpy_helper.from_array(
                    (w4 * s4.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32), fname
                )
            )
            qnode = onnx.helper.make_node(
                "QuantizeLinear",
                [fname, ws_name, w_dq.input[2]],
                [w_name + "_q"],
                axis=0,
                name=w_name + "_fq",
            )
            g.node.insert(list(g.node).index(w_dq), qnode)
            w_dq.input[0] = w_name + "_q"
        else:
            put(w_name, w4.astype(np.int8))
        layer += 1
    onnx.save(model, str(out))
    return out


def calibration_scales(model, calib: np.ndarray) -> dict[str, float]:
    """Per-tensor activation scales for the fake-quant module (max / 255 after ReLU)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(calib)
    out = {"input": float(x.abs().max()) / 127}
    with torch.no_grad():
        for i, b in enumerate(model.blocks):
            x = F.relu(b.bn(b.conv(F.pad(x, b.pad))))
            out[f"act{i}"] = float(x.max()) / 255
            if b.pool is not None:
                x = b.pool(x)
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        out["gap"] = float(x.max()) / 255
        out["logits"] = float(model.fc(x).abs().max()) / 127
    return out


def export_fake_quant(model, path: Path, calib: np.ndarray, bits: int = 4) -> Path:
    """A QAT-style graph: per-channel ``bits``-bit weights via fake_quantize (stored int8),
    per-tensor activation fake-quant, float biases, BatchNormalization left unfolded."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch import nn

    scales = calibration_scales(model, calib)
    qmax = 2 ** (bits - 1) - 1

    class FakeQuant(nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = copy.deepcopy(m)
            self.wscale = []
            for layer in [*(b.conv for b in self.m.blocks), self.m.fc]:
                w = layer.weight.detach()
                s = (w.abs().reshape(len(w), -1).amax(1) / qmax).clamp_min(1e-8)
                shape = (-1,) + (1,) * (w.dim() - 1)
                layer.weight.data = torch.clamp(
                    torch.round(w / s.reshape(shape)), -qmax - 1, qmax
                ) * s.reshape(shape)
                self.wscale.append(s)

        def fqw(self, w, i):
            zp = torch.zeros(len(self.wscale[i]), dtype=torch.int32)
            return torch.fake_quantize_per_channel_affine(w, self.wscale[i], zp, 0, -128, 127)

        def forward(self, x):
            x = torch.fake_quantize_per_tensor_affine(x, scales["input"], 0, -128, 127)
            for i, b in enumerate(self.m.blocks):
                x = F.conv1d(F.pad(x, b.pad), self.fqw(b.conv.weight, i), b.conv.bias)
                x = F.relu(b.bn(x))
                x = torch.fake_quantize_per_tensor_affine(x, scales[f"act{i}"], 0, 0, 255)
                if b.pool is not None:
                    x = b.pool(x)
            x = F.adaptive_avg_pool1d(x, 1).flatten(1)
            x = torch.fake_quantize_per_tensor_affine(x, scales["gap"], 0, 0, 255)
            x = F.linear(x, self.fqw(self.m.fc.weight, len(self.m.blocks)), self.m.fc.bias)
            return torch.fake_quantize_per_tensor_affine(x, scales["logits"], 0, -128, 127)

    return export_legacy(FakeQuant(model).eval(), path, fold_bn=True)


def bn_exact(src: Path, out: Path) -> Path:
    """Every FP32 BatchNormalization of ``src`` gets mean 0 and shift 0 (scale kept): a pure
    per-channel scale, exactly representable in integers."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            size = int(np.prod(inits[node.input[4]].dims))  # the running variance
            for slot in (2, 3):  # shift and mean
                name = f"{node.name}_zero{slot}"
                model.graph.initializer.append(
                    numpy_helper.from_array(np.zeros(size, np.float32), name)
                )
                node.input[slot] = name
    onnx.save(model, str(out))
    return out


def patterns(src: Path, out: Path) -> Path:
    """Graph variants ORT's quantizer does not write but other tools may: an explicit ReLU
    between QDQ pairs (before the first MaxPool), a re-quantization to a 1.7× coarser scale
    and back (around the second MaxPool), and the classifier as MatMul + Add, not Gemm."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    nodes = list(g.node)
    producer = {o: n for n in nodes for o in n.output}
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    pools = 0
    for node in nodes:
        if node.op_type == "MaxPool":
            t = node.input[0]
            dq = producer[t]
            pools += 1
            if pools == 1:
                new_nodes += [
                    helper.make_node("Relu", [t], [t + "_relu"], name="extra_relu"),
                    helper.make_node(
                        "QuantizeLinear",
                        [t + "_relu", dq.input[1], dq.input[2]],
                        [t + "_relu_q"],
                        name="extra_relu_q",
                    ),
                    helper.make_node(
                        "DequantizeLinear",
                        [t + "_relu_q", dq.input[1], dq.input[2]],
                        [t + "_relu_dq"],
                        name="extra_relu_dq",
                    ),
                ]
                node.input[0] = t + "_relu_dq"
            elif pools == 2:
                s2 = numpy_helper.to_array(inits[dq.input[1]]) * np.float32(1.7)
                g.initializer.append(numpy_helper.from_array(s2.astype(np.float32), "coarse_s"))
                new_nodes += [
                    helper.make_node(
                        "QuantizeLinear",
                        [t, "coarse_s", dq.input[2]],
                        [t + "_c"],
                        name="extra_rescale_q",
                    ),
                    helper.make_node(
                        "DequantizeLinear",
                        [t + "_c", "coarse_s", dq.input[2]],
                        [t + "_cdq"],
                        name="extra_rescale_dq",
                    ),
                ]
                node.input[0] = t + "_cdq"
        if node.op_type == "Gemm":
            x, w_out, b_out = node.input
            wdq = producer[w_out]
            w = numpy_helper.to_array(inits[wdq.input[0]])
            g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w.T), "w_t"))
            new_nodes += [
                helper.make_node(
                    "DequantizeLinear",
                    ["w_t", wdq.input[1], wdq.input[2]],
                    ["w_t_dq"],
                    axis=1,
                    name="w_t_dq",
                ),
                helper.make_node("MatMul", [x, "w_t_dq"], ["mm"], name="fc_matmul"),
                helper.make_node("Add", ["mm", b_out], [node.output[0]], name="fc_add"),
            ]
            continue
        new_nodes.append(node)
    del g.node[:]
    g.node.extend(new_nodes)
    onnx.save(model, str(out))
    return out


def float_tail(src: Path, out: Path) -> Path:
    """The first MaxPool reads the conv's float output (its QuantizeLinear comes after the
    pool), and the classifier's float output is the graph output (no final QDQ)."""
    import onnx

    model = onnx.load(str(src))
    g = model.graph
    nodes = list(g.node)
    producer = {o: n for n in nodes for o in n.output}
    drop = set()
    pool = next(n for n in nodes if n.op_type == "MaxPool")
    dq = producer[pool.input[0]]
    q = producer[dq.input[0]]
    pool.input[0] = q.input[0]
    drop |= {id(dq), id(q)}
    gemm = next(n for n in nodes if n.op_type == "Gemm")
    out_q = next(n for n in nodes if n.op_type == "QuantizeLinear" and n.input[0] == gemm.output[0])
    out_dq = next(
        n for n in nodes if n.op_type == "DequantizeLinear" and n.input[0] == out_q.output[0]
    )
    gemm.output[0] = out_dq.output[0]
    drop |= {id(out_q), id(out_dq)}
    kept = [n for n in nodes if id(n) not in drop]
    del g.node[:]
    g.node.extend(kept)
    onnx.save(model, str(out))
    return out


def bn_after_conv(src: Path, out: Path, seed: int = 3) -> Path:
    """An FP32 BatchNormalization between the first Conv (int32 bias) and its QuantizeLinear,
    a pure per-channel scale (shift 0, mean 0), negative for some channels: it folds exactly
    into the multipliers, some of which become negative."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    conv = next(n for n in g.node if n.op_type == "Conv")
    cout = next(
        numpy_helper.to_array(i) for i in g.initializer if i.name.endswith("weight_quantized")
    ).shape[0]
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.5, 1.5, cout) * np.where(np.arange(cout) % 3 == 1, -1, 1)
    params = {
        "bnx_gamma": gamma,
        "bnx_beta": np.zeros(cout),
        "bnx_mean": np.zeros(cout),
        "bnx_var": rng.uniform(0.5, 2.0, cout),
    }
    for name, value in params.items():
        g.initializer.append(numpy_helper.from_array(value.astype(np.float32), name))
    original = conv.output[0]
    conv.output[0] = original + "_raw"
    bn = helper.make_node(
        "BatchNormalization",
        [original + "_raw", *params],
        [original],
        name="extra_bn",
        epsilon=1e-5,
    )
    nodes = list(g.node)
    nodes.insert(nodes.index(conv) + 1, bn)
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(model, str(out))
    return out


@contextlib.contextmanager
def one_thread():
    """Torch on one thread: on a shared 2-core machine its thread pool spins otherwise."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_all(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Every fixture model in ``folder``; returns name → path."""
    with one_thread():
        return _build_all(folder, seed)


def _build_all(folder: Path, seed: int) -> dict[str, Path]:
    model = train_model(seed)
    calib, _ = synth(128, np.random.default_rng(seed + 1))
    paths: dict[str, Path] = {}
    fp32 = export_dynamo(model, folder / "fp32.onnx")
    set_metadata(fp32)
    paths["fp32"] = fp32
    for pc in (True, False):
        for act in ("s8", "u8"):
            name = f"{'pc' if pc else 'pt'}_{act}"
            paths[name] = quantize(fp32, folder / f"{name}.onnx", pc, act, calib)
    legacy = export_legacy(model, folder / "legacy_fp32.onnx")
    paths["legacy_pt_s8"] = quantize(legacy, folder / "legacy_pt_s8.onnx", False, "s8", calib)
    paths["patterns"] = patterns(paths["pc_s8"], folder / "patterns.onnx")
    paths["float_tail"] = float_tail(paths["pc_u8"], folder / "float_tail.onnx")
    paths["bn_acc"] = bn_after_conv(paths["pc_u8"], folder / "bn_acc.onnx")
    paths["fake4"] = to_4bit(paths["pc_u8"], folder / "fake4.onnx")
    set_metadata(paths["fake4"])
    paths["qat4"] = export_fake_quant(model, folder / "qat4.onnx", calib)
    set_metadata(paths["qat4"])
    bn = export_legacy(model, folder / "bn_fp32.onnx", fold_bn=False)
    paths["bn_inexact"] = quantize(bn, folder / "bn_inexact.onnx", True, "u8", calib)
    paths["bn_exact"] = bn_exact(paths["bn_inexact"], folder / "bn_exact.onnx")
    return paths
