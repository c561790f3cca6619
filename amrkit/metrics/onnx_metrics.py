"""The paper's layer table, read from an ONNX graph (FP32, INT8 QDQ, QOperator, fake-quant).

Compute layers are ``Conv`` / ``QLinearConv`` and ``Gemm`` / ``MatMul`` (+ bias ``Add``) /
``QLinearMatMul`` / ``MatMulInteger`` / ``QGemm`` nodes that have a constant weight. For
each, the weight and bias are traced back to the initializer that *stores* them, through
``DequantizeLinear`` / ``QuantizeLinear`` / ``Identity`` / ``Cast`` / ``Transpose`` /
``Reshape``; parameter memory counts the stored type (int8 weight = 1 byte, int32 bias =
4 bytes, float32 = 4 bytes — the paper's INT8 convention). Quantization scales and zero
points are not counted (neither are they in MATLAB's figure).

MACs come from the inferred output shapes (``weights × output positions``), so a preceding
``Pad`` node, asymmetric ``pads``, strides and groups are all accounted for. Batch-norm
nodes left in the graph are reported as ``bn_learnables`` (0 when folded on export).

A layer is *quantized* when its weight passes through Quantize/DequantizeLinear (or is an
integer kernel's input); ``weight_quant_dtype`` says to which type. A fake-quant export
(float initializer → QuantizeLinear → DequantizeLinear) is quantized but stores float32.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.metrics.network import layer_entry, summarize

# ops a parameter may pass through between its initializer and the layer that uses it
_PASS = {"Identity", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
_QDQ = {"QuantizeLinear", "DequantizeLinear"}
# ops that only move/quantize an activation (a Pad before a conv may hide behind them)
_ACT_PASS = _QDQ | {"Identity"}
# integer-valued helper subgraphs (pads, shapes, axes) are folded to constants with these
_FOLDABLE = {
    "Constant",
    "ConstantOfShape",
    "Concat",
    "Reshape",
    "Slice",
    "Transpose",
    "Cast",
    "Squeeze",
    "Unsqueeze",
    "Gather",
    "Range",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "Identity",
    "Expand",
    "Tile",
}


@dataclass
class Param:
    """A constant tensor feeding a layer: what is stored, and how it is (de)quantized."""

    name: str
    dtype: str  # stored element type ("float32", "int8", "int32", ...)
    shape: tuple[int, ...]
    quant_dtype: str | None  # the type Q/DQ maps it to (None: not quantized)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


def _dtype_name(elem_type: int) -> str:
    from onnx import TensorProto

    name = TensorProto.DataType.Name(elem_type).lower()
    return {"float": "float32", "double": "float64"}.get(name, name)


class _Graph:
    def __init__(self, model: Any) -> None:
        from onnx import helper, numpy_helper

        self.model = model
        self.graph = model.graph
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.inits = {t.name: t for t in self.graph.initializer}
        self.producer = {o: n for n in self.graph.node for o in n.output if o}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.values: dict[str, np.ndarray] = {}  # folded integer constants
        self.types: dict[str, int] = {}  # inferred element types (set after shape inference)
        self._fold_integer_constants()

    def attrs(self, node: Any) -> dict[str, Any]:
        out = {}
        for a in node.attribute:
            v = self.helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
        return out

    # ---- constants ---------------------------------------------------------------------
    def const_tensor(self, name: str) -> Any | None:
        """The TensorProto of an initializer or a Constant node's output."""
        if name in self.inits:
            return self.inits[name]
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            value = self.attrs(node).get("value")
            if value is not None and hasattr(value, "data_type"):
                return value
        return None

    def value(self, name: str) -> np.ndarray | None:
        if name in self.values:
            return self.values[name]
        t = self.const_tensor(name)
        if t is not None and t.data_type in (6, 7):  # int32, int64
            return self.numpy_helper.to_array(t)
        return None

    def _fold_integer_constants(self) -> None:
        """Evaluate small all-constant integer subgraphs (e.g. a Pad's computed ``pads``)."""
        try:
            from onnx.reference import ReferenceEvaluator
        except ImportError:  # pragma: no cover
            return
        for node in self.graph.node:
            if node.op_type not in _FOLDABLE or not node.output:
                continue
            if node.op_type == "Constant":
                v = self.value(node.output[0])
                if v is not None:
                    self.values[node.output[0]] = v
                continue
            inputs = [i for i in node.input if i]
            vals = [self.value(i) for i in inputs]
            if any(v is None for v in vals):
                continue
            try:
                result = ReferenceEvaluator(node).run(None, dict(zip(inputs, vals, strict=True)))
            except Exception:  # noqa: BLE001 - not foldable; leave it alone
                continue
            if result and np.asarray(result[0]).dtype.kind in "iu":
                self.values[node.output[0]] = np.asarray(result[0])

    # ---- tracing -----------------------------------------------------------------------
    def param(self, name: str) -> Param | None:
        """Trace ``name`` back to the stored initializer; None if it is an activation."""
        quant: str | None = None
        seen = 0
        while True:
            t = self.const_tensor(name)
            if t is not None:
                return Param(name, _dtype_name(t.data_type), tuple(int(d) for d in t.dims), quant)
            node = self.producer.get(name)
            seen += 1
            if node is None or seen > 32:
                return None
            if node.op_type == "DequantizeLinear":
                src = self.const_tensor(node.input[0])
                if src is not None and quant is None:
                    quant = _dtype_name(src.data_type)
                elif quant is None:
                    quant = self._q_dtype(node.input[0])
                name = node.input[0]
            elif node.op_type == "QuantizeLinear":
                quant = quant or self._q_output_dtype(node)
                name = node.input[0]
            elif node.op_type in _PASS:
                name = node.input[0]
            else:
                return None

    def _q_output_dtype(self, node: Any) -> str:
        """QuantizeLinear's output type: its inferred type, the zero point's, or uint8."""
        if node.output[0] in self.types:
            return _dtype_name(self.types[node.output[0]])
        if len(node.input) > 2 and node.input[2]:
            zp = self.const_tensor(node.input[2])
            if zp is not None:
                return _dtype_name(zp.data_type)
            cast = self.producer.get(node.input[2])
            if cast is not None and cast.op_type == "Cast":
                return _dtype_name(int(self.attrs(cast)["to"]))
        out = self.attrs(node).get("output_dtype")
        return _dtype_name(out) if out else "uint8"

    def _q_dtype(self, name: str) -> str | None:
        node = self.producer.get(name)
        return (
            self._q_output_dtype(node)
            if node is not None and node.op_type == "QuantizeLinear"
            else None
        )

    def from_dequantize(self, name: str) -> bool:
        """Is the activation ``name`` produced by DequantizeLinear (a quantized input)?"""
        node = self.producer.get(name)
        while node is not None and node.op_type in {"Identity", "Pad"}:
            node = self.producer.get(node.input[0])
        return node is not None and node.op_type == "DequantizeLinear"

    def preceding_pad(self, name: str) -> Any | None:
        node = self.producer.get(name)
        for _ in range(8):
            if node is None:
                return None
            if node.op_type == "Pad":
                return node
            if node.op_type not in _ACT_PASS:
                return None
            node = self.producer.get(node.input[0])
        return None

    def single_consumer_chain_to(self, name: str, op_type: str) -> Any | None:
        """Follow ``name``'s consumers through Q/DQ pairs to a node of ``op_type``."""
        for _ in range(4):
            users = self.consumers.get(name, [])
            if len(users) != 1:
                return None
            user = users[0]
            if user.op_type == op_type:
                return user
            if user.op_type not in _QDQ:
                return None
            name = user.output[0]
        return None


