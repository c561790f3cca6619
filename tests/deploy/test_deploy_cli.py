"""`amrkit deploy` on the command line, bad input, and a uint8 / per-tensor model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amrkit.cli import app
from amrkit.deploy.host import (
    build_host,
    channel_last,
    find_cc,
    frames_file,
    read_dump,
    run_example,
)
from amrkit.deploy.plan import build_plan

runner = CliRunner()


def test_deploy_cli_writes_the_library(int8_models, tmp_path):
    out = tmp_path / "c"
    res = runner.invoke(app, ["deploy", str(int8_models["optimized"]), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert set(info["files"]) == {
        "amr_model.h", "amr_model.c", "amr_weights.c", "example_main.c", "README.md", "deploy.json"
    }  # fmt: skip
    assert info["macs_per_frame"] == 2_491_776
    assert info["arena_bytes"] >= info["peak_live_bytes"] > 0
    header = (out / "amr_model.h").read_text()
    assert f"#define AMR_ARENA_BYTES {info['arena_bytes']}" in header
    assert "malloc" not in (out / "amr_model.c").read_text()
    readme = (out / "README.md").read_text()
    assert "amr_classify" in readme and "16QAM" in readme
    # a second deploy replaces the folder
    res = runner.invoke(app, ["deploy", str(int8_models["optimized"]), "--out", str(out)])
    assert res.exit_code == 0, res.output


@pytest.mark.skipif(find_cc() is None, reason="no host C compiler 'cc' on PATH")
def test_deploy_name_prefix_compiles(int8_models, tmp_path):
    out = tmp_path / "c"
    res = runner.invoke(
        app, ["deploy", str(int8_models["optimized"]), "-o", str(out), "--name", "radio"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "radio_model.h").is_file() and not (out / "amr_model.h").exists()
    text = (out / "radio_model.c").read_text()
    assert "radio_classify" in text and "amr_" not in text
    build_host(out, tmp_path / "radio.exe", name="radio")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--name", "9bad"], "--name"),
        (["--target", "verilog"], "--target"),
        (["--rounding", "up"], "rounding"),
        (["--report", "--cpu", "cortex-a53"], "--cpu"),
    ],
)
def test_deploy_bad_options(int8_models, tmp_path, args, words):
    out = tmp_path / "c"
    res = runner.invoke(app, ["deploy", str(int8_models["optimized"]), "-o", str(out), *args])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    assert not out.exists()


def test_deploy_refuses_other_folders_and_fp32(int8_models, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    res = runner.invoke(app, ["deploy", str(int8_models["optimized"]), "-o", str(other)])
    assert res.exit_code == 1 and "not an amrkit deploy folder" in res.output
    assert (other / "notes.txt").read_text() == "keep"
    fp32 = Path(int8_models["optimized"]).with_name("model_fp32.onnx")
    res = runner.invoke(app, ["deploy", str(fp32), "-o", str(tmp_path / "c")])
    assert res.exit_code == 1 and res.output.startswith("error:")
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="session")
def uint8_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small network, uint8 activations, one weight scale per tensor (L = 128)."""
    import torch

    from amrkit.data.open import open_frames
    from amrkit.data.synth import SynthConfig, synthesize
    from amrkit.quant import PTQConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    root = tmp_path_factory.mktemp("deploy_u8")
    data = root / "d.h5"
    synthesize(SynthConfig(frames_per_class=20, frame_length=128, seed=5), data)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_model(data, "8x4p,16x3p,16x2", root / "run", TrainConfig(epochs=1, batch_size=32),
                    device="cpu", progress=False)  # fmt: skip
        with open_frames(data) as frames:
            cfg = PTQConfig(calib_frames=64, activation_type="uint8", per_channel=False)
            quantize(root / "run", cfg, frames, root / "q")
    finally:
        torch.set_num_threads(threads)
    return root / "q" / "model_int8.onnx"


@pytest.mark.skipif(find_cc() is None, reason="no host C compiler 'cc' on PATH")
def test_uint8_per_tensor_model_bit_exact(uint8_model, tmp_path):
    from amrkit.deploy import write_library
    from amrkit.golden import load_integer_model

    model = load_integer_model(uint8_model)
    assert model.input_dtype == "uint8"
    write_library(model, tmp_path / "c")
    exe = build_host(tmp_path / "c", tmp_path / "u8.exe", debug=True)
    rng = np.random.default_rng(0)
    iq = rng.standard_normal((64, 2, 128)).astype(np.float32)
    got = run_example(exe, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize", num_classes=11)
    _, want = model.run(iq)
    assert np.array_equal(got, want.astype(np.int64))
    trace = {"input": model.quantize_input(iq)}
    model.run_integer(trace["input"], trace=trace)
    plan = build_plan(model)
    for tensor, frames_c in read_dump(tmp_path / "f.cf32.dump").items():
        got_t = np.stack(frames_c).astype(np.int64) - plan.tensors[tensor].offset_int
        assert np.array_equal(got_t, channel_last(trace[tensor]).astype(np.int64)), tensor


def test_deploy_help_is_fast_to_import():
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "amrkit", "deploy", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--target" in out.stdout


def test_deploy_cpu_x86_writes_simd_kernels(int8_models, tmp_path):
    out = tmp_path / "c"
    args = ["deploy", str(int8_models["optimized"]), "-o", str(out), "--cpu", "x86-avx2", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["cpu"] == "x86-avx2" and info["compile_flags"] == ["-mavx2"]
    assert {la["x86_kernel"] for la in info["layers"] if la["kind"].startswith("conv")} == {"fast"}
    assert "#define AMR_X86 1" in (out / "amr_model.h").read_text()
    assert "_mm256_maddubs_epi16" in (out / "amr_model.c").read_text()
    assert "-mavx2" in (out / "README.md").read_text()
    # generic (the default) keeps the portable library: no x86 code in it
    res = runner.invoke(app, ["deploy", str(int8_models["optimized"]), "-o", str(out)])
    assert res.exit_code == 0 and "#define AMR_X86 0" in (out / "amr_model.h").read_text()
    assert "immintrin" not in (out / "amr_model.c").read_text()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--cpu", "sparc"], "--cpu 'sparc' is not one of generic, native, x86-avx2"),
        (["--report", "--cpu", "x86-avx512vnni"], "--report measures the library on a Cortex-M"),
        (["--cpu", "x86-avx2"], "saturates AVX2's vpmaddubsw"),
    ],
)
def test_deploy_cpu_errors(hand_model, tmp_path, args, words):
    """Bad --cpu values, and a full-range model (pairs up to 64,770) for the AVX2 path: one
    line, exit 1, no output folder."""
    from amrkit.golden import dump

    folder = dump(hand_model, tmp_path / "dump")
    out = tmp_path / "c"
    res = runner.invoke(app, ["deploy", str(folder), "-o", str(out), *args])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], res.output
    assert not out.exists()
