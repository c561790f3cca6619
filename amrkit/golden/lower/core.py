"""The walk: graph order, constants, QDQ parameters, requantization and the final program."""

from __future__ import annotations

from typing import Any

import numpy as np

from amrkit.golden.lower.values import (
    _DQ,
    _ONNX_INT,
    SUPPORTED_OPS,
    Lowered,
    QAct,
    _Acc,
    _attrs,
    _err,
    _FloatIn,
    _QConst,
    _topological,
)
from amrkit.golden.ops import (
    AccumulatingOp,
    Conv1d,
    Dense,
    MaxPool1d,
    Mean,
    Op,
    Requant,
    Rescale,
)


class _Core:
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

    def fresh(self, base: str) -> str:
        self.counters[base] = self.counters.get(base, 0) + 1
        if self.single.get(base):
            return base
        return f"{base}{self.counters[base]}"

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
