"""``quantization.json``: what was quantized, how, and what it costs and runs as.

The equivalent of MATLAB's ``quantizationDetails`` plus its calibration table: the layers
quantized, the stored type and shape of every learnable (the paper's Table II), the
calibrated dynamic ranges and chosen scales / zero points per layer (its Fig. 4), parameter
memory, FP32 vs INT8 accuracy and the operators ONNX Runtime actually executes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx

from amrkit.errors import AmrkitError
from amrkit.export.graph import INTEGER_MAC_OPS, executed_nodes, integer_kernels, layer_kernels
from amrkit.models.deploy import DeployCNN
from amrkit.quant.qdq import describe_layers

MB = 2**20
FORMAT = "amrkit-quantization"
FORMAT_VERSION = 1


def float_ranges(deploy: DeployCNN) -> dict[str, dict[str, list[float]]]:
    """Min/max of the (BN-folded) float weights and biases of every layer."""
    out = {}
    mods = {f"conv{i + 1}": deploy.conv(i) for i in range(deploy.num_convs)}
    mods["fc"] = deploy.fc
    for name, mod in mods.items():
        w = mod.weight.detach().cpu().numpy()
        b = mod.bias.detach().cpu().numpy()
        out[name] = {
            "weight": [float(w.min()), float(w.max())],
            "bias": [float(b.min()), float(b.max())],
        }
    return out


def layer_io(fp32: onnx.ModelProto) -> dict[str, dict[str, str]]:
    """Per layer, the FP32 graph's tensors: input, pre-activation and (post-ReLU) output."""
    g = fp32.graph
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in g.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    io = {}
    for node in g.node:
        if node.op_type in ("Conv", "Gemm"):
            out = node.output[0]
            relu = [n for n in users.get(out, []) if n.op_type == "Relu"]
            io[node.name] = {
                "input": node.input[0],
                "preactivation": out,
                "output": relu[0].output[0] if relu else out,
            }
    return io


def packed_size(count: int, bits: int) -> int:
    """Bytes of ``count`` integers of ``bits`` bits packed back to back (whole bytes)."""
    return -(-count * bits // 8)


def learnables(
    layers: dict[str, dict[str, Any]], weight_bits: int | Mapping[str, int]
) -> list[dict[str, Any]]:
    """The paper's Table II: every learnable's stored type, shape and bytes.

    ``weight_bits``: one width for every layer, or per layer (mixed precision); ``bits`` and
    ``packed_bytes`` of an int8 weight are its nominal width and its bytes packed at it."""
    rows = []
    for layer, info in layers.items():
        wbits = weight_bits if isinstance(weight_bits, int) else weight_bits.get(layer, 8)
        for kind in ("weight", "bias"):
            item = info.get(kind)
            if not item:
                continue
            count = int(np.prod(item["shape"])) if item.get("shape") else 0
            stored = item["stored_type"]
            bits = {"int8": wbits, "uint8": wbits, "int32": 32}.get(stored, 32)
            nbytes = count * {"int8": 1, "uint8": 1, "int32": 4}.get(stored, 4)
            rows.append(
                {
                    "layer": layer,
                    "learnable": kind,
                    "stored_name": item["stored_name"],
                    "stored_type": stored,
                    "shape": item["shape"],
                    "count": count,
                    "bits": bits,
                    "bytes": nbytes,
                    "packed_bytes": packed_size(count, bits),
                }
            )
    return rows


def parameter_memory(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bytes / 2^20 in the paper's convention: 1 B per int8 weight, 4 B per int32 bias,
    4 B per float; ``packed`` counts each layer's weights at its own nominal bit width
    (QAT below 8 bits, mixed precision), ``ceil(count·bits/8)`` bytes per tensor."""
    stored = sum(r["bytes"] for r in rows)
    packed = sum(r["packed_bytes"] for r in rows)
    fp32 = sum(r["count"] * 4 for r in rows)
    return {
        "num_weights": sum(r["count"] for r in rows if r["learnable"] == "weight"),
        "num_biases": sum(r["count"] for r in rows if r["learnable"] == "bias"),
        "bytes": int(stored),
        "packed_bytes": int(packed),
        "parameter_memory_mb": stored / MB,
        "parameter_memory_mb_packed": packed / MB,
        "fp32_parameter_memory_mb": fp32 / MB,
    }


def runtime_check(int8_path: str, quantized: list[str], excluded: list[str]) -> dict[str, Any]:
    """What ONNX Runtime executes (ORT_ENABLE_ALL, the default level) and whether every
    quantized layer runs as an integer kernel and every excluded one as float."""
    import onnxruntime as ort

    nodes = executed_nodes(int8_path, "all")
    ops: dict[str, int] = {}
    for _, op in nodes:
        ops[op] = ops.get(op, 0) + 1
    kernels = layer_kernels(nodes)
    problems = [
        f"{layer} runs as {kernels.get(layer, 'nothing')}"
        for layer in quantized
        if kernels.get(layer) not in INTEGER_MAC_OPS
    ]
    problems += [
        f"excluded {layer} runs as {kernels.get(layer)}"
        for layer in excluded
        if kernels.get(layer) in INTEGER_MAC_OPS
    ]
    return {
        "onnxruntime_version": ort.__version__,
        "optimization_level": "ORT_ENABLE_ALL",
        "executed_op_types": dict(sorted(ops.items())),
        "integer_kernels": integer_kernels(ops),
        "layer_kernels": kernels,
        "runs_integer_kernels": bool(integer_kernels(ops)) and not problems,
        "problems": problems,
    }


def require_integer(runtime: dict[str, Any]) -> None:
    if not runtime["integer_kernels"]:
        raise AmrkitError(
            "the INT8 model runs without integer kernels in ONNX Runtime (executed: "
            f"{', '.join(runtime['executed_op_types'])}); it would run as float, not written"
        )
    if runtime["problems"]:
        raise AmrkitError(
            "ONNX Runtime does not run the layers as requested: "
            + "; ".join(runtime["problems"])
            + "; the INT8 model was not written"
        )


def layer_table(
    int8: onnx.ModelProto,
    fp32: onnx.ModelProto,
    deploy: DeployCNN,
    ranges: dict[str, tuple[float, float]],
    kernels: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Per layer: quantization parameters (from the INT8 graph), float and calibrated ranges."""
    layers = describe_layers(int8)
    io = layer_io(fp32)
    fr = float_ranges(deploy)
    for name, info in layers.items():
        info["executed_as"] = kernels.get(name)
        for kind in ("weight", "bias"):
            if kind in info and name in fr:
                info[kind]["float_min"], info[kind]["float_max"] = fr[name][kind]
        tensors = io.get(name, {})
        for role in ("input", "output"):
            t = tensors.get(role)
            info[role]["tensor"] = t
            if t in ranges:
                info[role]["calibrated_min"], info[role]["calibrated_max"] = ranges[t]
        pre = tensors.get("preactivation")
        if pre in ranges and pre != tensors.get("output"):
            info["preactivation"] = {
                "tensor": pre,
                "calibrated_min": ranges[pre][0],
                "calibrated_max": ranges[pre][1],
            }
    return layers
