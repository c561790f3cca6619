"""Integer kernels of the golden model: requantization and the layer operators.

Every operator here takes integer arrays and returns integer arrays; no float enters the
layer loop. Floats appear only while *building* the operators (scales → integer multipliers)
and at the two boundaries owned by :class:`amrkit.golden.model.IntegerModel` (input
quantization, output dequantization).

Conventions: activations are ``(n, C, L)`` (conv part) or ``(n, C)`` (classifier part), the
channel axis is 1, the batch axis 0 is never touched by shape operators. Accumulators are
int32 when the layer's worst-case bound fits in 31 bits, int64 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from amrkit.errors import AmrkitError

# "float32" (default): ONNX Runtime's requantization round_half_even(float32(acc) · float32(M))
# reproduced in integers; the others round the exact product acc · M once.
ROUNDING_MODES = ("float32", "half_even", "half_away", "half_up")
FLOAT32_BITS = 24  # significand bits of a float32
M0_BITS = 31  # |M0| in [2^30, 2^31): a 31-bit magnitude, fits a signed int32
MAX_SHIFT = 62
INT_DTYPES = ("int8", "uint8", "int16", "uint16", "int32")
_CHUNK = 1 << 17  # elements per requantization slice (int64 temporaries of 1 MiB)

REQUANT_FORMULA = (
    "y = clamp(round_shift(r24(acc * M0), n) + zp_out, lo, hi); acc = sum((x - zp_x) * (w - zp_w)) "
    "+ bias; round_shift(p, n) = p / 2^n rounded to nearest, ties by 'rounding'; "
    "r24(p) = p rounded to 24 significant bits, ties to even, for rounding 'float32' "
    "(= ONNX Runtime's float32 product), else p; M0 * 2^-n = float32(s_x * s_w / s_y)"
)


# ---- requantization ----------------------------------------------------------------------
def decompose_multiplier(m: float, bits: int = M0_BITS) -> tuple[int, int]:
    """Real multiplier ``m`` → integers ``(M0, n)`` with ``m ≈ M0 · 2^-n``.

    ``|M0|`` lies in ``[2^(bits-1), 2^bits)`` (full precision; relative error ≤ 2^-bits) and
    carries the sign of ``m``; ``n`` may be 0..62. Zero gives ``(0, 0)``. Multipliers so small
    that ``n`` would exceed 62 lose low bits of ``M0`` (their products are < 2^-31 anyway).
    """
    if not math.isfinite(m):
        raise AmrkitError(f"requantization multiplier {m!r} is not finite; check the scales")
    if m == 0.0:
        return 0, 0
    frac, exp = math.frexp(abs(m))  # |m| = frac · 2^exp, frac in [0.5, 1)
    m0 = round(frac * (1 << bits))
    if m0 == 1 << bits:  # rounding carried into the next power of two
        m0 >>= 1
        exp += 1
    n = bits - exp
    if n < 0:
        raise AmrkitError(
            f"requantization multiplier {m:g} is >= 2^{bits}; such scales are not a "
            "quantized network's (check the QuantizeLinear scales)"
        )
    if n > MAX_SHIFT:
        drop = n - MAX_SHIFT
        m0 = (m0 + (1 << (drop - 1))) >> drop
        n = MAX_SHIFT
    return (m0 if m > 0 else -m0), n


def rounding_shift(prod: np.ndarray, shift: np.ndarray | int, rounding: str) -> np.ndarray:
    """``prod / 2^shift`` rounded to the nearest integer (int64 in, int64 out).

    Ties: ``half_even`` (``float32`` requantization ends with it too), ``half_away`` (from
    zero), ``half_up`` (toward +inf: add 2^(n-1), arithmetic shift — the cheapest in hardware).
    """
    prod = np.asarray(prod, dtype=np.int64)
    n = np.asarray(shift, dtype=np.int64)
    one = np.int64(1)
    floor = np.right_shift(prod, n)
    rem = prod - np.left_shift(floor, n)  # in [0, 2^n)
    half = np.right_shift(np.left_shift(one, n), one)  # 2^(n-1); 0 when n == 0
    above = rem > half
    tie = (rem == half) & (half > 0)
    if rounding in ("half_even", "float32"):
        up = above | (tie & ((floor & one) == one))
    elif rounding == "half_away":
        up = above | (tie & (prod > 0))
    elif rounding == "half_up":
        up = above | tie
    else:
        raise AmrkitError(f"rounding {rounding!r} is not one of {', '.join(ROUNDING_MODES)}")
    return floor + up.astype(np.int64)


def round_significant(p: np.ndarray, bits: int = FLOAT32_BITS) -> np.ndarray:
    """``p`` (int64) rounded to ``bits`` significant bits, ties to even — what converting an
    integer to a float with a ``bits``-bit significand does (exact below 2^bits)."""
    p = np.asarray(p, dtype=np.int64)
    a = np.abs(p)
    e = np.frexp(a.astype(np.float64))[1].astype(np.int64)  # bit length, or one more
    e -= (np.right_shift(a, np.maximum(e - 1, 0)) == 0) & (a > 0)  # float64 rounded up
    drop = np.maximum(e - bits, 0)
    a = np.left_shift(rounding_shift(a, drop, "half_even"), drop)
    return np.where(p < 0, -a, a)


def dtype_range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


def signed_bits(value: int) -> int:
    """Bits of a two's-complement register that holds every integer in [-value, value]."""
    return int(value).bit_length() + 1


