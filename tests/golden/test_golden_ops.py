"""Integer kernels of the golden model: multiplier decomposition, rounding, requantization,
conv / dense / pooling against plain references (no ONNX involved)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.errors import AmrkitError
from amrkit.golden.ops import (
    ROUNDING_MODES,
    Conv1d,
    Dense,
    MaxPool1d,
    Mean,
    Requant,
    decompose_multiplier,
    pool_out_length,
    rounding_shift,
    signed_bits,
)

EXACT_MODES = tuple(m for m in ROUNDING_MODES if m != "float32")  # round acc·M once


def exact_round(value: Fraction, mode: str) -> int:
    """Reference rounding of a rational to the nearest integer with the given ties rule."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2):
        return floor + 1
    if rest < Fraction(1, 2):
        return floor
    if mode == "half_even":
        return floor + (floor % 2)
    if mode == "half_away":
        return floor + 1 if value > 0 else floor
    return floor + 1  # half_up


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=2.0**-32, max_value=2.0**20, allow_nan=False, allow_infinity=False),
    st.booleans(),
)
def test_multiplier_decomposition_is_within_2_pow_minus_30(m, negative):
    m = -m if negative else m
    m0, n = decompose_multiplier(m)
    assert 2**30 <= abs(m0) < 2**31  # a full-precision 31-bit magnitude (int32 storable)
    assert 0 <= n <= 62
    approx = Fraction(m0, 2**n)
    assert abs(approx - Fraction(m)) <= Fraction(abs(m)) * Fraction(1, 2**30)
    assert (m0 < 0) == negative


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=2**24 - 1), st.integers(min_value=-60, max_value=6))
def test_float32_multipliers_are_represented_exactly(mantissa, exp):
    """ORT's multipliers are float32: 24-bit mantissas fit M0 exactly, so M0·2^-n == M."""
    m = float(np.float32(mantissa * 2.0**exp))
    m0, n = decompose_multiplier(m)
    assert Fraction(m0, 2**n) == Fraction(m)


def test_multiplier_edge_cases():
    assert decompose_multiplier(0.0) == (0, 0)
    m0, n = decompose_multiplier(1.0)
    assert (m0, n) == (2**30, 30)
    for tiny in (2.0**-40, 2.0**-70):  # n capped at 62: absolute error <= 2^-63
        m0, n = decompose_multiplier(tiny)
        assert n == 62 and abs(Fraction(m0, 2**n) - Fraction(tiny)) <= Fraction(1, 2**63)
    with pytest.raises(AmrkitError, match="not finite"):
        decompose_multiplier(float("nan"))
    with pytest.raises(AmrkitError):
        decompose_multiplier(2.0**40)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=-(2**61), max_value=2**61),
    st.integers(min_value=0, max_value=62),
    st.sampled_from(EXACT_MODES),
)
def test_rounding_shift_matches_exact_rounding(p, n, mode):
    got = int(rounding_shift(np.array([p], np.int64), n, mode)[0])
    assert got == exact_round(Fraction(p, 2**n), mode)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_requant_apply_equals_reference(data):
    """The fast in-place requant equals round(acc·M0·2^-n) + zp, saturated, per channel."""
    channels = data.draw(st.integers(1, 4))
    per_channel = data.draw(st.booleans()) and channels > 1
    mode = data.draw(st.sampled_from(EXACT_MODES))
    dtype = data.draw(st.sampled_from(["int8", "uint8"]))
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    zp = data.draw(st.integers(lo, hi))
    relu = data.draw(st.booleans())
    reals = data.draw(st.lists(st.floats(1e-6, 4.0), min_size=channels, max_size=channels))
    signs = data.draw(st.lists(st.sampled_from([1, -1]), min_size=channels, max_size=channels))
    reals = [r * g for r, g in zip(reals, signs, strict=True)]  # negative: folded BN scales
    reals = reals if per_channel else reals[:1]
    acc = np.array(
        data.draw(
            st.lists(st.integers(-(2**24), 2**24), min_size=channels * 3, max_size=channels * 3)
        ),
        np.int32,
    ).reshape(1, channels, 3)
    rq = Requant.from_real(np.array(reals), zp, dtype, relu, mode, acc_bound=2**24)
    out = rq.apply(acc)
    assert out.dtype == np.dtype(dtype)
    for c in range(channels):
        k = c if per_channel else 0
        m0, n = int(rq.multiplier[k]), int(rq.shift[k])
        for t in range(3):
            v = exact_round(Fraction(int(acc[0, c, t]) * m0, 2**n), mode) + zp
            v = min(max(v, zp if relu else lo), hi)
            assert int(out[0, c, t]) == v


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(2**24), 2**24), min_size=1, max_size=64),
    st.floats(2**-23, 8.0, width=32),
    st.integers(-128, 127),
)
def test_float32_requant_is_ieee_float32_multiply_then_rint(accs, real, zp):
    """The default rounding reproduces ONNX Runtime's requantization,
    rint(float32(acc) · float32(M)) + zp, with integers alone."""
    m = np.float32(real)
    acc = np.array(accs, np.int64).reshape(1, 1, -1)
    rq = Requant.from_real(np.array([m]), zp, "int32", False, "float32", acc_bound=2**24)
    expected = np.rint(acc.astype(np.float32) * m).astype(np.int64) + zp
    assert np.array_equal(rq.apply(acc).astype(np.int64), expected)


