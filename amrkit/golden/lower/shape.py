"""Integer-exact operators emitted at once: ReLU, Pad, shape ops, Identity."""

from __future__ import annotations

from typing import Any

import numpy as np

from amrkit.golden.lower.values import (
    _DQ,
    EXACT_TOL,
    QAct,
    _Acc,
    _batch_shape_op,
    _err,
)
from amrkit.golden.ops import (
    Op,
    Pad1d,
    Relu,
    Reshape,
    dtype_range,
)


class ShapeOps:
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
