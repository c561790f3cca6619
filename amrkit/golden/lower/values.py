"""The symbolic values the lowering walk gives every tensor, and small graph helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.golden.ops import AccumulatingOp, Op, Rescale

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


def rescale_acc(q: QAct, node: str, scale: np.ndarray, formula: str, scales: tuple) -> _Acc:
    """An accumulator ``x − zp_x`` of an integer tensor, to be re-quantized to another scale
    (a QuantizeLinear after a DequantizeLinear, or an FP32 BatchNormalization between two)."""
    kw = dict(
        input_zero_point=q.zero_point,
        input_dtype=q.dtype,
        inputs=[q.tensor],
        in_shape=q.shape,
        out_shape=q.shape,
        source=node,
    )
    zeros = np.zeros(len(scale))
    return _Acc(Rescale, kw, q.shape, scale, zeros, False, formula, scales, node, out_shape=q.shape)


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