def test_float32_rounding_differs_from_exact_rounding_near_ties():
    """Control: the exact product 5973·M = 35.49999964 rounds to 35, its float32 to 35.5 → 36."""
    m = np.float32(35.49999964 / 5973)
    acc = np.array([[[5973]]], np.int64)
    exact = Requant.from_real(np.array([m]), 0, "int32", False, "half_even", acc_bound=2**24)
    f32 = Requant.from_real(np.array([m]), 0, "int32", False, "float32", acc_bound=2**24)
    assert int(np.rint(np.float32(5973) * m)) == int(f32.apply(acc)[0, 0, 0])
    assert int(exact.apply(acc)[0, 0, 0]) != int(f32.apply(acc)[0, 0, 0])


def test_requant_keeps_products_inside_int64():
    """A huge accumulator bound drops low multiplier bits instead of overflowing."""
    rq = Requant.from_real(np.array([0.7]), 0, "int8", False, "half_even", acc_bound=2**40)
    assert 2**40 * abs(int(rq.multiplier[0])) < 2**62
    acc = np.array([[[2**40 // 3]]], np.int64)
    expected = exact_round(Fraction(int(acc[0, 0, 0]) * 7, 10), "half_even")
    assert int(Requant.apply(rq, acc)[0, 0, 0]) == min(expected, 127)


def test_signed_bits():
    assert signed_bits(127) == 8
    assert signed_bits(128) == 9
    assert signed_bits(0) == 1
    assert signed_bits(2**31 - 1) == 32


def naive_conv(x, w, bias, zp_x, zp_w, pads, stride, dil):
    n, cin, length = x.shape
    cout, _, k = w.shape
    xp = np.zeros((n, cin, length + sum(pads)), np.int64)
    xp[:, :, pads[0] : pads[0] + length] = x.astype(np.int64) - zp_x
    lout = (xp.shape[2] - dil * (k - 1) - 1) // stride + 1
    out = np.zeros((n, cout, lout), np.int64)
    for b in range(n):
        for o in range(cout):
            for t in range(lout):
                s = int(bias[o])
                for c in range(cin):
                    for j in range(k):
                        s += int(xp[b, c, t * stride + j * dil]) * (int(w[o, c, j]) - int(zp_w[o]))
                out[b, o, t] = s
    return out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_conv1d_accumulator_equals_naive_loop(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    cin, cout = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k, stride, dil = (
        data.draw(st.integers(1, 4)),
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(1, 2)),
    )
    pads = (data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)))
    length = data.draw(st.integers(dil * (k - 1) + 1, 12))
    dtype = data.draw(st.sampled_from(["int8", "uint8"]))
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (2, cin, length)).astype(dtype)
    w = rng.integers(-128, 128, (cout, cin, k)).astype(np.int8)
    zp_w = rng.integers(-3, 4, cout)
    zp_x = int(rng.integers(info.min, info.max + 1))
    bias = rng.integers(-(2**20), 2**20, cout).astype(np.int32)
    op = Conv1d(
        "c",
        ["input"],
        (cin, length),
        (cout, 0),
        weight=w,
        weight_zero_point=zp_w,
        input_zero_point=zp_x,
        input_dtype=dtype,
        bias=bias,
        pads=pads,
        stride=stride,
        dilation=dil,
        acc_dtype="int64",
    )
    acc = op.accumulate(x)
    assert acc.dtype.kind == "i"
    np.testing.assert_array_equal(acc, naive_conv(x, w, bias, zp_x, zp_w, pads, stride, dil))
    assert np.abs(acc).max() <= op.acc_bound()


def test_dense_and_mean_accumulators():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (5, 7)).astype(np.uint8)
    w = rng.integers(-128, 128, (3, 7)).astype(np.int8)
    op = Dense(
        "fc",
        ["input"],
        (7,),
        (3,),
        weight=w,
        weight_zero_point=np.zeros(3, np.int64),
        input_zero_point=10,
        input_dtype="uint8",
        bias=np.array([1, -2, 3], np.int32),
    )
    expected = (x.astype(np.int64) - 10) @ w.T.astype(np.int64) + np.array([1, -2, 3])
    np.testing.assert_array_equal(op.accumulate(x), expected)
    xm = rng.integers(-128, 128, (2, 4, 9)).astype(np.int8)
    mean = Mean(
        "gap",
        ["input"],
        (4, 9),
        (4, 1),
        axes=(2,),
        keepdims=True,
        count=9,
        input_zero_point=-128,
        input_dtype="int8",
    )
    np.testing.assert_array_equal(
        mean.accumulate(xm), (xm.astype(np.int64) + 128).sum(axis=2, keepdims=True)
    )
    assert mean.acc_bound() == 9 * 255


