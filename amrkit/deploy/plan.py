"""Lower an :class:`~amrkit.golden.IntegerModel` to a C program plan: layers with their
integer parameters in CMSIS-NN's int8 conventions, and one static arena sized by liveness.

Conventions of the generated C (see ``docs/deploy.md``):

- activations are channel-last: a tensor of logical per-frame shape ``(C, *S)`` is stored as
  ``(prod(S), C)``; the input frame is ``(L, 2)``, interleaved I/Q;
- every activation is int8. A uint8 tensor of the golden model is stored shifted by −128
  (its zero point, clamp and pad values too): all arithmetic uses ``x − zp``, max and
  ReLU commute with the shift, so the integers are the same up to that offset;
- conv weights are ``[C_out][K][C_in]`` (CMSIS-NN's ``[C_OUT, H, W, C_IN]``) with each row
  padded with zeros to a multiple of 8 taps (word loads in the DSP kernel); layers whose
  weights fit 4 bits may be packed two per byte (:mod:`amrkit.deploy.pack`);
- per output channel: int32 bias (accumulator units), int32 multiplier ``M0``, shift ``n``;
- a conv directly followed by a max-pool is fused: the pool takes the max (the min where
  ``M0 < 0``) of the *accumulators*, then requantizes once. Requantization is monotone, so
  this equals pooling the requantized outputs, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.golden.model import IntegerModel
from amrkit.golden.ops import (
    AccumulatingOp,
    Conv1d,
    Dense,
    MaxPool1d,
    Mean,
    Op,
    Pad1d,
    Relu,
    Rescale,
    Reshape,
)

ROUNDING_IDS = {"half_even": 0, "half_away": 1, "half_up": 2, "float32": 3}
ALIGN = 4
ROW_ALIGN = 8  # weight rows: whole iterations of the DSP loop (8 taps)


@dataclass
class Tensor:
    """An activation buffer: ``size`` bytes in the arena at ``offset`` (None = not placed)."""

    name: str
    shape: tuple[int, ...]  # logical per-frame shape (C, *S), as the golden model's
    elem_bytes: int = 1  # 1: int8, 4: int32 (an un-requantized network output)
    offset_int: int = 0  # stored integer = golden integer + offset_int (-128 for uint8)
    alias_of: str | None = None  # a reshape: the same memory as another tensor
    offset: int | None = None
    first: int = 0  # op index that writes it (-1: the input)
    last: int = 0  # last op index that reads it

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))

    @property
    def size(self) -> int:
        return self.count * self.elem_bytes


@dataclass
class Layer:
    """One C call: ``kind`` selects the kernel, ``params`` its struct fields, ``arrays`` the
    constant arrays (name → numpy array) it points to."""

    name: str
    kind: str  # conv, mean, rescale, maxpool, relu, pad, reshape
    src: str
    dst: str
    params: dict[str, int] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    fused: str | None = None  # name of the conv output that a fused pool hides
    scratch: int = 0  # bytes of scratch in the arena during this layer
    macs: int = 0


@dataclass
class Plan:
    layers: list[Layer]
    tensors: dict[str, Tensor]
    input_scale: float
    input_zero_point: int  # stored domain (uint8 shifted)
    input_shape: tuple[int, int]  # (C, L)
    input_offset: int
    output: str
    output_scale: np.ndarray
    output_zero_point: int  # golden domain
    num_classes: int
    rounding: str
    classes: tuple[str, ...]
    arena_bytes: int = 0
    peak_live_bytes: int = 0
    scratch_offset: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    packing: list[dict[str, Any]] = field(default_factory=list)  # per conv: weight storage

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def _offset(dtype: str) -> int:
    if dtype == "int8":
        return 0
    if dtype == "uint8":
        return -128
    raise AmrkitError(
        f"activation type {dtype} is not supported by the C generator (int8 and uint8 are); "
        "quantize with --activation-type int8"
    )


def _requant_arrays(op: AccumulatingOp, cout: int, out_off: int) -> tuple[dict, dict]:
    rq = op.requant
    m0 = np.broadcast_to(np.asarray(rq.multiplier, np.int64), (cout,))
    n = np.broadcast_to(np.asarray(rq.shift, np.int64), (cout,))
    if np.any(np.abs(m0) >= 2**31) or np.any((n < 0) | (n > 62)):
        raise AmrkitError(f"layer {op.name}: multiplier/shift outside int32 / 0..62")
    arrays = {"mult": m0.astype(np.int32), "shift": n.astype(np.int8)}
    params = {
        "out_zp": rq.zero_point + out_off,
        "lo": rq.lo + out_off,
        "hi": rq.hi + out_off,
    }
    return arrays, params


def float_multipliers(m0: np.ndarray, n: np.ndarray) -> np.ndarray | None:
    """``M0 · 2^-n`` as float32 when every one is a normal float32 (or 0) — then
    ``rint(float32(acc) · M)`` in float32 arithmetic is the golden model's ``float32``
    requantization exactly (products stay normal: |acc| ≥ 1) — else None."""
    out = np.zeros(len(m0), np.float32)
    for i, (a, s) in enumerate(zip(np.asarray(m0).tolist(), np.asarray(n).tolist(), strict=True)):
        v = float(a) * 2.0 ** -int(s)
        if a != 0 and (float(np.float32(v)) != v or not 2.0**-100 <= abs(v) <= 2.0**100):
            return None
        out[i] = v
    return out


def _check_acc(op: AccumulatingOp) -> None:
    if op.acc_dtype != "int32" or op.acc_bound() >= 2**31:
        raise AmrkitError(
            f"layer {op.name} needs a {op.acc_dtype} accumulator (bound {op.acc_bound()}); the C "
            "generator keeps int32 accumulators: use 8-bit weights and activations"
        )


def _centered_weight(op: Conv1d | Dense) -> np.ndarray:
    zp = np.asarray(op.weight_zero_point, np.int64).reshape((-1,) + (1,) * (op.weight.ndim - 1))
    w = op.weight.astype(np.int64) - zp
    if w.min() < -128 or w.max() > 127:
        raise AmrkitError(
            f"layer {op.name}: weights minus their zero point leave int8 ([{w.min()}, {w.max()}]);"
            " quantize with symmetric weights (zero point 0)"
        )
    return w


def _block_diagonal(w: np.ndarray, groups: int) -> np.ndarray:
    """Grouped weights (cout, cin/groups, k) → dense (cout, cin, k), zero outside each output
    channel's group: the kernels run a grouped layer as a dense one (same integers)."""
    cout, cin_g, k = w.shape
    per = cout // groups
    full = np.zeros((cout, cin_g * groups, k), w.dtype)
    for g in range(groups):
        full[g * per : (g + 1) * per, g * cin_g : (g + 1) * cin_g] = w[g * per : (g + 1) * per]
    return full


