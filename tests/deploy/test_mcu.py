"""The generated library on an emulated Cortex-M4 / M55 (arm-none-eabi-gcc + QEMU with
semihosting): bit-exact with the golden model; the instruction counter calibrated."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from amrkit.deploy import mcu
from amrkit.deploy.report import REPORT_FRAMES, mcu_report

MISSING = mcu.toolchain_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"Cortex-M toolchain: {MISSING}")


def _frames(model, deploy_iq: np.ndarray, n: int) -> np.ndarray:
    return model.quantize_input(deploy_iq[:: len(deploy_iq) // n][:n])


@pytest.fixture(scope="session")
def m4_optimized(libraries, deploy_iq, tmp_path_factory) -> dict:
    """The optimized network's DSP build on the Cortex-M4 (mps2-an386), 100 frames."""
    model, lib = libraries["optimized"]
    xq = _frames(model, deploy_iq, 100)
    run = mcu.measure(lib, tmp_path_factory.mktemp("m4"), xq, cpu="cortex-m4", dsp=True)
    return {"run": run, "xq": xq, "model": model}


def test_m4_dsp_bit_exact_100_frames(m4_optimized):
    run, model, xq = m4_optimized["run"], m4_optimized["model"], m4_optimized["xq"]
    assert len(run["logits"]) == 100
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))


def test_instruction_counter_calibration(m4_optimized):
    """A loop of known length (2 instructions × 10^6): SysTick at 25 MHz under
    -icount shift=0 counts one tick per 40 instructions."""
    cal = m4_optimized["run"]["calibration"]
    assert cal["instructions_per_tick"] == pytest.approx(40.0, rel=0.01)


def test_m4_measurements_are_sane(m4_optimized, libraries):
    run = m4_optimized["run"]
    macs = mcu.header_value(libraries["optimized"][1], "MACS")
    instr = run["instructions"]
    assert np.all(instr > macs / 2)  # SMLAD does 2 MACs: fewer cannot be
    assert np.ptp(instr) < 0.01 * instr.mean()  # the cost hardly depends on the frame
    assert 64 < run["stack_bytes"].max() < mcu.STACK_PAINT
    assert run["library"]["bss"] >= mcu.header_value(libraries["optimized"][1], "ARENA_BYTES")
    assert run["library"]["text"] > run["library"]["bss"]  # the weights are in flash


def test_m4_portable_c_and_original_bit_exact(libraries, deploy_iq, tmp_path):
    for name, dsp, n in (("optimized", False, 30), ("original", True, 12)):
        model, lib = libraries[name]
        xq = _frames(model, deploy_iq, n)
        run = mcu.measure(lib, tmp_path / f"{name}{dsp}", xq, cpu="cortex-m4", dsp=dsp)
        assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64)), name


def test_m4_corrupted_weight_is_caught(libraries, deploy_iq, tmp_path, corrupt):
    model, lib = libraries["optimized"]
    bad = tmp_path / "lib"
    shutil.copytree(lib, bad)
    corrupt(bad)
    xq = _frames(model, deploy_iq, 20)
    run = mcu.measure(bad, tmp_path / "run", xq, cpu="cortex-m4", dsp=True)
    assert not np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))


def test_m55_bit_exact(libraries, deploy_iq, tmp_path):
    model, lib = libraries["optimized"]
    xq = _frames(model, deploy_iq, 20)
    run = mcu.measure(lib, tmp_path, xq, cpu="cortex-m55", dsp=True)
    assert run["machine"] == "mps3-an547"
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))


def test_mcu_report(int8_models, tmp_path):
    r = mcu_report(int8_models["optimized"], tmp_path)
    assert r["toolchain_available"] and r["bit_exact"] and r["frames"] == REPORT_FRAMES
    assert r["variant"] == "dsp" and r["cpu"] == "cortex-m4"
    assert r["ram_bytes"] == (
        r["library_sizes"]["data"] + r["library_sizes"]["bss"] + r["stack_bytes"] + r["io_bytes"]
    )
    assert r["flash_bytes"] > r["arena_bytes"] > 0
    assert r["instructions_per_frame"] > r["macs_per_frame"] / 2
