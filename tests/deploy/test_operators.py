"""Every kernel of the generator on a hand-built integer network: reflect padding, a strided
dilated conv with a negative multiplier, a 3-wide padded max-pool (fused: min of the
accumulators where M0 < 0), ReLU, a uint8 re-scale, an average pool, a reshape and a dense
layer with an int8 output — on the host (portable C) and on the Cortex-M4 (DSP kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from amrkit.deploy import write_library
from amrkit.deploy.host import (
    build_host,
    channel_last,
    find_cc,
    frames_file,
    read_dump,
    run_example,
)
from amrkit.deploy.plan import build_plan
from amrkit.golden.model import IntegerModel
from amrkit.golden.ops import (
    Conv1d,
    Dense,
    MaxPool1d,
    Mean,
    Pad1d,
    Relu,
    Requant,
    Rescale,
    Reshape,
)

ROUNDING = "float32"


def _requant(op, real, zp: int, dtype: str = "int8") -> None:
    op.requant = Requant.from_real(np.asarray(real), zp, dtype, False, ROUNDING, op.acc_bound())


def hand_model() -> IntegerModel:
    rng = np.random.default_rng(11)
    pad = Pad1d("pad", ["input"], (2, 64), (2, 68), pads=(2, 2), mode="reflect")
    w, wzp = rng.integers(-90, 90, (5, 2, 3)).astype(np.int8), np.zeros(5, np.int64)
    conv = Conv1d("conv", ["pad"], (2, 68), (5, 33), input_zero_point=3,
                  bias=rng.integers(-500, 500, 5), weight=w, weight_zero_point=wzp,
                  pads=(1, 0), stride=2, dilation=2)  # fmt: skip
    _requant(conv, [0.004, -0.003, 0.005, 0.002, -0.006], -5)
    pool = MaxPool1d("pool", ["conv"], (5, 33), (5, 17), kernel=3, stride=2, pads=(1, 1))
    relu = Relu("relu", ["pool"], (5, 17), (5, 17), zero_point=-2)
    rs = Rescale("rs", ["relu"], (5, 17), (5, 17), input_zero_point=-5, bias=rng.integers(-9, 9, 5))
    _requant(rs, [0.7, 1.3, 0.9, 1.1, 0.5], 100, "uint8")
    gap = Mean("gap", ["rs"], (5, 17), (5, 1), input_zero_point=100, input_dtype="uint8", count=17,
               bias=np.zeros(5, np.int64))  # fmt: skip
    _requant(gap, [0.8 / 17] * 5, 4)
    flat = Reshape("flat", ["gap"], (5, 1), (5,))
    fc = Dense("fc", ["flat"], (5,), (4,), input_zero_point=4, bias=rng.integers(-99, 99, 4),
               weight=rng.integers(-127, 127, (4, 5)).astype(np.int8),
               weight_zero_point=np.zeros(4, np.int64))  # fmt: skip
    _requant(fc, [0.01, 0.02, 0.015, 0.03], 7)
    ops = [pad, conv, pool, relu, rs, gap, flat, fc]
    return IntegerModel(0.05, 3, "int8", (2, 64), ops, "fc", np.full(4, 0.1), 7, (4,), ROUNDING)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    model = hand_model()
    lib = tmp_path_factory.mktemp("hand") / "c"
    write_library(model, lib)
    iq = np.random.default_rng(0).standard_normal((40, 2, 64)).astype(np.float32)
    return model, lib, iq


def test_plan_fuses_the_pool_and_shifts_uint8(hand):
    model, _, _ = hand
    plan = build_plan(model)
    conv = next(la for la in plan.layers if la.name == "conv")
    assert conv.fused == "conv" and conv.dst == "pool" and conv.params["pk"] == 3
    assert plan.tensors["rs"].offset_int == -128 and plan.tensors["conv"].offset_int == 0
    assert plan.tensors["flat"].alias_of == "gap"


@pytest.mark.skipif(find_cc() is None, reason="no host C compiler 'cc' on PATH")
def test_hand_model_host_bit_exact(hand, tmp_path):
    model, lib, iq = hand
    exe = build_host(lib, tmp_path / "hand.exe", debug=True)
    got = run_example(exe, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize", num_classes=4)
    _, want = model.run(iq)
    assert np.array_equal(got, want.astype(np.int64))
    trace = {"input": model.quantize_input(iq)}
    model.run_integer(trace["input"], trace=trace)
    plan = build_plan(model)
    dumped = read_dump(tmp_path / "f.cf32.dump")
    assert set(dumped) == {"input"} | {op.name for op in model.ops}
    for name, frames_c in dumped.items():
        got_t = np.stack(frames_c).astype(np.int64) - plan.tensors[name].offset_int
        assert np.array_equal(got_t, channel_last(trace[name]).astype(np.int64)), name


def test_hand_model_cortex_m4_dsp_bit_exact(hand, tmp_path):
    from amrkit.deploy import mcu

    if mcu.toolchain_missing():
        pytest.skip(f"Cortex-M toolchain: {mcu.toolchain_missing()}")
    model, lib, iq = hand
    xq = model.quantize_input(iq[:10])
    run = mcu.measure(lib, tmp_path, xq, cpu="cortex-m4", dsp=True)
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))
