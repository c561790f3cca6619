"""Lower a QDQ ONNX graph to the golden model's integer program (reads ONNX itself, no ORT).

The walk follows the graph in topological order and gives every tensor a symbolic value:

- ``_FloatIn``  the float frames (graph input); only a QuantizeLinear may read it.
- ``QAct``      an integer tensor of the program (a QuantizeLinear output).
- ``_DQ``       the float view of a QAct (DequantizeLinear output). Integer-exact ops on it
               (MaxPool, Pad, Relu, shape ops) are emitted at once as integer operators.
- ``_QConst``   a constant held as integers + scale + zero point (weights, int32 biases).
- ``_Acc``      an accumulator awaiting its requantization: Conv / Gemm / MatMul / mean /
               rescale, with BatchNormalization, bias Add and ReLU folded in, and MaxPool or
               shape ops queued to run after the requant. The next QuantizeLinear fixes the
               output scale and emits the operator.

Plain constant sub-graphs (shape arithmetic, QuantizeLinear of float weights, Cast of zero
points) are folded with ``onnx.reference``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.golden.ops import (
    AccumulatingOp,
    Conv1d,
    Dense,
    MaxPool1d,
    Mean,
    Op,
    Pad1d,
    Relu,
    Requant,
    Rescale,
    Reshape,
    dtype_range,
    pool_out_length,
)

EXACT_TOL = 1e-3  # an additive constant is "exact" within this fraction of an accumulator LSB
SUPPORTED_OPS = (
    "QuantizeLinear DequantizeLinear Conv Gemm MatMul Add BatchNormalization Relu MaxPool "
    "Pad GlobalAveragePool ReduceMean Reshape Flatten Squeeze Unsqueeze Identity Dropout"
)
_SHAPE_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
_ALIAS_OPS = ("Identity", "Dropout")
_ONNX_INT = {2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32"}


@dataclass
class QAct:
    tensor: str  # program tensor id
    shape: tuple[int, ...]  # per frame
    scale: float
    zero_point: int
    dtype: str


@dataclass
class _FloatIn:
    shape: tuple[int, ...]


@dataclass
class _DQ:
    q: QAct


@dataclass
class _QConst:
    values: np.ndarray  # integers
    scale: np.ndarray  # float32, scalar or (C,)
    zero_point: np.ndarray
    axis: int

    def per_axis(self, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        if a.size == 1:
            return a.reshape(())
        shape = [1] * self.values.ndim
        shape[self.axis] = -1
        return a.reshape(shape)

    def real(self) -> np.ndarray:
        zp = self.per_axis(self.zero_point).astype(np.float64)
        return (self.values.astype(np.float64) - zp) * self.per_axis(self.scale).astype(np.float64)


@dataclass
class _Acc:
    cls: type[AccumulatingOp]
    kw: dict[str, Any]  # constructor arguments except bias / requant / relu / acc_dtype
    shape: tuple[int, ...]  # of the op's own output (before pending ops)
    acc_scale: np.ndarray  # (C,) float64: real value of one accumulator unit
    bias: np.ndarray  # (C,) float64 in accumulator units
    bias_rounds: bool  # True: the bias came as float and is rounded (QAT / float bias)
    formula: str  # how the requant multiplier is computed: "ort", "mean", "f64"
    scales: tuple[Any, ...]  # inputs of the formula
    node: str
    relu: bool = False
    notes: list[str] = field(default_factory=list)
    pending: list[Op] = field(default_factory=list)
    out_shape: tuple[int, ...] = ()  # after pending ops


@dataclass
class Lowered:
    input_scale: float
    input_zero_point: int
    input_dtype: str
    input_shape: tuple[int, ...]
    input_name: str
    ops: list[Op]
    output_tensor: str
    output_scale: np.ndarray
    output_zero_point: int
    output_shape: tuple[int, ...]
    output_name: str
    onnx_names: dict[str, str]  # ONNX QuantizeLinear output → program tensor
    onnx_dtypes: dict[str, str]
    metadata: dict[str, str]


def _err(msg: str) -> AmrkitError:
    return AmrkitError(msg)


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _topological(graph: Any, known: set[str]) -> list[Any]:
    nodes = list(graph.node)
    ready = set(known) | {""}
    order, left = [], nodes
    while left:
        rest = []
        for n in left:
            if all(i in ready for i in n.input):
                order.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(left):
            missing = sorted({i for n in rest for i in n.input if i not in ready})
            raise _err(
                f"the ONNX graph has a cycle or undefined tensors ({missing[:3]}); "
                "re-export the model"
            )
        left = rest
    return order


def _batch_shape_op(
    node: Any, attrs: dict[str, Any], shape: tuple[int, ...], const: list[Any]
) -> tuple[int, ...]:
    """Per-frame output shape of Reshape / Flatten / Squeeze / Unsqueeze (batch kept)."""
    outs = []
    for b in (2, 3):
        full = (b, *shape)
        dummy = np.empty(full, dtype=np.int8)
        op = node.op_type
        if op == "Reshape":
            target = [int(v) for v in np.asarray(const[1]).reshape(-1)]
            if not attrs.get("allowzero", 0):
                target = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(target)]
            try:
                out = dummy.reshape(target).shape
            except ValueError:
                out = None
        elif op == "Flatten":
            axis = attrs.get("axis", 1) % len(full)
            out = (int(np.prod(full[:axis])), int(np.prod(full[axis:])))
        elif op == "Squeeze":
            axes = const[1] if len(const) > 1 and const[1] is not None else attrs.get("axes")
            if axes is None:
                axes = [i for i, d in enumerate(full) if d == 1 and i > 0]
            axes = sorted(int(a) % len(full) for a in np.asarray(axes).reshape(-1))
            out = tuple(d for i, d in enumerate(full) if i not in axes)
        else:  # Unsqueeze
            axes = const[1] if len(const) > 1 and const[1] is not None else attrs.get("axes")
            rank = len(full) + len(np.asarray(axes).reshape(-1))
            axes = sorted(int(a) % rank for a in np.asarray(axes).reshape(-1))
            out_l, it = [], iter(full)
            for i in range(rank):
                out_l.append(1 if i in axes else next(it))
            out = tuple(out_l)
        if out is None or len(out) < 1 or out[0] != b:
            raise _err(
                f"{op} node {node.name!r} changes the batch dimension (shape {full} → {out}); "
                "the golden model keeps the batch axis first; export with a dynamic batch"
            )
        outs.append(tuple(out[1:]))
    if outs[0] != outs[1]:
        raise _err(f"{node.op_type} node {node.name!r} depends on the batch size; re-export")
    return outs[0]


class _Lowering:
    def __init__(self, model: Any, rounding: str, path: str) -> None:
        self.model = model
        self.graph = model.graph
        self.rounding = rounding
        self.path = path
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13
        )
        self.consts: dict[str, Any] = {}
        self.uses: dict[str, int] = {}
        for n in self.graph.node:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1
        for o in self.graph.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        self.values: dict[str, Any] = {}
        self.ops: list[Op] = []
        self.onnx_names: dict[str, str] = {}
        self.onnx_dtypes: dict[str, str] = {}
        self.input_q: QAct | None = None
        self.input_scale = 0.0
        self.counters: dict[str, int] = {}
        kinds = [n.op_type for n in self.graph.node]
        self.single = {
            "fc": kinds.count("Gemm") + kinds.count("MatMul") == 1,
            "gap": kinds.count("GlobalAveragePool") + kinds.count("ReduceMean") == 1,
        }

    # ---- naming -------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self.counters[base] = self.counters.get(base, 0) + 1
        if self.single.get(base):
            return base
        return f"{base}{self.counters[base]}"

    # ---- entry --------------------------------------------------------------------------
    def run(self) -> Lowered:
        from onnx import numpy_helper

        g = self.graph
        for init in g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        types = {n.op_type for n in g.node}
        if not types & {"QuantizeLinear", "DequantizeLinear"}:
            raise _err(
                f"{self.path!r} is a float (FP32) ONNX model: it has no QuantizeLinear/"
                "DequantizeLinear nodes; simulate needs the INT8 QDQ model from 'amrkit quantize'"
            )
        foreign = sorted(
            {f"{n.domain}.{n.op_type}" for n in g.node if n.domain not in ("", "ai.onnx")}
        )
        if foreign:
            raise _err(
                f"{self.path!r} uses non-standard operators {foreign[:4]} (an ORT-optimized "
                "graph?); give the QDQ model written by quantize_static / the QAT export"
            )
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise _err(f"{self.path!r} has {len(inputs)} graph inputs; expected one (iq frames)")
        inp = inputs[0]
        shape = self._input_shape(inp)
        self.values[inp.name] = _FloatIn(shape)
        for node in _topological(g, set(self.consts) | {inp.name}):
            self.node(node)
        if len(g.output) != 1:
            raise _err(f"{self.path!r} has {len(g.output)} outputs; expected one (logits)")
        return self.finish(inp.name, shape, g.output[0].name)

    def _input_shape(self, inp: Any) -> tuple[int, ...]:
        t = inp.type.tensor_type
        if t.elem_type != 1:
            raise _err(f"graph input {inp.name!r} is not float32; expected float I/Q frames")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if len(dims) != 3:
            raise _err(
                f"graph input {inp.name!r} has rank {len(dims)}; the golden model reads "
                "Conv1d models with input (batch, channels, length)"
            )
        meta = {p.key: p.value for p in self.model.metadata_props}
        length = dims[2]
        if "amrkit.frame_length" in meta:
            length = int(meta["amrkit.frame_length"])
            if dims[2] is not None and dims[2] != length:
                raise _err(
                    f"metadata amrkit.frame_length={length} contradicts the graph input length "
                    f"{dims[2]}; re-export the model"
                )
        if dims[1] is None or length is None:
            raise _err(
                f"graph input {inp.name!r} has no fixed channels/length {dims[1:]} and no "
                "amrkit.frame_length metadata; export with a fixed frame length"
            )
        return (int(dims[1]), int(length))

    # ---- nodes --------------------------------------------------------------------------
    def node(self, node: Any) -> None:
        ins = list(node.input)
        op = node.op_type
        const_in = all(
            i == "" or i in self.consts or isinstance(self.values.get(i), _QConst) for i in ins
        )
        if op == "DequantizeLinear" and ins[0] in self.consts:
            self.values[node.output[0]] = self.qconst(node)
            return
        if const_in:
            self.fold(node)
            return
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise _err(
                f"operator {op} (node {node.name!r}) is not supported by the golden model; "
                f"supported: {SUPPORTED_OPS}"
            )
        result = handler(node, _attrs(node))
        if isinstance(result, _Acc) and self.uses.get(node.output[0], 0) > 1:
            raise _err(
                f"the un-quantized output of {node.op_type} node {node.name!r} feeds "
                f"{self.uses[node.output[0]]} nodes; the golden model needs each layer's "
                "accumulator to reach exactly one QuantizeLinear"
            )
        self.values[node.output[0]] = result

    def fold(self, node: Any) -> None:
        from onnx.reference import ReferenceEvaluator

        feeds = {}
        for i in node.input:
            if i in self.consts:
                feeds[i] = self.consts[i]
            elif i:  # a DequantizeLinear'd constant, folded as the float it stands for
                feeds[i] = self.values[i].real().astype(np.float32)
        try:
            outs = ReferenceEvaluator(node, opsets={"": self.opset}).run(None, feeds)
        except Exception as exc:  # noqa: BLE001 - report any evaluator failure as one line
            raise _err(f"cannot fold constant node {node.name!r} ({node.op_type}): {exc}") from None
        for name, value in zip(node.output, outs, strict=False):
            self.consts[name] = np.asarray(value)

    def value(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.consts:
            return self.consts[name]
        raise _err(f"tensor {name!r} is not produced by any node")

    def const_or_none(self, node: Any, i: int) -> Any:
        if i >= len(node.input) or node.input[i] == "":
            return None
        name = node.input[i]
        if name in self.consts:
            return self.consts[name]
        v = self.values.get(name)
        if isinstance(v, _QConst):
            return v.real()
        raise _err(f"input {i} ({name!r}) of {node.op_type} node {node.name!r} must be constant")

    def qparams(self, node: Any) -> tuple[np.ndarray, np.ndarray, str]:
        scale = self.const_or_none(node, 1)
        if scale is None:
            raise _err(f"{node.op_type} node {node.name!r} has no scale")
        zp = self.const_or_none(node, 2)
        if zp is None:
            to = _attrs(node).get("output_dtype", 0)
            dtype = _ONNX_INT.get(to, "uint8") if to else "uint8"
            zp = np.zeros_like(np.asarray(scale), dtype=dtype)
        zp = np.asarray(zp)
        if zp.dtype.name not in ("int8", "uint8", "int16", "uint16", "int32"):
            raise _err(
                f"{node.op_type} node {node.name!r} uses {zp.dtype.name} quantization; the golden "
                "model handles int8/uint8/int16/uint16 (and int32 biases)"
            )
        return np.asarray(scale, np.float32), zp, zp.dtype.name

    def qconst(self, node: Any) -> _QConst:
        values = np.asarray(self.consts[node.input[0]])
        if values.dtype.kind not in "iu":
            raise _err(f"DequantizeLinear {node.name!r} reads {values.dtype} constants")
        scale, zp, _ = self.qparams(node)
        axis = _attrs(node).get("axis", 1)
        axis = axis % max(values.ndim, 1)
        if _attrs(node).get("block_size", 0):
            raise _err(f"DequantizeLinear {node.name!r} uses blocked quantization; not supported")
        return _QConst(values, scale.reshape(-1), zp.reshape(-1).astype(np.int64), axis)

    def act(self, node: Any, i: int = 0) -> _DQ:
        v = self.value(node.input[i])
        if isinstance(v, _DQ):
            return v
        what = {
            _FloatIn: "the float graph input (not quantized)",
            _Acc: "an un-quantized float accumulator",
            QAct: "raw integers (no DequantizeLinear)",
        }.get(type(v), "a constant")
        raise _err(
            f"{node.op_type} node {node.name!r} reads {what}; the golden model needs every "
            "layer input to come from DequantizeLinear (a fully quantized QDQ graph)"
        )

    # QDQ ---------------------------------------------------------------------------------
    def op_QuantizeLinear(self, node: Any, attrs: dict[str, Any]) -> QAct:
        scale, zp, dtype = self.qparams(node)
        if scale.size != 1 or zp.size != 1:
            raise _err(
                f"QuantizeLinear {node.name!r} quantizes an activation per channel; the golden "
                "model needs per-tensor activation scales"
            )
        if dtype == "int32":
            raise _err(f"QuantizeLinear {node.name!r} produces int32 activations; use 8/16 bit")
        s, z = float(scale.reshape(())), int(zp.reshape(()))
        if not (s > 0 and math.isfinite(s)):
            raise _err(f"QuantizeLinear {node.name!r} has scale {s}; scales must be > 0")
        x = self.value(node.input[0])
        if isinstance(x, _FloatIn):
            if self.input_q is not None:
                raise _err("the float input is quantized twice; expected one QuantizeLinear")
            self.input_q = QAct("input", x.shape, s, z, dtype)
            self.input_scale = s
            q = self.input_q
        elif isinstance(x, _DQ):
            src = x.q
            if (src.scale, src.zero_point, src.dtype) == (s, z, dtype):
                q = src
            else:
                acc = _Acc(
                    Rescale,
                    dict(
                        input_zero_point=src.zero_point,
                        input_dtype=src.dtype,
                        inputs=[src.tensor],
                        in_shape=src.shape,
                        out_shape=src.shape,
                        source=node.name,
                    ),
                    src.shape,
                    np.array([src.scale]),
                    np.zeros(1),
                    False,
                    "rescale",
                    (src.scale,),
                    node.name,
                    out_shape=src.shape,
                )
                q = self.requantize(acc, s, z, dtype, "rescale")
        elif isinstance(x, _Acc):
            q = self.requantize(x, s, z, dtype, None)
        else:
            raise _err(f"QuantizeLinear {node.name!r} reads {type(x).__name__}; not supported")
        self.onnx_names[node.output[0]] = q.tensor
        self.onnx_dtypes[node.output[0]] = q.dtype
        return q

    def op_DequantizeLinear(self, node: Any, attrs: dict[str, Any]) -> _DQ:
        x = self.value(node.input[0])
        if not isinstance(x, QAct):
            raise _err(f"DequantizeLinear {node.name!r} reads a non-quantized tensor")
        scale, zp, _ = self.qparams(node)
        if scale.size != 1 or (float(scale.reshape(())), int(zp.reshape(()))) != (
            x.scale,
            x.zero_point,
        ):
            raise _err(
                f"DequantizeLinear {node.name!r} uses other scale/zero point than the "
                "QuantizeLinear that produced its input; not a QDQ pair"
            )
        return _DQ(x)

    # accumulating layers -----------------------------------------------------------------
    def weights(self, node: Any, i: int) -> _QConst:
        w = self.values.get(node.input[i]) if i < len(node.input) else None
        if not isinstance(w, _QConst):
            raise _err(
                f"{node.op_type} node {node.name!r} has float weights (no DequantizeLinear from "
                "integers); the model is not quantized — run 'amrkit quantize' first"
            )
        if w.values.dtype.name not in ("int8", "uint8", "int16", "uint16"):
            raise _err(f"{node.op_type} {node.name!r} has {w.values.dtype} weights; need 8/16 bit")
        return w

    def bias(self, node: Any, i: int, acc_scale: np.ndarray, cout: int) -> tuple[np.ndarray, bool]:
        """Input ``i`` of ``node`` as a bias in accumulator units, and whether it must be
        rounded (a float bias, as QAT exports leave it)."""
        if i >= len(node.input) or node.input[i] == "":
            return np.zeros(cout), False
        return self.bias_from(node.input[i], node, acc_scale, cout)

    def bias_from(
        self, name: str, node: Any, acc_scale: np.ndarray, cout: int
    ) -> tuple[np.ndarray, bool]:
        v = self.values.get(name)
        if isinstance(v, _QConst) and v.values.dtype == np.int32 and v.values.size in (1, cout):
            same = np.allclose(
                np.broadcast_to(v.scale.astype(np.float64), (cout,)),
                np.broadcast_to(acc_scale, (cout,)),
                rtol=1e-6,
                atol=0,
            )
            if same and not np.any(v.zero_point):
                return np.broadcast_to(v.values.astype(np.float64), (cout,)).copy(), False
        if isinstance(v, _QConst):
            real = v.real()
        elif name in self.consts:
            real = np.asarray(self.consts[name])
        else:
            raise _err(f"the bias of {node.op_type} node {node.name!r} is not constant")
        real = np.asarray(real, np.float64)
        if real.size not in (1, cout):
            raise _err(
                f"{node.op_type} node {node.name!r} adds {real.shape} values; expected "
                f"a bias of {cout}"
            )
        return np.broadcast_to(real.reshape(-1), (cout,)) / acc_scale, True

    def op_Conv(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        w = self.weights(node, 1)
        if len(x.q.shape) != 2 or w.values.ndim != 3:
            raise _err(
                f"Conv {node.name!r} is not 1-D (input {x.q.shape}, weight "
                f"{w.values.shape}); the golden model handles Conv1d layers"
            )
        if attrs.get("group", 1) != 1:
            raise _err(f"Conv {node.name!r} has group={attrs['group']}; only group=1 is handled")
        cout, cin, k = w.values.shape
        if cin != x.q.shape[0]:
            raise _err(f"Conv {node.name!r}: {x.q.shape[0]} input channels, weights want {cin}")
        if w.scale.size > 1 and w.axis != 0:
            raise _err(
                f"Conv {node.name!r} weights are quantized along axis {w.axis}; "
                "per-channel scales must be per output channel (axis 0)"
            )
        stride = int(attrs.get("strides", [1])[0])
        dil = int(attrs.get("dilations", [1])[0])
        length = x.q.shape[1]
        pads = tuple(int(p) for p in attrs.get("pads", [0, 0]))
        auto = attrs.get("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, (-(-length // stride) - 1) * stride + dil * (k - 1) + 1 - length)
            small, big = total // 2, total - total // 2
            pads = (small, big) if auto == "SAME_UPPER" else (big, small)
        elif auto == "VALID":
            pads = (0, 0)
        lout = (length + pads[0] + pads[1] - dil * (k - 1) - 1) // stride + 1
        s_w = w.scale.astype(np.float32).reshape(-1)  # (1,) per tensor, (cout,) per channel
        acc_scale = float(x.q.scale) * s_w.astype(np.float64)
        bias, rounds = self.bias(node, 2, acc_scale, cout)
        kw = dict(
            weight=w.values,
            weight_zero_point=np.broadcast_to(w.zero_point, (cout,)).copy(),
            pads=pads,
            stride=stride,
            dilation=dil,
            input_zero_point=x.q.zero_point,
            input_dtype=x.q.dtype,
            inputs=[x.q.tensor],
            in_shape=x.q.shape,
            out_shape=(cout, lout),
            source=node.name,
        )
        return _Acc(
            Conv1d,
            kw,
            (cout, lout),
            acc_scale,
            bias,
            rounds,
            "ort",
            (x.q.scale, s_w),
            node.name,
            out_shape=(cout, lout),
        )

    def _dense(
        self,
        node: Any,
        x: _DQ,
        w: _QConst,
        weight: np.ndarray,
        out_axis: int,
        bias_input: int | None,
    ) -> _Acc:
        cout, cin = weight.shape
        if len(x.q.shape) != 1 or cin != x.q.shape[0]:
            raise _err(
                f"{node.op_type} {node.name!r}: input {x.q.shape} does not match "
                f"weights ({cout}, {cin}); flatten to (batch, features) first"
            )
        if w.scale.size > 1 and w.axis != out_axis:
            raise _err(
                f"{node.op_type} {node.name!r} weights are quantized per input feature; "
                "per-channel scales must be per output feature"
            )
        s_w = w.scale.astype(np.float32).reshape(-1)  # (1,) per tensor, (cout,) per channel
        acc_scale = float(x.q.scale) * s_w.astype(np.float64)
        if bias_input is None:
            bias, rounds = np.zeros(cout), False
        else:
            bias, rounds = self.bias(node, bias_input, acc_scale, cout)
        kw = dict(
            weight=weight,
            weight_zero_point=np.broadcast_to(w.zero_point, (cout,)).copy(),
            input_zero_point=x.q.zero_point,
            input_dtype=x.q.dtype,
            inputs=[x.q.tensor],
            in_shape=x.q.shape,
            out_shape=(cout,),
            source=node.name,
        )
        return _Acc(
            Dense,
            kw,
            (cout,),
            acc_scale,
            bias,
            rounds,
            "ort",
            (x.q.scale, s_w),
            node.name,
            out_shape=(cout,),
        )

    def op_Gemm(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        w = self.weights(node, 1)
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0:
            raise _err(f"Gemm {node.name!r} has transA/alpha != default; not supported")
        if len(node.input) > 2 and node.input[2] and attrs.get("beta", 1.0) != 1.0:
            raise _err(f"Gemm {node.name!r} has beta={attrs['beta']}; only beta=1 is handled")
        trans_b = attrs.get("transB", 0)
        weight = w.values if trans_b else w.values.T
        return self._dense(
            node,
            x,
            w,
            weight,
            0 if trans_b else 1,
            2 if len(node.input) > 2 and node.input[2] else None,
        )

    def op_MatMul(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        w = self.weights(node, 1)
        if w.values.ndim != 2:
            raise _err(f"MatMul {node.name!r} weights have rank {w.values.ndim}; expected 2")
        return self._dense(node, x, w, w.values.T, 1, None)

    def op_Add(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        a, b = (self.values.get(i, self.consts.get(i)) for i in node.input[:2])
        acc, other = (a, 1) if isinstance(a, _Acc) else (b, 0)
        if not isinstance(acc, _Acc) or isinstance(self.values.get(node.input[other]), (_DQ, _Acc)):
            raise _err(
                f"Add {node.name!r} is not a bias add after Gemm/MatMul/Conv; the golden "
                "model handles no other Add"
            )
        if acc.pending or acc.relu:
            raise _err(f"Add {node.name!r} comes after ReLU/pooling; cannot fold it as a bias")
        bias, rounds = self.bias_from(node.input[other], node, acc.acc_scale, acc.shape[0])
        acc.bias = acc.bias + bias
        acc.bias_rounds = acc.bias_rounds or rounds
        return acc

    def op_BatchNormalization(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        if attrs.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
            raise _err(f"BatchNormalization {node.name!r} is in training mode; export in eval")
        x = self.value(node.input[0])
        gamma, beta, mean, var = (
            np.asarray(self.const_or_none(node, i), np.float64) for i in (1, 2, 3, 4)
        )
        a = gamma / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
        c = beta - a * mean
        if isinstance(x, _DQ):
            q = x.q
            if len(q.shape) < 1 or q.shape[0] != a.size:
                raise _err(f"BatchNormalization {node.name!r} does not match its input {q.shape}")
            x = _Acc(
                Rescale,
                dict(
                    input_zero_point=q.zero_point,
                    input_dtype=q.dtype,
                    inputs=[q.tensor],
                    in_shape=q.shape,
                    out_shape=q.shape,
                    source=node.name,
                ),
                q.shape,
                np.full(a.size, q.scale),
                np.zeros(a.size),
                False,
                "f64",
                (),
                node.name,
                out_shape=q.shape,
            )
        if not isinstance(x, _Acc):
            raise _err(f"BatchNormalization {node.name!r} reads {type(x).__name__}; unsupported")
        if x.relu or x.pending:
            raise _err(
                f"BatchNormalization {node.name!r} follows ReLU/pooling; it cannot be "
                "folded into the integer layer; fold BN before quantizing"
            )
        if np.any(a == 0):
            raise _err(f"BatchNormalization {node.name!r} has a zero scale; cannot fold it")
        new_scale = np.broadcast_to(x.acc_scale, a.shape) * a
        offset = c / new_scale  # in accumulator units
        if not x.bias_rounds:
            frac = np.abs(offset - np.rint(offset))
            worst = int(np.argmax(frac))
            if frac[worst] > EXACT_TOL:
                raise _err(
                    f"FP32 BatchNormalization {node.name!r} between QDQ pairs is not exactly "
                    f"representable in integers (channel {worst}: shift of {offset[worst]:.3f} "
                    "accumulator LSB, not an integer); fold BN into the conv before quantizing "
                    "(export in eval mode, or onnxruntime quant_pre_process)"
                )
            offset = np.rint(offset)
        x.bias = np.broadcast_to(x.bias, a.shape) + offset
        x.acc_scale = new_scale
        x.formula = "f64"
        x.notes.append(
            f"FP32 BatchNormalization {node.name} folded (scale into the "
            "multipliers, shift into the bias)"
        )
        return x

    def op_GlobalAveragePool(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        if len(x.q.shape) != 2:
            raise _err(f"GlobalAveragePool {node.name!r} input {x.q.shape} is not (C, L)")
        return self._mean(node, x, (2,), True)

    def op_ReduceMean(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const_or_none(node, 1)
        rank = len(x.q.shape) + 1
        if axes is None or np.asarray(axes).size == 0:
            if attrs.get("noop_with_empty_axes", 0):
                raise _err(f"ReduceMean {node.name!r} is a no-op; remove it")
            axes = list(range(rank))
        axes = tuple(sorted(int(a) % rank for a in np.asarray(axes).reshape(-1)))
        if 0 in axes:
            raise _err(f"ReduceMean {node.name!r} averages over the batch axis; not supported")
        return self._mean(node, x, axes, bool(attrs.get("keepdims", 1)))

    def _mean(self, node: Any, x: _DQ, axes: tuple[int, ...], keepdims: bool) -> _Acc:
        full = (1, *x.q.shape)
        count = int(np.prod([full[a] for a in axes]))
        out = tuple(1 if i in axes else d for i, d in enumerate(full) if keepdims or i not in axes)
        out = out[1:]
        if not out:
            raise _err(f"{node.op_type} {node.name!r} averages every axis; keep the channels")
        if 1 in axes:
            raise _err(f"{node.op_type} {node.name!r} averages over channels; not supported")
        kw = dict(
            axes=axes,
            keepdims=keepdims,
            count=count,
            input_zero_point=x.q.zero_point,
            input_dtype=x.q.dtype,
            inputs=[x.q.tensor],
            in_shape=x.q.shape,
            out_shape=out,
            source=node.name,
        )
        return _Acc(
            Mean,
            kw,
            out,
            np.array([x.q.scale / count]),
            np.zeros(1),
            False,
            "mean",
            (x.q.scale, count),
            node.name,
            out_shape=out,
        )

    # integer-exact ops -------------------------------------------------------------------
    def emit(self, op: Op, q: QAct, shape: tuple[int, ...] | None = None) -> QAct:
        op.inputs = [q.tensor]
        self.ops.append(op)
        return QAct(
            op.name, shape if shape is not None else op.out_shape, q.scale, q.zero_point, q.dtype
        )

    def op_Relu(self, node: Any, attrs: dict[str, Any]) -> Any:
        x = self.value(node.input[0])
        if isinstance(x, _Acc):
            x.relu = True
            return x
        q = self.act(node).q
        op = Relu(self.fresh("relu"), [], q.shape, q.shape, node.name, zero_point=q.zero_point)
        return _DQ(self.emit(op, q))

    def op_MaxPool(self, node: Any, attrs: dict[str, Any]) -> Any:
        if len(node.output) > 1 and node.output[1]:
            raise _err(f"MaxPool {node.name!r} also outputs indices; not supported")
        x = self.value(node.input[0])
        shape = x.out_shape if isinstance(x, _Acc) else self.act(node).q.shape
        if len(shape) != 2:
            raise _err(f"MaxPool {node.name!r} input {shape} is not (C, L); only 1-D pooling")
        k = int(attrs["kernel_shape"][0])
        stride = int(attrs.get("strides", [1])[0])
        dil = int(attrs.get("dilations", [1])[0])
        pads = tuple(int(p) for p in attrs.get("pads", [0, 0]))
        if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise _err(f"MaxPool {node.name!r} uses auto_pad={attrs['auto_pad']}; give pads")
        ceil = bool(attrs.get("ceil_mode", 0))
        lout = pool_out_length(shape[1], k, stride, pads, dil, ceil)
        op = MaxPool1d(
            self.fresh("pool"),
            [],
            shape,
            (shape[0], lout),
            node.name,
            kernel=k,
            stride=stride,
            pads=pads,
            dilation=dil,
            ceil_mode=ceil,
        )
        if isinstance(x, _Acc):
            x.pending.append(op)
            x.out_shape = op.out_shape
            return x
        return _DQ(self.emit(op, self.act(node).q))

    def op_Pad(self, node: Any, attrs: dict[str, Any]) -> _DQ:
        q = self.act(node).q
        mode = attrs.get("mode", "constant")
        if mode not in ("constant", "edge", "reflect"):
            raise _err(f"Pad {node.name!r} mode {mode!r} is not supported (constant/edge/reflect)")
        if self.opset >= 11:
            pads = self.const_or_none(node, 1)
            value = self.const_or_none(node, 2)
            axes = self.const_or_none(node, 3)
        else:
            pads, value, axes = attrs.get("pads"), attrs.get("value", 0.0), None
        pads = [int(p) for p in np.asarray(pads).reshape(-1)]
        rank = len(q.shape) + 1
        axes = list(range(rank)) if axes is None else [int(a) % rank for a in np.asarray(axes)]
        half = len(pads) // 2
        begin, end = (
            dict(zip(axes, pads[:half], strict=True)),
            dict(zip(axes, pads[half:], strict=True)),
        )
        if any(begin.get(a, 0) or end.get(a, 0) for a in range(rank - 1)):
            raise _err(f"Pad {node.name!r} pads other axes than the last; not supported")
        left, right = begin.get(rank - 1, 0), end.get(rank - 1, 0)
        if min(left, right) < 0:
            raise _err(f"Pad {node.name!r} crops (negative pads); not supported")
        v = 0.0 if value is None else float(np.asarray(value).reshape(()))
        iv = v / q.scale + q.zero_point
        lo, hi = dtype_range(q.dtype)
        if mode == "constant" and (abs(iv - round(iv)) > EXACT_TOL or not lo <= round(iv) <= hi):
            raise _err(f"Pad {node.name!r} value {v} is not representable at scale {q.scale}")
        out = (*q.shape[:-1], q.shape[-1] + left + right)
        op = Pad1d(
            self.fresh("pad"),
            [],
            q.shape,
            out,
            node.name,
            pads=(left, right),
            mode=mode,
            value=int(round(iv)),
        )
        return _DQ(self.emit(op, q))

    def _shape(self, node: Any, attrs: dict[str, Any]) -> Any:
        x = self.value(node.input[0])
        consts = [None] + [self.consts.get(i) if i else None for i in node.input[1:]]
        if node.op_type == "Reshape" and consts[1] is None:
            raise _err(
                f"Reshape {node.name!r} has a computed target shape; the golden model "
                "needs a constant one (run onnx shape inference / quant_pre_process)"
            )
        if isinstance(x, _Acc):
            out = _batch_shape_op(node, attrs, x.out_shape, consts)
            op = Reshape(self.fresh("reshape"), [], x.out_shape, out, node.name)
            x.pending.append(op)
            x.out_shape = out
            return x
        q = self.act(node).q
        out = _batch_shape_op(node, attrs, q.shape, consts)
        if out == q.shape:
            return _DQ(q)
        return _DQ(self.emit(Reshape(self.fresh("reshape"), [], q.shape, out, node.name), q))

    op_Reshape = op_Flatten = op_Squeeze = op_Unsqueeze = _shape

    def op_Identity(self, node: Any, attrs: dict[str, Any]) -> Any:
        return self.value(node.input[0])

    op_Dropout = op_Identity

    # requantization ----------------------------------------------------------------------
    def multiplier(self, acc: _Acc, s_out: float) -> np.ndarray:
        """The real requant multipliers, computed as ONNX Runtime's integer kernels do
        (float32 arithmetic) where the layer is a plain QDQ one, so M0·2^-n equals ORT's
        float32 multiplier exactly."""
        f32 = np.float32
        if acc.formula == "ort":  # QLinearConv / QGemm: x_scale * w_scale / y_scale
            s_x, s_w = acc.scales
            m = (f32(s_x) * s_w.astype(f32)) / f32(s_out)
        elif acc.formula == "mean":  # QLinearGlobalAveragePool: x_scale / (y_scale * count)
            s_x, count = acc.scales
            m = np.atleast_1d(f32(s_x) / (f32(s_out) * f32(count)))
        elif acc.formula == "rescale":
            m = np.atleast_1d(f32(acc.scales[0]) / f32(s_out))
        else:
            m = acc.acc_scale / float(s_out)
        return np.asarray(m, dtype=np.float64)

    def build(self, acc: _Acc, name: str, requant_args: tuple | None) -> AccumulatingOp:
        bias = np.rint(acc.bias).astype(np.int64)
        if np.any(np.abs(bias) >= 2**31):
            raise _err(
                f"layer {acc.node!r} has a bias beyond int32 in accumulator units; the "
                "scales are inconsistent"
            )
        if acc.cls in (Mean, Rescale) and not np.any(bias):
            bias = np.zeros(1, np.int64)
        notes = list(acc.notes)
        if acc.bias_rounds:
            err = float(np.max(np.abs(acc.bias - np.rint(acc.bias)))) if acc.bias.size else 0.0
            notes.append(
                f"float bias rounded to int32 accumulator units (max error {err:.3f} "
                "LSB of the accumulator; ONNX Runtime may add it in float)"
            )
        kw = dict(
            acc.kw, name=name, bias=bias.astype(np.int32), relu=acc.relu, notes="; ".join(notes)
        )
        probe = acc.cls(**kw, acc_dtype="int64")
        bound = probe.acc_bound()
        acc_dtype = "int32" if bound < 2**31 else "int64"
        requant = None
        if requant_args is not None:
            real, zp, dtype = requant_args
            requant = Requant.from_real(real, zp, dtype, acc.relu, self.rounding, bound)
        return acc.cls(**kw, acc_dtype=acc_dtype, requant=requant)

    def op_name(self, acc: _Acc) -> str:
        base = {Conv1d: "conv", Dense: "fc", Mean: "gap", Rescale: "rescale"}[acc.cls]
        return self.fresh(base)

    def requantize(self, acc: _Acc, s: float, z: int, dtype: str, formula: str | None) -> QAct:
        if formula is not None:
            acc.formula = formula
        real = self.multiplier(acc, s)
        if any(isinstance(p, MaxPool1d) for p in acc.pending) and np.any(real <= 0):
            raise _err(
                f"MaxPool after layer {acc.node!r} cannot move past a negative "
                "multiplier (negative BN scale); quantize before the pooling"
            )
        op = self.build(acc, self.op_name(acc), (real, z, dtype))
        self.ops.append(op)
        q = QAct(op.name, acc.shape, s, z, dtype)
        for p in acc.pending:
            q = self.emit(p, q)
        return q

    # ---- output -------------------------------------------------------------------------
    def finish(self, input_name: str, input_shape: tuple[int, ...], output: str) -> Lowered:
        if self.input_q is None:
            raise _err("the graph input is never quantized (no QuantizeLinear on it)")
        v = self.value(output)
        if isinstance(v, _DQ):
            v = v.q
        if isinstance(v, QAct):
            tensor, scale, zp, shape = v.tensor, np.array([v.scale]), v.zero_point, v.shape
        elif isinstance(v, _Acc):
            if any(isinstance(p, MaxPool1d) for p in v.pending) and np.any(v.acc_scale <= 0):
                raise _err("MaxPool on a negatively scaled float output; not supported")
            op = self.build(v, self.op_name(v), None)
            self.ops.append(op)
            q = QAct(op.name, v.shape, 1.0, 0, op.acc_dtype)
            for p in v.pending:
                q = self.emit(p, q)
            tensor, scale, zp, shape = q.tensor, np.asarray(v.acc_scale, np.float64), 0, q.shape
        else:
            raise _err(f"graph output {output!r} is not computed from the quantized network")
        if len(shape) != 1:
            raise _err(f"graph output {output!r} has per-frame shape {shape}; expected (classes,)")
        meta = {p.key: p.value for p in self.model.metadata_props}
        return Lowered(
            self.input_q.scale,
            self.input_q.zero_point,
            self.input_q.dtype,
            input_shape,
            input_name,
            self.ops,
            tensor,
            scale,
            zp,
            shape,
            output,
            self.onnx_names,
            self.onnx_dtypes,
            meta,
        )


def lower(path: str | Path, rounding: str = "float32") -> Lowered:
    """Read the QDQ ONNX file at ``path`` into an integer program."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise _err(f"model {str(p)!r} does not exist; give the INT8 .onnx file")
    try:
        model = onnx.load(str(p), load_external_data=True)
    except (DecodeError, RuntimeWarning, ValueError, OSError) as exc:
        raise _err(
            f"{str(p)!r} is not an ONNX model ({type(exc).__name__}); give the INT8 "
            ".onnx file written by 'amrkit quantize'"
        ) from None
    if not model.graph.node:
        raise _err(f"{str(p)!r} is not an ONNX model (no graph nodes); give the INT8 .onnx file")
    return _Lowering(model, rounding, str(p)).run()
