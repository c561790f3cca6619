"""The generated C library on the host: compiled strictly, run on 1,100 frames, compared with
the golden model (final integers and every intermediate tensor), with a corrupted weight as
the control."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from amrkit.deploy.host import (
    build_host,
    channel_last,
    find_cc,
    finish_example,
    frames_file,
    read_dump,
    run_example,
    start_example,
)
from amrkit.deploy.plan import build_plan

pytestmark = pytest.mark.skipif(find_cc() is None, reason="no host C compiler 'cc' on PATH")


@pytest.fixture(scope="session")
def host_exes(libraries: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """model name → (release exe, debug exe), compiled with -std=c99 -Wall -Wextra -Werror -O2."""
    root = tmp_path_factory.mktemp("deploy_exe")
    return {
        name: (
            build_host(lib, root / f"{name}.exe"),
            build_host(lib, root / f"{name}_debug.exe", debug=True),
        )
        for name, (_, lib) in libraries.items()
    }


@pytest.fixture(scope="session")
def frames_bin(deploy_iq: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frames_file(deploy_iq, tmp_path_factory.mktemp("deploy_frames") / "frames.cf32")


@pytest.mark.parametrize("name", ["original", "optimized"])
def test_host_logits_identical_to_golden(
    name, libraries, host_exes, deploy_iq, frames_bin, golden
):  # fmt: skip
    model, _ = libraries[name]
    proc = start_example(host_exes[name][0], frames_bin, "--no-normalize")
    want = golden.ints(model, deploy_iq)  # float frames → the golden model's final integers
    got = finish_example(proc, num_classes=11)
    assert len(got) == len(deploy_iq) >= 1000
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", ["original", "optimized"])
def test_host_intermediate_tensors_identical(
    name, libraries, host_exes, trace_iq, golden, tmp_path
):  # fmt: skip
    """The debug build dumps the input integers and every layer's output (also the conv
    outputs that the fused max-pool never stores): all equal the golden model's trace."""
    model, _ = libraries[name]
    frames = frames_file(trace_iq, tmp_path / "f.cf32")
    run_example(host_exes[name][1], frames, "--no-normalize", num_classes=11)
    dumped = read_dump(tmp_path / "f.cf32.dump")
    trace = golden.trace(model, trace_iq)
    plan = build_plan(model)
    expected = {"input"} | {op.name for op in model.ops}
    assert set(dumped) == expected
    for tensor, frames_c in dumped.items():
        got = np.stack(frames_c).astype(np.int64) - plan.tensors[tensor].offset_int
        assert np.array_equal(got, channel_last(trace[tensor]).astype(np.int64)), tensor


def test_corrupted_weight_is_caught(libraries, deploy_iq, tmp_path, corrupt):
    """Control: one weight changed in amr_weights.c must break the comparison."""
    model, lib = libraries["optimized"]
    bad = tmp_path / "lib"
    shutil.copytree(lib, bad)
    corrupt(bad)
    exe = build_host(bad, tmp_path / "bad.exe")
    iq = deploy_iq[:200]
    got = run_example(exe, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize", num_classes=11)
    _, want = model.run(iq)
    assert not np.array_equal(got, want.astype(np.int64))


def test_normalize_power_helper(libraries, host_exes, deploy_iq, tmp_path):
    """Frames at another power, normalized by the C helper, classify like the unit-power
    frames (the scale factor may differ from NumPy's in the last float bit)."""
    model, _ = libraries["optimized"]
    iq = deploy_iq[:100]
    frames = frames_file(iq * np.float32(7.3), tmp_path / "f.cf32")
    got = run_example(host_exes["optimized"][0], frames, num_classes=11)
    _, want = model.run(iq)
    assert np.mean(np.all(got == want, axis=1)) >= 0.9
