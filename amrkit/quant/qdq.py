"""QDQ graph passes and the per-layer reading of a quantized model.

Both INT8 paths (ONNX Runtime PTQ and the exported QAT model) end in the same QDQ layout,
the one ``onnxruntime.quantization.quantize_static`` writes. For a quantized conv layer i::

    x_q ─DequantizeLinear(x_scale, x_zp)─────────────┐
    conv<i>.weight_quantized (int8, (cout, cin, k)) ─DequantizeLinear(axis 0)─┤
    conv<i>.bias_quantized (int32, (cout,), scale = x_scale·w_scale, zp 0) ─DequantizeLinear─┤
                                                        Conv "conv<i>" (pads = 'same', asymmetric)
                                  ─QuantizeLinear(relu<i>_scale, zp = qmin: the ReLU is implied)
                                  → DequantizeLinear → [MaxPool → QuantizeLinear → DequantizeLinear]

``fc`` is a Gemm (transB = 1) with the same weight/bias DequantizeLinear inputs and a float
output (the logits are not re-quantized). The first layer's input ``iq`` gets its own
QuantizeLinear/DequantizeLinear; the time average is GlobalAveragePool between Q/DQ pairs,
then Flatten. ONNX Runtime fuses these into QLinearConv, QLinearGlobalAveragePool and QGemm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from amrkit.errors import AmrkitError
from amrkit.export.graph import _consumers, _producers, remove_unused, rename_tensor

QTYPES = {
    onnx.TensorProto.INT8: ("int8", -128, 127),
    onnx.TensorProto.UINT8: ("uint8", 0, 255),
    onnx.TensorProto.INT32: ("int32", -(2**31), 2**31 - 1),
}
# ops a (dequantized) value may pass through unchanged in sign on its way to a layer
_PASS_THROUGH = ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")


def _init_map(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {i.name: i for i in graph.initializer}


def _array(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    init = _init_map(graph).get(name)
    return None if init is None else numpy_helper.to_array(init)


def _add_init(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    existing = _init_map(graph).get(name)
    if existing is not None:
        graph.initializer.remove(existing)
    graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def quantize_array(
    x: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int, dtype: np.dtype
) -> np.ndarray:
    """ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zp)."""
    info = np.iinfo(dtype)
    shape = [1] * x.ndim
    if np.ndim(scale) == 1 and np.size(scale) > 1:
        shape[axis] = -1
    s = np.asarray(scale, np.float32).reshape(shape if np.ndim(scale) else [])
    z = np.asarray(zp).astype(np.int64).reshape(shape if np.ndim(zp) else [])
    q = np.rint(x.astype(np.float32) / s).astype(np.int64) + z
    return np.clip(q, info.min, info.max).astype(dtype)


# ---- passes for the exported QAT graph -------------------------------------------------------
def reshape_to_flatten(model: onnx.ModelProto) -> int:
    """A Reshape from (n, C, 1) to (n, C) (the exporter's ``flatten(1)``) → Flatten(axis=1)."""
    g = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    ranks = {
        vi.name: [
            d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim
        ]
        for vi in [*inferred.value_info, *inferred.input, *inferred.output]
    }
    count = 0
    for node in list(g.node):
        if node.op_type != "Reshape":
            continue
        src, dst = ranks.get(node.input[0]), ranks.get(node.output[0])
        if src and dst and len(src) == 3 and src[2] == 1 and len(dst) == 2 and dst[1] == src[1]:
            index = list(g.node).index(node)
            g.node.remove(node)
            g.node.insert(
                index,
                helper.make_node(
                    "Flatten", [node.input[0]], [node.output[0]], name="flatten", axis=1
                ),
            )
            if node.output[0] not in {o.name for o in g.output}:
                rename_tensor(g, node.output[0], "flatten")
            count += 1
    remove_unused(g)
    return count


def remove_implied_relu(model: onnx.ModelProto) -> int:
    """Drop a ReLU whose only consumer is a QuantizeLinear with zero point = qmin (the clamp
    to qmin already is the ReLU), the way ORT's quantizer writes it. The conv then writes the
    ReLU's output tensor."""
    g = model.graph
    consumers, producers = _consumers(g), _producers(g)
    removed = 0
    for relu in [n for n in g.node if n.op_type == "Relu"]:
        users = consumers.get(relu.output[0], [])
        if len(users) != 1 or users[0].op_type != "QuantizeLinear":
            continue
        zp = _array(g, users[0].input[2]) if len(users[0].input) > 2 else None
        if zp is None or int(np.asarray(zp).reshape(-1)[0]) != np.iinfo(zp.dtype).min:
            continue
        src = producers.get(relu.input[0])
        if src is None or len(consumers.get(relu.input[0], [])) != 1:
            continue
        out = relu.output[0]
        g.node.remove(relu)
        src.output[0] = out
        removed += 1
    return removed


def _layer_of(node: onnx.NodeProto) -> str | None:
    return node.name if node.op_type in ("Conv", "Gemm") else None


def finalize_qdq(model: onnx.ModelProto, per_tensor_weights: bool = False) -> None:
    """Turn the exporter's fake-quant graph into ORT's QDQ layout (see the module doc).

    Float weights behind QuantizeLinear become int8 initializers read by DequantizeLinear;
    float biases of quantized layers become int32 (scale = input scale × weight scale);
    implied ReLUs go; Q/DQ nodes and their parameters get ORT's names.
    ``per_tensor_weights``: the weight scales (exported per channel, all equal) are stored
    as one scalar, as ORT's per-tensor PTQ does.
    """
    g = model.graph
    reshape_to_flatten(model)
    remove_implied_relu(model)
    consumers = _consumers(g)
    inits = _init_map(g)

    for q in [n for n in g.node if n.op_type == "QuantizeLinear"]:
        users = consumers.get(q.output[0], [])
        if not users or any(u.op_type != "DequantizeLinear" for u in users):
            raise AmrkitError(f"QuantizeLinear {q.name!r} is not followed by DequantizeLinear")
        scale = _array(g, q.input[1])
        zp = _array(g, q.input[2])
        if scale is None or zp is None:
            raise AmrkitError(f"QuantizeLinear {q.name!r} has non-constant scale or zero point")
        axis = next((a.i for a in q.attribute if a.name == "axis"), 1)
        if q.input[0] in inits:  # a weight: store it quantized
            dq = users[0]
            layer_users = consumers.get(dq.output[0], [])
            layer = _layer_of(layer_users[0]) if len(layer_users) == 1 else None
            if layer is None:
                raise AmrkitError(f"quantized weight {q.input[0]!r} does not feed a conv/fc layer")
            w = numpy_helper.to_array(inits[q.input[0]])
            qw = quantize_array(w, scale, zp, axis, zp.dtype)
            if per_tensor_weights and scale.ndim:
                if not np.all(scale == scale.reshape(-1)[0]):
                    raise AmrkitError(f"per-tensor weight {q.input[0]!r} has several scales")
                scale, zp = scale.reshape(-1)[0], zp.reshape(-1)[0]
                for attr in [a for a in dq.attribute if a.name == "axis"]:
                    dq.attribute.remove(attr)
            dq.input[0] = _add_init(g, f"{layer}.weight_quantized", qw)
            dq.input[1] = _add_init(g, f"{layer}.weight_scale", scale.astype(np.float32))
            dq.input[2] = _add_init(g, f"{layer}.weight_zero_point", zp)
            dq.name = f"{layer}.weight_DequantizeLinear"
            rename_tensor(g, dq.output[0], f"{layer}.weight_DequantizeLinear_Output")
            g.node.remove(q)
        else:  # an activation
            tensor = q.input[0]
            s_name = _add_init(g, f"{tensor}_scale", scale.astype(np.float32))
            z_name = _add_init(g, f"{tensor}_zero_point", zp)
            q.input[1], q.input[2] = s_name, z_name
            q.name = f"{tensor}_QuantizeLinear"
            rename_tensor(g, q.output[0], f"{tensor}_QuantizeLinear_Output")
            for k, dq in enumerate(users):
                dq.input[1], dq.input[2] = s_name, z_name
                dq.name = f"{tensor}_DequantizeLinear" + (f"_{k}" if k else "")
                rename_tensor(g, dq.output[0], dq.name + "_Output")
        inits = _init_map(g)
        consumers = _consumers(g)

    for node in [n for n in g.node if n.op_type in ("Conv", "Gemm")]:
        quantize_bias(g, node)
    remove_unused(g)


def quantize_bias(g: onnx.GraphProto, node: onnx.NodeProto) -> bool:
    """Float bias of a layer with dequantized input and weight → int32 + DequantizeLinear."""
    if len(node.input) < 3 or not node.input[2]:
        return False
    producers = _producers(g)
    bias = _array(g, node.input[2])
    dq_x, dq_w = producers.get(node.input[0]), producers.get(node.input[1])
    if bias is None or dq_x is None or dq_w is None:
        return False
    if dq_x.op_type != "DequantizeLinear" or dq_w.op_type != "DequantizeLinear":
        return False
    s_x = _array(g, dq_x.input[1])
    s_w = _array(g, dq_w.input[1])
    if s_x is None or s_w is None or np.size(s_x) != 1:
        return False
    layer = node.name
    s_b = (np.float32(s_x.reshape(-1)[0]) * s_w.astype(np.float32)).astype(np.float32)
    q_b = np.rint(bias.astype(np.float64) / s_b.astype(np.float64)).astype(np.int32)
    zp = np.zeros(s_b.shape, dtype=np.int32)
    old = node.input[2]
    out = f"{layer}.bias"
    dq = helper.make_node(
        "DequantizeLinear",
        [
            _add_init(g, f"{layer}.bias_quantized", q_b),
            _add_init(g, f"{layer}.bias_quantized_scale", s_b),
            _add_init(g, f"{layer}.bias_quantized_zero_point", zp),
        ],
        [out + "_dq"],
        name=f"{layer}.bias_DequantizeLinear",
        **({"axis": 0} if s_b.ndim else {}),
    )
    g.node.insert(0, dq)
    node.input[2] = dq.output[0]
    if old not in {n for other in g.node for n in other.input}:
        init = _init_map(g).get(old)
        if init is not None:
            g.initializer.remove(init)
    rename_tensor(g, dq.output[0], out)
    return True


# ---- exclusion ------------------------------------------------------------------------------
def guard_excluded(model: onnx.ModelProto, excluded: list[str] | tuple[str, ...]) -> list[str]:
    """Keep excluded layers in float at run time; returns the layers that needed a guard.

    ONNX Runtime's WeightBiasQuantization transform quantizes the float weights of any
    Conv/Gemm whose input comes from a DequantizeLinear (possibly through MaxPool), which
    would silently turn an excluded layer back into INT8. A ReLU between that DequantizeLinear
    and the layer stops it; it is an exact identity here because the value is non-negative
    (the DequantizeLinear's zero point is its type's minimum, i.e. it carries a ReLU output).
    """
    g = model.graph
    producers = _producers(g)
    guarded = []
    for name in excluded:
        node = next((n for n in g.node if n.name == name and n.op_type in ("Conv", "Gemm")), None)
        if node is None:
            raise AmrkitError(f"layer {name!r} not found in the quantized graph")
        src = producers.get(node.input[0])
        while src is not None and src.op_type in _PASS_THROUGH:
            src = producers.get(src.input[0])
        if src is None or src.op_type != "DequantizeLinear":
            continue
        zp = _array(g, src.input[2]) if len(src.input) > 2 else None
        if zp is None or int(np.asarray(zp).reshape(-1)[0]) != np.iinfo(zp.dtype).min:
            raise AmrkitError(
                f"cannot keep {name} in FP32: its input may be negative after quantization; "
                "exclude the layer before it as well"
            )
        out = f"{name}_fp32_input"
        guard = helper.make_node("Relu", [node.input[0]], [out], name=f"{name}_fp32_guard")
        g.node.insert(list(g.node).index(node), guard)
        node.input[0] = out
        guarded.append(name)
    return guarded


# ---- reading a QDQ model ----------------------------------------------------------------------
def _dtype_info(init: onnx.TensorProto) -> tuple[str, int, int]:
    if init.data_type in QTYPES:
        return QTYPES[init.data_type]
    return (onnx.helper.tensor_dtype_to_np_dtype(init.data_type).name, 0, 0)


def _qparams(g: onnx.GraphProto, node: onnx.NodeProto) -> dict[str, Any]:
    """Scale / zero point of a Q or DQ node, with the real range they represent."""
    scale = _array(g, node.input[1])
    zp = _array(g, node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if zp is None:
        zp = np.zeros_like(scale, dtype=np.uint8)
    info = np.iinfo(zp.dtype)
    s, z = scale.astype(np.float64), zp.astype(np.float64)
    lo, hi = s * (info.min - z), s * (info.max - z)
    out: dict[str, Any] = {
        "dtype": zp.dtype.name,
        "scale": scale.reshape(-1).tolist() if scale.ndim else float(scale),
        "zero_point": zp.reshape(-1).tolist() if zp.ndim else int(zp),
        "represented_min": float(np.min(lo)),
        "represented_max": float(np.max(hi)),
    }
    return out


def describe_layers(model: onnx.ModelProto) -> dict[str, dict[str, Any]]:
    """Per conv/fc layer of a (partly) quantized model: stored types and shapes of weight and
    bias, scales and zero points, the quantization of its input and output activations, and
    whether it is quantized (its weight is read through DequantizeLinear)."""
    g = model.graph
    producers, consumers = _producers(g), _consumers(g)
    inits = _init_map(g)
    layers: dict[str, dict[str, Any]] = {}
    for node in g.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        entry: dict[str, Any] = {"op": node.op_type}
        for role, k in (("weight", 1), ("bias", 2)):
            if k >= len(node.input) or not node.input[k]:
                continue
            src = producers.get(node.input[k])
            if src is not None and src.op_type == "DequantizeLinear":
                stored = inits[src.input[0]]
                values = numpy_helper.to_array(stored)
                dtype, _, _ = _dtype_info(stored)
                entry[role] = {
                    "stored_name": stored.name,
                    "stored_type": dtype,
                    "shape": list(values.shape),
                    "int_min": int(values.min()),
                    "int_max": int(values.max()),
                    **{k2: v for k2, v in _qparams(g, src).items() if k2 != "dtype"},
                    "axis": next((a.i for a in src.attribute if a.name == "axis"), None),
                }
            else:
                stored = inits.get(node.input[k])
                values = numpy_helper.to_array(stored) if stored is not None else None
                entry[role] = {
                    "stored_name": node.input[k],
                    "stored_type": "float32",
                    "shape": list(values.shape) if values is not None else None,
                }
        entry["quantized"] = entry.get("weight", {}).get("stored_type") in ("int8", "uint8")
        src = producers.get(node.input[0])
        while src is not None and src.op_type in (*_PASS_THROUGH, "Relu"):
            src = producers.get(src.input[0])
        entry["input"] = (
            _qparams(g, src)
            if src is not None and src.op_type == "DequantizeLinear"
            else {"dtype": "float32"}
        )
        users = consumers.get(node.output[0], [])
        entry["output"] = (
            _qparams(g, users[0])
            if len(users) == 1 and users[0].op_type == "QuantizeLinear"
            else {"dtype": "float32"}
        )
        layers[node.name] = entry
    return layers


def initializer_types(model: onnx.ModelProto) -> dict[str, str]:
    """Initializer name → element type (``int8``, ``int32``, ``float32`` …)."""
    return {
        i.name: onnx.helper.tensor_dtype_to_np_dtype(i.data_type).name
        for i in model.graph.initializer
    }