def _shapes(model: Any, input_shape: list[int]) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Static shapes and element types of the tensors, with the input's shape fixed."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inp = _data_input(m.graph)
    dims = inp.type.tensor_type.shape.dim
    for d, value in zip(dims, input_shape, strict=False):
        if not d.HasField("dim_value"):
            d.ClearField("dim_param")
            d.dim_value = int(value)
    try:
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - fall back to what we have
        inferred = m
    out: dict[str, list[int]] = {}
    types: dict[str, int] = {}
    g = inferred.graph
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        if t.elem_type:
            types[vi.name] = int(t.elem_type)
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            out[vi.name] = [int(d.dim_value) for d in t.shape.dim]
    return out, types


def _shapes_by_running(
    model: Any, names: list[str], input_shape: list[int]
) -> dict[str, list[int]]:
    """Fallback: run the graph once on zeros with ``names`` exposed as outputs."""
    import onnx

    from amrkit.runtime import ort_session

    m = onnx.ModelProto()
    m.CopyFrom(model)
    present = {o.name for o in m.graph.output}
    for name in names:
        if name not in present:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    try:
        sess = ort_session(m)
        inp = sess.get_inputs()[0]
        x = np.zeros(input_shape, dtype=np.float32)
        outs = sess.run(names, {inp.name: x})
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise AmrkitError(
            f"cannot determine the layer shapes of this ONNX graph ({str(exc).splitlines()[0]})"
        ) from None
    return {n: list(np.asarray(o).shape) for n, o in zip(names, outs, strict=True)}