def _channel_view(a: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) per-channel parameter → broadcastable over an ``ndim`` activation (axis 1)."""
    a = np.asarray(a)
    if a.size == 1:
        return a.reshape(())
    return a.reshape((1, -1) + (1,) * (ndim - 2))


@dataclass
class Requant:
    """acc (int) → output integers: ``clamp(round_shift(acc·M0, n) + zero_point, lo, hi)``.

    ``multiplier``/``shift`` are (C,) int64 (per output channel) or (1,) (per tensor).
    ``lo``/``hi`` are the output type's range, narrowed to ``lo = zero_point`` by a fused ReLU.
    ``real`` (float64, informational only) is the multiplier they encode.
    """

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: int
    hi: int
    dtype: str
    rounding: str = "float32"
    real: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def from_real(
        cls,
        real: np.ndarray,
        zero_point: int,
        dtype: str,
        relu: bool,
        rounding: str,
        acc_bound: int,
    ) -> Requant:
        real = np.atleast_1d(np.asarray(real, dtype=np.float64))
        pairs = [decompose_multiplier(float(m)) for m in real]
        m0 = np.array([p[0] for p in pairs], dtype=np.int64)
        n = np.array([p[1] for p in pairs], dtype=np.int64)
        # acc · M0 must fit int64: drop low bits of M0 where the worst-case product would not
        for i in range(len(m0)):
            excess = (int(acc_bound) * abs(int(m0[i]))).bit_length() - 62
            drop = min(excess, int(n[i]))
            if drop > 0:
                mag = (abs(int(m0[i])) + (1 << (drop - 1))) >> drop
                m0[i] = mag if m0[i] > 0 else -mag
                n[i] -= drop
        lo, hi = dtype_range(dtype)
        if relu:
            lo = max(lo, int(zero_point))
        return cls(m0, n, int(zero_point), lo, hi, dtype, rounding, real)

    def apply(self, acc: np.ndarray, axis: int = 1) -> np.ndarray:
        """Requantize ``acc`` whose channels lie along ``axis`` (not 0, the batch).

        Runs over slices of the batch so the int64 temporaries stay in cache.
        """
        per = max(1, _CHUNK // max(1, acc[0].size)) if acc.ndim > 1 and len(acc) else 1
        if acc.ndim < 2 or len(acc) <= per:
            return self._apply(acc, axis)
        out = np.empty_like(acc, dtype=self.dtype)  # same memory layout as acc
        for i in range(0, len(acc), per):
            out[i : i + per] = self._apply(acc[i : i + per], axis)
        return out

    def _apply(self, acc: np.ndarray, axis: int) -> np.ndarray:
        """Same result as :func:`rounding_shift` (tested), in few in-place int64 passes:
        ``half_even`` is ``(p + 2^(n-1) - 1 + bit_n(p)) >> n``, ``half_away`` is
        ``(p + 2^(n-1) - [p < 0]) >> n``, ``half_up`` is ``(p + 2^(n-1)) >> n``; ``float32``
        first rounds ``acc`` and ``p`` to 24 significant bits (ONNX Runtime's float32
        ``float(acc) · M``), then rounds like ``half_even``.
        """
        shape = [1] * acc.ndim
        if self.multiplier.size > 1:
            shape[axis] = -1
        m0 = self.multiplier.astype(np.int64).reshape(shape)
        n = self.shift.astype(np.int64).reshape(shape)
        half = np.where(n > 0, np.left_shift(np.int64(1), np.maximum(n - 1, 0)), 0)
        if self.rounding == "float32":
            if np.abs(acc).max(initial=0) >= 1 << FLOAT32_BITS:
                acc = round_significant(acc)  # float32(acc) is inexact only from 2^24 on
            p = round_significant(np.multiply(acc, m0, dtype=np.int64))
        else:
            p = np.multiply(acc, m0, dtype=np.int64)  # int64, |p| < 2^62 by construction
        if self.rounding in ("half_even", "float32"):
            bit = np.right_shift(p, n)
            np.bitwise_and(bit, np.where(n > 0, 1, 0), out=bit)
            p += bit
            p += np.maximum(half - 1, 0)
        elif self.rounding == "half_away":
            p += half
            p -= (p < half) & (half > 0)  # p < 0 before adding half
        elif self.rounding == "half_up":
            p += half
        else:
            raise AmrkitError(
                f"rounding {self.rounding!r} is not one of {', '.join(ROUNDING_MODES)}"
            )
        np.right_shift(p, n, out=p)
        p += self.zero_point
        np.clip(p, self.lo, self.hi, out=p)
        return p.astype(self.dtype)

    def describe(self) -> dict[str, Any]:
        return {
            "zero_point": self.zero_point,
            "lo": self.lo,
            "hi": self.hi,
            "dtype": self.dtype,
            "rounding": self.rounding,
            "multiplier_bits": M0_BITS,
            "real_multiplier": [float(v) for v in np.atleast_1d(self.real)],
        }


# ---- operators ---------------------------------------------------------------------------
@dataclass
class Op:
    """One integer operator: reads ``inputs`` (tensor ids), writes the tensor ``name``."""

    name: str
    inputs: list[str]
    in_shape: tuple[int, ...]  # per frame (no batch)
    out_shape: tuple[int, ...]
    source: str = ""  # the ONNX node(s) it came from
    notes: str = ""  # how the ONNX pattern was lowered, where it is not plain QDQ
    kind: ClassVar[str] = "op"
    arrays: ClassVar[tuple[str, ...]] = ()  # fields dumped as .npy

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def accumulates(self) -> bool:
        return False


@dataclass
class AccumulatingOp(Op):
    """An operator with an accumulator: conv, dense, mean (sum), rescale.

    ``requant`` is None only for a network output left un-requantized (logits read straight
    from the accumulator); ``relu`` then clamps the accumulator at 0.
    """

    input_zero_point: int = 0
    input_dtype: str = "int8"
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # (C,) acc units
    requant: Requant | None = None
    relu: bool = False
    acc_dtype: str = "int32"

    @property
    def accumulates(self) -> bool:
        return True

    def x_max(self) -> int:
        lo, hi = dtype_range(self.input_dtype)
        return max(hi - self.input_zero_point, self.input_zero_point - lo)

    def channel_bounds(self) -> np.ndarray:  # (C,) worst-case |acc| per output channel
        raise NotImplementedError

    def acc_bound(self) -> int:
        return int(np.max(self.channel_bounds()))

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def finish(self, acc: np.ndarray) -> np.ndarray:
        if self.requant is None:
            return np.maximum(acc, 0) if self.relu else acc
        return self.requant.apply(acc)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.finish(self.accumulate(x))

    def centered(self, x: np.ndarray) -> np.ndarray:
        return x.astype(self.acc_dtype) - np.array(self.input_zero_point, self.acc_dtype)


@dataclass
class Conv1d(AccumulatingOp):
    """acc[n, o, t] = Σ_c Σ_k (x[n, c, t·s + k·d − pad_l] − zp_x)(w[o, c, k] − zp_w[o]) + bias[o].

    Padding inserts zero *real* values, i.e. ``x = zp_x`` (0 after centering).
    """

    weight: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 1), np.int8))
    weight_zero_point: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    pads: tuple[int, int] = (0, 0)
    stride: int = 1
    dilation: int = 1
    kind: ClassVar[str] = "conv1d"
    arrays: ClassVar[tuple[str, ...]] = ("weight", "weight_zero_point", "bias")

    def __post_init__(self) -> None:
        wzp = np.asarray(self.weight_zero_point).reshape(-1, 1, 1)
        self._w = (self.weight.astype(np.int32) - wzp.astype(np.int32)).astype(self.acc_dtype)
        cout, cin, k = self._w.shape
        self._wmat = np.ascontiguousarray(self._w.reshape(cout, cin * k).T)  # (cin·k, cout)

    def channel_bounds(self) -> np.ndarray:
        return np.abs(self._w.astype(np.int64)).sum(axis=(1, 2)) * self.x_max() + np.abs(
            self.bias.astype(np.int64)
        )

    def accumulate(self, x: np.ndarray) -> np.ndarray:  # (n, cin, L) → (n, cout, Lout)
        xc = self.centered(x)
        if any(self.pads):
            xc = np.pad(xc, ((0, 0), (0, 0), tuple(self.pads)))
        cout, cin, k = self._w.shape
        span = self.dilation * (k - 1) + 1
        win = sliding_window_view(xc, span, axis=2)[:, :, :: self.stride, :: self.dilation]
        n, _, lout, _ = win.shape
        cols = np.ascontiguousarray(win.transpose(0, 2, 1, 3)).reshape(n * lout, cin * k)
        acc = np.einsum("ik,kj->ij", cols, self._wmat)  # (n·lout, cout)
        acc = acc.reshape(n, lout, cout).transpose(0, 2, 1)
        return acc + self.bias.astype(self.acc_dtype).reshape(1, -1, 1)


@dataclass
class Dense(AccumulatingOp):
    """acc[n, o] = Σ_c (x[n, c] − zp_x)(w[o, c] − zp_w[o]) + bias[o]  (Gemm, MatMul)."""

    weight: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), np.int8))
    weight_zero_point: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    kind: ClassVar[str] = "dense"
    arrays: ClassVar[tuple[str, ...]] = ("weight", "weight_zero_point", "bias")

    def __post_init__(self) -> None:
        wzp = np.asarray(self.weight_zero_point).reshape(-1, 1)
        self._w = (self.weight.astype(np.int32) - wzp.astype(np.int32)).astype(self.acc_dtype)
        self._wmat = np.ascontiguousarray(self._w.T)

    def channel_bounds(self) -> np.ndarray:
        return np.abs(self._w.astype(np.int64)).sum(axis=1) * self.x_max() + np.abs(
            self.bias.astype(np.int64)
        )

    def accumulate(self, x: np.ndarray) -> np.ndarray:  # (n, cin) → (n, cout)
        acc = np.einsum("ik,kj->ij", self.centered(x), self._wmat)
        return acc + self.bias.astype(self.acc_dtype).reshape(1, -1)


@dataclass
class Mean(AccumulatingOp):
    """Average pool in integers: acc = Σ (x − zp_x) over ``axes`` (+ bias), and the requant
    multiplier carries the 1/count: ``M = s_x / (count · s_y)``."""

    axes: tuple[int, ...] = (2,)
    keepdims: bool = True
    count: int = 1
    kind: ClassVar[str] = "mean"
    arrays: ClassVar[tuple[str, ...]] = ("bias",)

    def channel_bounds(self) -> np.ndarray:
        return self.count * self.x_max() + np.abs(np.atleast_1d(self.bias).astype(np.int64))

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        acc = self.centered(x).sum(axis=self.axes, keepdims=self.keepdims, dtype=self.acc_dtype)
        return acc + _channel_view(self.bias.astype(self.acc_dtype), acc.ndim)


@dataclass
class Rescale(AccumulatingOp):
    """Elementwise change of scale: acc = (x − zp_x) + bias[c]; a (per-channel) multiplier.

    Used where a QuantizeLinear re-quantizes a tensor at another scale, and for an FP32
    BatchNormalization between two QDQ pairs when it is exactly representable.
    """

    kind: ClassVar[str] = "rescale"
    arrays: ClassVar[tuple[str, ...]] = ("bias",)

    def channel_bounds(self) -> np.ndarray:
        return self.x_max() + np.abs(np.atleast_1d(self.bias).astype(np.int64))

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        xc = self.centered(x)
        return xc + _channel_view(self.bias.astype(self.acc_dtype), xc.ndim)


@dataclass
class MaxPool1d(Op):
    """Integer max-pool over the last axis; padding never wins (dtype minimum)."""

    kernel: int = 2
    stride: int = 2
    pads: tuple[int, int] = (0, 0)
    dilation: int = 1
    ceil_mode: bool = False
    kind: ClassVar[str] = "maxpool1d"

    def run(self, x: np.ndarray) -> np.ndarray:
        length = x.shape[-1]
        lout = pool_out_length(
            length, self.kernel, self.stride, self.pads, self.dilation, self.ceil_mode
        )
        span = self.dilation * (self.kernel - 1) + 1
        need = (lout - 1) * self.stride + span  # padded length the windows reach
        right = max(0, need - length - self.pads[0])
        lo = np.iinfo(x.dtype).min
        if self.pads[0] or right:
            x = np.pad(x, ((0, 0), (0, 0), (self.pads[0], right)), constant_values=lo)
        win = sliding_window_view(x, span, axis=2)[:, :, :: self.stride, :: self.dilation]
        return win[:, :, :lout].max(axis=-1)


def pool_out_length(
    length: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int, ceil_mode: bool
) -> int:
    span = dilation * (kernel - 1) + 1
    total = length + pads[0] + pads[1] - span
    lout = (-(-total // stride) if ceil_mode else total // stride) + 1
    if ceil_mode and (lout - 1) * stride >= length + pads[0]:
        lout -= 1  # the last window may not start in the right padding
    return lout


@dataclass
class Pad1d(Op):
    """Pad the last axis: ``constant`` with an integer value (a real 0 is ``zp``), ``edge``,
    ``reflect``."""

    pads: tuple[int, int] = (0, 0)
    mode: str = "constant"
    value: int = 0
    kind: ClassVar[str] = "pad1d"

    def run(self, x: np.ndarray) -> np.ndarray:
        width = ((0, 0),) * (x.ndim - 1) + (tuple(self.pads),)
        if self.mode == "constant":
            return np.pad(x, width, constant_values=np.array(self.value, x.dtype))
        return np.pad(x, width, mode=self.mode)


@dataclass
class Relu(Op):
    """ReLU on quantized values: max(x, zp)."""

    zero_point: int = 0
    kind: ClassVar[str] = "relu"

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, np.array(self.zero_point, x.dtype))


@dataclass
class Reshape(Op):
    """Reshape / Flatten / Squeeze / Unsqueeze: the frame part becomes ``out_shape``."""

    kind: ClassVar[str] = "reshape"

    def run(self, x: np.ndarray) -> np.ndarray:
        return x.reshape((x.shape[0], *self.out_shape))


OP_TYPES: dict[str, type[Op]] = {
    cls.kind: cls for cls in (Conv1d, Dense, Mean, Rescale, MaxPool1d, Pad1d, Relu, Reshape)
}


def op_params(op: Op) -> dict[str, Any]:
    """The non-array fields of ``op`` (JSON-ready), requant excluded."""
    out: dict[str, Any] = {}
    for f in fields(op):
        if f.name in op.arrays or f.name == "requant":
            continue
        value = getattr(op, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