def _conv_layer(op: Conv1d | Dense, tensors: dict[str, Tensor]) -> Layer:
    _check_acc(op)
    src = tensors[op.inputs[0]]
    w = _centered_weight(op)
    groups = op.groups if isinstance(op, Conv1d) else 1
    real_kc = int(np.prod(w.shape[1:]))  # MACs per output: cin/groups · k
    if groups > 1:
        w = _block_diagonal(w, groups)
    if isinstance(op, Dense):
        w = w[:, None, :]  # (cout, 1, cin): a 1-tap conv on a length-1 input
        cin, lin, lout = int(op.in_shape[0]), 1, 1
        pads, stride, dil = (0, 0), 1, 1
    else:
        cin, lin, lout = int(op.in_shape[0]), int(op.in_shape[1]), int(op.out_shape[1])
        pads, stride, dil = tuple(op.pads), op.stride, op.dilation
    cout, k = int(w.shape[0]), int(w.shape[2] if isinstance(op, Conv1d) else 1)
    kc = k * cin
    kc_pad = -(-kc // ROW_ALIGN) * ROW_ALIGN
    rows = np.zeros((cout, kc_pad), np.int8)
    # [C_out][K][C_in]: the tap-major window of a channel-last input is contiguous
    rows[:, :kc] = (w.transpose(0, 2, 1) if isinstance(op, Conv1d) else w[:, 0, :]).reshape(
        cout, kc
    )
    in_zp = op.input_zero_point + src.offset_int
    bias = np.broadcast_to(np.asarray(op.bias, np.int64), (cout,))
    folded = bias - in_zp * rows.astype(np.int64).sum(axis=1)  # interior windows: Σ x·w + b'
    if np.any(np.abs(folded) >= 2**31):
        raise AmrkitError(f"layer {op.name}: folded bias leaves int32")
    params = dict(
        cin=cin, lin=lin, cout=cout, k=k, stride=stride, dil=dil, pad_l=pads[0], lconv=lout,
        kc=kc, kc_pad=kc_pad, in_zp=in_zp, pk=1, ps=1, ppad=0, pdil=1, lout=lout, raw=0, relu=0,
        fpreq=0, packed=0,
    )  # fmt: skip
    arrays = {"w": rows, "bias": bias.astype(np.int32), "bias_folded": folded.astype(np.int32)}
    if op.requant is None:
        params.update(raw=1, relu=int(op.relu), out_zp=0, lo=0, hi=0)
        arrays.update(mult=np.zeros(cout, np.int32), shift=np.zeros(cout, np.int8))
    else:
        out_off = _offset(op.requant.dtype)
        rq_arrays, rq_params = _requant_arrays(op, cout, out_off)
        arrays.update(rq_arrays)
        params.update(rq_params)
        mf = float_multipliers(rq_arrays["mult"], rq_arrays["shift"])
        if mf is not None and op.requant.rounding == "float32":
            params["fpreq"] = 1  # the Helium kernels requantize in float32
            arrays["mf"] = mf
    layer = Layer(op.name, "conv", op.inputs[0], op.name, params, arrays)
    layer.macs = cout * lout * real_kc
    layer.scratch = 4 * kc_pad  # two int16 im2col columns, interleaved (DSP kernel)
    return layer


def _fuse_pool(layer: Layer, pool: MaxPool1d) -> bool:
    """Fold ``pool`` into the conv ``layer`` when every conv position is in some window."""
    p = layer.params
    if p["raw"] or pool.kernel > 8:
        return False
    lconv = p["lconv"]
    lout = int(pool.out_shape[-1])
    covered = set()
    for i in range(lout):
        for j in range(pool.kernel):
            t = i * pool.stride - pool.pads[0] + j * pool.dilation
            if 0 <= t < lconv:
                covered.add(t)
    if covered != set(range(lconv)):
        return False
    p.update(pk=pool.kernel, ps=pool.stride, ppad=pool.pads[0], pdil=pool.dilation, lout=lout)
    layer.fused = layer.dst
    layer.dst = pool.name
    layer.scratch = 4 * p["kc_pad"] * -(-pool.kernel // 2)  # a column pair per 2 taps
    return True


def _over_time(op: Mean, shape: tuple[int, ...]) -> bool:
    """True when ``op`` sums every spatial position (axes count the batch as 0)."""
    big = {a for a in range(2, len(shape) + 1) if shape[a - 1] > 1}
    return 1 not in op.axes and big <= set(op.axes) and op.count == _spatial(shape)


def _spatial(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1


def _simple_layer(op: Op, tensors: dict[str, Tensor]) -> Layer:
    src = tensors[op.inputs[0]]
    shape = tuple(int(v) for v in op.in_shape)
    c, n = shape[0], _spatial(shape)
    if isinstance(op, (Mean, Rescale)):
        _check_acc(op)
        if op.requant is None:
            raise AmrkitError(f"layer {op.name}: a {op.kind} without requantization")
        if isinstance(op, Mean) and not _over_time(op, shape):
            raise AmrkitError(
                f"layer {op.name}: mean over axes {op.axes} of {shape}; the C generator averages "
                "over all time positions only"
            )
        arrays, params = _requant_arrays(op, c, _offset(op.requant.dtype))
        arrays["bias"] = np.broadcast_to(np.asarray(op.bias, np.int64), (c,)).astype(np.int32)
        params.update(c=c, n=n, in_zp=op.input_zero_point + src.offset_int)
        return Layer(op.name, op.kind, op.inputs[0], op.name, params, arrays)
    if isinstance(op, MaxPool1d):
        params = dict(c=c, lin=shape[-1], k=op.kernel, s=op.stride, pad_l=op.pads[0],
                      dil=op.dilation, lout=int(op.out_shape[-1]))  # fmt: skip
        return Layer(op.name, "maxpool", op.inputs[0], op.name, params)
    if isinstance(op, Relu):
        return Layer(
            op.name,
            "relu",
            op.inputs[0],
            op.name,
            {"n": c * n, "zp": op.zero_point + src.offset_int},
        )
    if isinstance(op, Pad1d):
        modes = {"constant": 0, "edge": 1, "reflect": 2}
        if op.mode not in modes or len(shape) != 2:
            raise AmrkitError(f"layer {op.name}: pad mode {op.mode!r} on shape {shape}")
        params = dict(c=c, lin=shape[-1], pad_l=op.pads[0], pad_r=op.pads[1],
                      mode=modes[op.mode], value=op.value + src.offset_int)  # fmt: skip
        return Layer(op.name, "pad", op.inputs[0], op.name, params)
    if isinstance(op, Reshape):
        return Layer(op.name, "reshape", op.inputs[0], op.name)
    raise AmrkitError(f"operator {op.kind} ({op.name}) has no C kernel")


def _channel_last_order(shape: tuple[int, ...]) -> np.ndarray:
    """Logical flat index (C order of ``shape``) of each memory position (channel-last)."""
    idx = np.arange(int(np.prod(shape))).reshape(shape[0], -1)  # (C, S)
    return idx.T.reshape(-1)


def _reshape_is_free(src: tuple[int, ...], dst: tuple[int, ...]) -> bool:
    return np.array_equal(_channel_last_order(src), _channel_last_order(dst))


def _out_tensor(op: Op, src: Tensor) -> Tensor:
    shape = tuple(int(v) for v in op.out_shape)
    if isinstance(op, AccumulatingOp):
        if op.requant is None:
            return Tensor(op.name, shape, elem_bytes=4)
        return Tensor(op.name, shape, offset_int=_offset(op.requant.dtype))
    if isinstance(op, Reshape):
        if src.elem_bytes != 1 or not _reshape_is_free(src.shape, shape):
            raise AmrkitError(
                f"reshape {op.name} {src.shape} -> {shape} moves data in a channel-last layout; "
                "the C generator supports reshapes of (C, 1)-like tensors only"
            )
        return Tensor(op.name, shape, offset_int=src.offset_int, alias_of=src.alias_of or src.name)
    return Tensor(op.name, shape, elem_bytes=src.elem_bytes, offset_int=src.offset_int)


def build_plan(model: IntegerModel) -> Plan:
    """The C program for ``model``: layers (conv+pool fused), tensors, arena offsets."""
    if model.rounding not in ROUNDING_IDS:
        raise AmrkitError(f"rounding {model.rounding!r} has no C requantization")
    if len(model.input_shape) != 2:
        raise AmrkitError(f"input shape {model.input_shape} is not (channels, length)")
    in_off = _offset(model.input_dtype)
    tensors = {"input": Tensor("input", tuple(model.input_shape), offset_int=in_off, first=-1)}
    layers: list[Layer] = []
    consumers: dict[str, int] = {}
    for op in model.ops:
        for t in op.inputs:
            consumers[t] = consumers.get(t, 0) + 1
    for op in model.ops:
        if len(op.inputs) != 1 or op.inputs[0] not in tensors:
            raise AmrkitError(f"operator {op.name} reads {op.inputs}; the C generator wants one")
        src = tensors[op.inputs[0]]
        if src.elem_bytes != 1:
            raise AmrkitError(f"layer {op.name} reads an un-requantized int32 tensor")
        tensors[op.name] = _out_tensor(op, src)
        prev = layers[-1] if layers else None
        if (
            isinstance(op, MaxPool1d)
            and prev is not None
            and prev.kind == "conv"
            and prev.fused is None
            and prev.dst == op.inputs[0]
            and consumers.get(op.inputs[0]) == 1
            and op.inputs[0] != model.output_tensor
            and _fuse_pool(prev, op)
        ):
            continue
        if isinstance(op, (Conv1d, Dense)):
            layers.append(_conv_layer(op, tensors))
        else:
            layers.append(_simple_layer(op, tensors))
    plan = Plan(
        layers, tensors, float(model.input_scale), model.input_zero_point + in_off,
        tuple(model.input_shape), in_off, model.output_tensor,
        np.atleast_1d(np.asarray(model.output_scale, np.float64)), model.output_zero_point,
        model.num_classes, model.rounding,
        tuple(model.classes or [f"class{i}" for i in range(model.num_classes)]),
        metadata=dict(model.metadata),
    )  # fmt: skip
    allocate(plan)
    return plan


def allocate(plan: Plan) -> None:
    """Place every buffer in one arena: tensors live from their writer to their last reader
    (a reshape keeps its source alive); a layer's scratch lives during that layer."""
    tensors = plan.tensors
    for i, layer in enumerate(plan.layers):
        out = tensors[layer.dst]
        out.first = out.last = i
        for name in (layer.src,):
            t = tensors[name]
            root = tensors[t.alias_of] if t.alias_of else t
            root.last = max(root.last, i)
            t.last = max(t.last, i)
    out = tensors[plan.output]
    root = tensors[out.alias_of] if out.alias_of else out
    root.last = len(plan.layers)  # read back after the last layer
    blocks = []  # (name, size, first, last)
    for t in tensors.values():
        if t.name == "input" or t.alias_of or t.name in {lay.fused for lay in plan.layers}:
            continue
        blocks.append((t.name, t.size, t.first, t.last))
    for i, layer in enumerate(plan.layers):
        if layer.scratch:
            blocks.append((f"scratch:{layer.name}", layer.scratch, i, i))
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    offsets: dict[str, int] = {}
    for name, size, first, last in sorted(blocks, key=lambda b: (-b[1], b[2])):
        size_al = -(-size // ALIGN) * ALIGN
        clash = sorted(
            (o, s) for o, s, f, la in placed if not (la < first or last < f)
        )  # buffers alive at the same time
        pos = 0
        for o, s in clash:
            if pos + size_al <= o:
                break
            pos = max(pos, -(-(o + s) // ALIGN) * ALIGN)
        placed.append((pos, size_al, first, last))
        offsets[name] = pos
    for name, off in offsets.items():
        if name.startswith("scratch:"):
            layer = next(la for la in plan.layers if la.name == name[8:])
            layer.params["scratch"] = off
        else:
            tensors[name].offset = off
    for t in tensors.values():
        if t.alias_of:
            t.offset = tensors[t.alias_of].offset
    plan.arena_bytes = max((o + s for o, s, _, _ in placed), default=0)
    live = [
        sum(-(-s // ALIGN) * ALIGN for _, s, f, la in blocks if f <= i <= la)
        for i in range(len(plan.layers))
    ]
    plan.peak_live_bytes = max(live, default=0)