def naive_maxpool(x, kernel, stride, pads, lout):
    out = np.empty(x.shape[:2] + (lout,), x.dtype)
    for t in range(lout):
        idx = [t * stride - pads[0] + j for j in range(kernel)]
        idx = [i for i in idx if 0 <= i < x.shape[2]]
        out[:, :, t] = x[:, :, idx].max(axis=2)
    return out


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(
    ("kernel", "stride", "pads"), [(2, 2, (0, 0)), (3, 2, (1, 1)), (3, 1, (0, 2)), (4, 3, (2, 1))]
)
def test_maxpool_matches_reference(kernel, stride, pads, ceil_mode):
    import torch

    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (2, 3, 11)).astype(np.int8)
    op = MaxPool1d(
        "p",
        ["input"],
        (3, 11),
        (3, 0),
        kernel=kernel,
        stride=stride,
        pads=pads,
        ceil_mode=ceil_mode,
    )
    out = op.run(x)
    lout = pool_out_length(11, kernel, stride, pads, 1, ceil_mode)
    assert out.dtype == np.int8 and out.shape == (2, 3, lout)
    np.testing.assert_array_equal(out, naive_maxpool(x, kernel, stride, pads, lout))
    if pads[0] == pads[1]:  # torch pads symmetrically: cross-check the length rule too
        ref = torch.nn.functional.max_pool1d(
            torch.from_numpy(x.astype(np.float32)), kernel, stride, pads[0], ceil_mode=ceil_mode
        ).numpy()
        np.testing.assert_array_equal(out, ref.astype(np.int8))
