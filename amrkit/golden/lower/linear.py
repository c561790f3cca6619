"""Accumulating layers: Conv, Gemm, MatMul, bias Add, BatchNormalization folding."""

from __future__ import annotations

from typing import Any

import numpy as np

from amrkit.golden.lower.values import (
    _DQ,
    EXACT_TOL,
    _Acc,
    _err,
    _QConst,
    rescale_acc,
)
from amrkit.golden.ops import (
    Conv1d,
    Dense,
)


class LinearOps:
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
        groups = int(attrs.get("group", 1))
        cout, cin_g, k = w.values.shape
        cin = cin_g * groups
        if groups < 1 or cout % groups or cin != x.q.shape[0]:
            raise _err(
                f"Conv {node.name!r}: {x.q.shape[0]} input channels, weights {w.values.shape} "
                f"in {groups} group(s) do not fit"
            )
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
            groups=groups,
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
            x = rescale_acc(q, node.name, np.full(a.size, q.scale), "f64", ())
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
