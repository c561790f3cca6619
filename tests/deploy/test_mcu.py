"""The generated library on an emulated Cortex-M4 / M55 (arm-none-eabi-gcc + QEMU with
semihosting): bit-exact with the golden model (the M55 also with its Helium kernels); the
instruction counter calibrated."""

from __future__ import annotations

import shutil
import subprocess

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


@pytest.fixture(scope="session")
def m55_helium(libraries, deploy_iq, tmp_path_factory) -> dict:
    """The optimized network's Helium (MVE) build on the Cortex-M55 (mps3-an547), 100 frames."""
    model, lib = libraries["optimized"]
    xq = _frames(model, deploy_iq, 100)
    run = mcu.measure(lib, tmp_path_factory.mktemp("m55"), xq, cpu="cortex-m55", mve=True)
    return {"run": run, "xq": xq, "model": model}


def test_m55_helium_bit_exact_100_frames(m55_helium):
    run, model, xq = m55_helium["run"], m55_helium["model"], m55_helium["xq"]
    assert run["machine"] == "mps3-an547" and run["variant"] == "mve"
    assert len(run["logits"]) == 100
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))


def test_m55_helium_runs_vector_instructions(m55_helium, libraries):
    """VMLADAVA does 16 MACs: the Helium build executes fewer instructions than MACs / 2 (what
    SMLAD's 2 MACs allow), so the vector kernels ran; its ELF holds them."""
    run = m55_helium["run"]
    macs = mcu.header_value(libraries["optimized"][1], "MACS")
    assert np.all(run["instructions"] < macs / 2)
    assert np.ptp(run["instructions"]) < 0.01 * run["instructions"].mean()
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", run["elf"]], capture_output=True,
                         text=True).stdout  # fmt: skip
    assert "vmladava" in dis or "cdp" in dis  # objdump may not name MVE instructions


def test_m55_helium_original_and_corrupted_weight(libraries, deploy_iq, tmp_path, corrupt):
    model, lib = libraries["original"]
    xq = _frames(model, deploy_iq, 12)
    run = mcu.measure(lib, tmp_path / "orig", xq, cpu="cortex-m55", mve=True)
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))
    model, lib = libraries["optimized"]
    bad = tmp_path / "lib"
    shutil.copytree(lib, bad)
    corrupt(bad)
    xq = _frames(model, deploy_iq, 20)
    run = mcu.measure(bad, tmp_path / "bad", xq, cpu="cortex-m55", mve=True)
    assert not np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))


def test_helium_needs_an_m55(libraries, tmp_path):
    from amrkit.errors import AmrkitError

    with pytest.raises(AmrkitError, match="cortex-m4 has no Helium"):
        mcu.build_image(libraries["optimized"][1], tmp_path, tmp_path / "f", mve=True)