def _data_input(graph: Any) -> Any:
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise AmrkitError(
            f"ONNX graph has {len(inputs)} data inputs; an amrkit model has one (n, 2, L)"
        )
    return inputs[0]


def _input_shape(graph: Any, meta: dict[str, str], frame_length: int | None) -> list[int]:
    """(n, C, L): n = the graph's fixed batch or 1; L from the graph, else ``frame_length``,
    else the amrkit metadata, else 1024."""
    dims = _data_input(graph).type.tensor_type.shape.dim
    if len(dims) != 3:
        raise AmrkitError(f"ONNX input has rank {len(dims)}; an amrkit model takes (n, 2, L)")
    static = [int(d.dim_value) if d.HasField("dim_value") else None for d in dims]
    batch = static[0] or 1
    channels = static[1] or 2
    length = static[2]
    if length is not None:
        if frame_length is not None and frame_length != length:
            raise AmrkitError(
                f"--frame-length {frame_length} differs from the ONNX graph's fixed input "
                f"length {length}; drop --frame-length or re-export the model"
            )
    elif frame_length is not None:
        length = int(frame_length)
    elif meta.get("amrkit.frame_length"):
        length = int(meta["amrkit.frame_length"])
    else:
        length = 1024
    return [batch, channels, length]


_LAYER_NAME = re.compile(r"^(conv\d+|fc\d*)$")


