"""QuantizeLinear / DequantizeLinear: where integers begin, end and change scale."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from amrkit.golden.lower.values import (
    _DQ,
    QAct,
    _Acc,
    _err,
    _FloatIn,
    rescale_acc,
)


class QdqOps:
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
                acc = rescale_acc(src, node.name, np.array([src.scale]), "rescale", (src.scale,))
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
