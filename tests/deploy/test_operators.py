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


@pytest.fixture(scope="module")
def hand(tmp_path_factory, hand_model):
    model = hand_model
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


def test_hand_model_cortex_m55_helium_bit_exact(hand, tmp_path):
    """The Helium build runs the odd layers through the portable structure (MVE dot
    products): still exact."""
    from amrkit.deploy import mcu

    if mcu.toolchain_missing():
        pytest.skip(f"Cortex-M toolchain: {mcu.toolchain_missing()}")
    model, lib, iq = hand
    xq = model.quantize_input(iq[:10])
    run = mcu.measure(lib, tmp_path, xq, cpu="cortex-m55", mve=True)
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))