def onnx_network_metrics(path: str | Path, frame_length: int | None = None) -> dict[str, Any]:
    """The layer table and totals of an ONNX model, with the keys of ``network_metrics``.

    Extra keys: ``quantized_layers`` (names), ``precision`` (from the stored weight types:
    "fp32", "int8", "mixed", or "fake-quant" for float weights behind Q/DQ), ``ops`` (op
    type → count), ``opset``, ``metadata`` (amrkit.*).
    """
    import onnx

    p = Path(path)
    if not p.is_file():
        raise AmrkitError(f"ONNX file {str(p)!r} does not exist; check the path")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # noqa: BLE001
        raise AmrkitError(
            f"{str(p)!r} is not a readable ONNX model ({str(exc).splitlines()[0]})"
        ) from None
    g = _Graph(model)
    meta = {q.key: q.value for q in model.metadata_props}
    input_shape = _input_shape(model.graph, meta, frame_length)
    shapes, g.types = _shapes(model, input_shape)

    found = _find_layers(g)
    missing = [f["output"] for f in found if f["output"] not in shapes]
    if missing:
        shapes.update(_shapes_by_running(model, missing, input_shape))

    layers = []
    for f, name in zip(found, _layer_names(found), strict=True):
        node = f["node"]
        out_shape = shapes[f["output"]]
        batch = out_shape[0] if out_shape else 1
        w: Param = f["weight"]
        b: Param | None = f["bias"]
        if f["type"] == "conv":
            cout = w.shape[0]
            macs = int(np.prod(out_shape)) // batch * (w.numel // cout)
            hyper = _conv_hyper(g, node, f, w, shapes)
        else:
            macs = w.numel * int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else w.numel
            kin = int(np.prod(w.shape)) // out_shape[-1] if out_shape else w.shape[0]
            hyper = {
                "in_features": kin,
                "out_features": out_shape[-1] if out_shape else None,
                "op": node.op_type,
            }
        quantized = w.quant_dtype is not None or f["integer_op"]
        layers.append(
            layer_entry(
                name,
                f["type"],
                hyper,
                weights=w.numel,
                biases=b.numel if b else 0,
                macs=macs,
                output_shape=out_shape[1:],
                weight_dtype=w.dtype,
                bias_dtype=b.dtype if b else None,
                quantized=bool(quantized),
                weight_quant_dtype=w.quant_dtype or (w.dtype if f["integer_op"] else None),
                bias_quant_dtype=b.quant_dtype if b else None,
                input_quantized=bool(f["integer_op"] or g.from_dequantize(node.input[0])),
                node=node.name,
                op_type=node.op_type,
            )
        )
    if not layers:
        raise AmrkitError(f"{str(p)!r} has no conv or fully connected layer with constant weights")

    bn = 0
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            for name in node.input[1:3]:
                t = g.param(name)
                bn += t.numel if t else 0
    stored = {layer["weight_dtype"] for layer in layers}
    any_quant = any(layer["quantized"] for layer in layers)
    if stored == {"float32"}:
        precision = "fake-quant" if any_quant else "fp32"
    else:
        precision = "int8" if stored <= {"int8", "uint8"} else "mixed"
    spec_text = meta.get("amrkit.spec")
    name = p.stem
    if spec_text:
        with contextlib.suppress(ValueError, AttributeError):
            name = json.loads(spec_text).get("name", name)
    return summarize(
        layers,
        bn,
        model=name,
        source="onnx",
        path=str(p),
        frame_length=input_shape[2],
        input_shape=input_shape[1:],
        num_classes=layers[-1]["output_shape"][-1],
        precision=precision,
        quantized_layers=[layer["name"] for layer in layers if layer["quantized"]],
        ops=dict(sorted(Counter(n.op_type for n in model.graph.node).items())),
        opset={(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        metadata={k: v for k, v in meta.items() if k.startswith("amrkit.")},
    )


def _layer_names(found: list[dict[str, Any]]) -> list[str]:
    """The graph's own node names if they are all paper-style (conv1…, fc), else positional."""
    own = [f["node"].name for f in found]
    if all(_LAYER_NAME.match(n or "") for n in own) and len(set(own)) == len(own):
        return own
    n_fc = sum(f["type"] == "fc" for f in found)
    names, conv_i, fc_i = [], 0, 0
    for f in found:
        if f["type"] == "conv":
            conv_i += 1
            names.append(f"conv{conv_i}")
        else:
            fc_i += 1
            names.append("fc" if n_fc == 1 else f"fc{fc_i}")
    return names


def _find_layers(g: _Graph) -> list[dict[str, Any]]:
    """Conv and fc layers, in graph order, with their weight and bias parameters."""
    found = []
    for node in g.graph.node:
        op = node.op_type
        entry: dict[str, Any] | None = None
        if op in ("Conv", "ConvInteger"):
            w = g.param(node.input[1])
            b = g.param(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if w is not None:
                entry = {"type": "conv", "weight": w, "bias": b, "integer_op": op == "ConvInteger"}
        elif op == "QLinearConv":
            w = g.param(node.input[3])
            b = g.param(node.input[8]) if len(node.input) > 8 and node.input[8] else None
            if w is not None:
                entry = {"type": "conv", "weight": w, "bias": b, "integer_op": True}
        elif op in ("Gemm", "QGemm"):
            wi, bi = (1, 2) if op == "Gemm" else (3, 6)
            w = g.param(node.input[wi])
            b = g.param(node.input[bi]) if len(node.input) > bi and node.input[bi] else None
            if w is not None:
                entry = {"type": "fc", "weight": w, "bias": b, "integer_op": op == "QGemm"}
        elif op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            wi = 3 if op == "QLinearMatMul" else 1
            w = g.param(node.input[wi])
            if w is not None:
                add = g.single_consumer_chain_to(node.output[0], "Add")
                b = None
                if add is not None:
                    for name in add.input:
                        b = b or g.param(name)
                entry = {"type": "fc", "weight": w, "bias": b, "integer_op": op != "MatMul"}
        if entry is not None:
            entry.update(node=node, output=node.output[0])
            found.append(entry)
    return found


def _conv_hyper(g: _Graph, node: Any, f: dict[str, Any], w: Param, shapes: dict) -> dict:
    a = g.attrs(node)
    kernel = list(a.get("kernel_shape") or w.shape[2:])
    nd = len(kernel)
    pads = list(a.get("pads") or [0] * (2 * nd))
    hyper: dict[str, Any] = {
        "filters": w.shape[0],
        "kernel": kernel[0] if nd == 1 else kernel,
        "in_channels": w.shape[1] * int(a.get("group", 1)),
        "stride": (
            list(a.get("strides") or [1] * nd)[0] if nd == 1 else list(a.get("strides") or [1] * nd)
        ),
        "group": int(a.get("group", 1)),
        "dilation": (
            list(a.get("dilations") or [1] * nd)[0]
            if nd == 1
            else list(a.get("dilations") or [1] * nd)
        ),
    }
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        hyper["auto_pad"] = a["auto_pad"]
    pad_node = g.preceding_pad(node.input[0])
    if pad_node is not None:
        pa = g.attrs(pad_node)
        extra = (
            g.value(pad_node.input[1])
            if len(pad_node.input) > 1 and pad_node.input[1]
            else np.asarray(pa.get("pads", []), dtype=np.int64)
        )
        mode = pa.get("mode", "constant")
        axes_ok = not (len(pad_node.input) > 3 and pad_node.input[3])
        if extra is not None and axes_ok and len(extra) == 2 * (nd + 2):
            extra = [int(v) for v in np.asarray(extra).reshape(-1)]
            begin, end = extra[2 : nd + 2], extra[nd + 4 :]
            pads = [p + e for p, e in zip(pads, begin + end, strict=True)]
        else:
            pads = None
        hyper["pad_node"] = pad_node.name or "Pad"
        if mode != "constant":
            hyper["pad_mode"] = mode
    if pads is not None:
        hyper["padding"] = pads if nd > 1 else [pads[0], pads[1]]
    pool = _following_pool(g, node.output[0])
    hyper["pool"] = None
    if pool is not None:
        k = list(g.attrs(pool).get("kernel_shape") or [])
        hyper["pool"] = (k[0] if nd == 1 and k else k) or pool.op_type
    return hyper


def _following_pool(g: _Graph, name: str) -> Any | None:
    """The MaxPool/AveragePool after this conv's BN/ReLU/QDQ chain, if any."""
    for _ in range(8):
        users = g.consumers.get(name, [])
        if len(users) != 1:
            return None
        user = users[0]
        if user.op_type in ("MaxPool", "AveragePool"):
            return user
        if user.op_type not in _ACT_PASS | {"Relu", "BatchNormalization"}:
            return None
        name = user.output[0]
    return None
