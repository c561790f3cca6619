"""Post-training quantization: the INT8 file, what ONNX Runtime runs, quantization.json."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

from amrkit import __version__
from amrkit.cli import main
from amrkit.config import to_dict
from amrkit.data.frames import array_frameset
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.export.graph import INTEGER_MAC_OPS, executed_op_types
from amrkit.infer import load_predictor
from amrkit.quant import PTQConfig, QATConfig, quantize
from amrkit.quant.calibrate import select_calibration
from amrkit.quant.qdq import quantize_array
from amrkit.train.run import load_run

LAYERS = ["conv1", "conv2", "conv3", "fc"]
CLASSES = ("TONE_A", "TONE_B", "BPSK", "QPSK")  # as in conftest.py


def inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def val_accuracy_torch(run_dir, frames) -> float:
    run = load_run(run_dir)
    pos = frames.indices("val")
    with torch.inference_mode():
        pred = run.model(torch.from_numpy(frames.read(pos))).argmax(1).numpy()
    return float(np.mean(pred == frames.label[pos]))


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- the default PTQ (per channel, int8 activations, minmax) --------------------------------
def test_int8_file_holds_int8_weights_and_int32_biases(ptq_default, quant_run):
    int8 = onnx.load(str(ptq_default.int8_path))
    values = inits(int8)
    fp32 = inits(onnx.load(str(ptq_default.fp32_path)))
    onnx.checker.check_model(int8, full_check=True)
    for layer in LAYERS:
        q = values[f"{layer}.weight_quantized"]
        w = fp32[f"{layer}.weight"]
        s = values[f"{layer}.weight_scale"]
        assert q.dtype == np.int8 and q.shape == w.shape
        assert s.shape == (w.shape[0],)  # one scale per output channel
        assert np.all(values[f"{layer}.weight_zero_point"] == 0)
        # the stored integers are the BN-folded float weights, rounded on that grid
        step = s.reshape(-1, *[1] * (w.ndim - 1))
        assert np.all(np.abs(q * step - w) <= step / 2 + 1e-7)
        b = values[f"{layer}.bias_quantized"]
        assert b.dtype == np.int32 and b.shape == (w.shape[0],)
        # int32 bias scale = input scale × weight scale
        x_scale = ptq_default.details["layers"][layer]["input"]["scale"]
        np.testing.assert_allclose(values[f"{layer}.bias_quantized_scale"], x_scale * s, rtol=1e-6)
    assert not any(v.dtype == np.float32 and v.ndim > 1 for v in values.values())


def test_metadata_marks_int8(ptq_default):
    meta = {p.key: p.value for p in onnx.load(str(ptq_default.int8_path)).metadata_props}
    assert meta["amrkit.precision"] == "int8"
    assert json.loads(meta["amrkit.classes"]) == list(CLASSES)
    assert meta["amrkit.frame_length"] == "128" and meta["amrkit.version"] == __version__
    pred = load_predictor(ptq_default.int8_path)
    assert pred.kind == "onnx-int8" and pred.classes == CLASSES


def test_onnxruntime_runs_integer_kernels(ptq_default):
    ops = executed_op_types(ptq_default.int8_path)  # measured again, independently
    assert ops.get("QLinearConv", 0) == 3 and ops.get("QGemm", 0) == 1
    assert "Conv" not in ops and "Gemm" not in ops and "FusedConv" not in ops
    rt = ptq_default.details["onnxruntime"]
    assert rt["executed_op_types"] == dict(sorted(ops.items()))
    assert rt["runs_integer_kernels"] and not rt["problems"]
    assert {k: v in INTEGER_MAC_OPS for k, v in rt["layer_kernels"].items()} == dict.fromkeys(
        LAYERS, True
    )


def test_details_table_memory_and_accuracy(ptq_default, quant_run, quant_data):
    d = ptq_default.details
    assert d["is_quantized"] and d["mode"] == "ptq" and d["quantized_layers"] == LAYERS
    assert d["config"] == to_dict(PTQConfig()) and d["config_type"] == "PTQConfig"
    assert d["source_run"]["path"] == str(quant_run)
    assert d["data"]["path"] == str(quant_data)
    types = {(r["layer"], r["learnable"]): r["stored_type"] for r in d["learnables"]}
    assert types == {
        **{(n, "weight"): "int8" for n in LAYERS},
        **{(n, "bias"): "int32" for n in LAYERS},
    }
    model = load_run(quant_run).model
    weights = sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear))
    )
    biases = sum(
        m.bias.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear))
    )
    assert (d["num_weights"], d["num_biases"]) == (weights, biases)
    assert d["parameter_memory_mb"] == pytest.approx((weights + 4 * biases) / 2**20)
    assert d["fp32_parameter_memory_mb"] == pytest.approx(4 * (weights + biases) / 2**20)
    with open_frames(quant_data) as frames:
        assert d["accuracy"]["fp32"] == pytest.approx(val_accuracy_torch(quant_run, frames))
        assert d["accuracy"]["frames"] == len(frames.indices("val"))
    assert d["accuracy"]["fp32"] > 0.8  # the fixture model learned something
    assert d["accuracy"]["drop_pt"] <= 2.0
    assert d["export"]["fp32_max_abs_diff_vs_torch"] <= 1e-4


def test_calibration_ranges_and_chosen_scales(ptq_default, quant_data):
    d = ptq_default.details
    cal = d["calibration"]
    assert cal["frames"] == 512 and set(cal["frames_per_class"].values()) == {128}
    with open_frames(quant_data) as frames:
        pos = select_calibration(frames, 512, seed=0)
        iq = frames.read(pos)
    assert cal["tensor_ranges"]["iq"] == pytest.approx([iq.min(), iq.max()], rel=1e-6)
    for i, layer in enumerate(LAYERS[:3], start=1):
        info = d["layers"][layer]
        lo, hi = cal["tensor_ranges"][f"relu{i}"]
        assert info["output"]["tensor"] == f"relu{i}"
        assert lo == 0.0 and hi > 0
        # ORT's asymmetric uint8: [0, hi] over 255 steps, zero point at 0 (ReLU implied)
        assert info["output"]["scale"] == pytest.approx(hi / 255, rel=1e-6)
        assert info["output"]["zero_point"] == 0
        assert info["weight"]["float_min"] < 0 < info["weight"]["float_max"]
        assert info["preactivation"]["calibrated_min"] < 0
    png = ptq_default.out_dir / "quantization.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


# ---- variants -------------------------------------------------------------------------------
def test_cli_per_tensor_int8_vnni(quant_run, quant_data, tmp_path, capsys):
    out = tmp_path / "pt"
    code, stdout, _ = run_cli(
        [
            "quantize",
            str(quant_run),
            "--data",
            str(quant_data),
            "--out",
            str(out),
            "--per-tensor",
            "--target",
            "vnni",
            "--activation-type",
            "int8",
            "--calib-frames",
            "128",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    d = json.loads(stdout)
    assert d["config"]["per_channel"] is False and d["config"]["activation_type"] == "int8"
    values = inits(onnx.load(str(out / "model_int8.onnx")))
    for layer in LAYERS:
        assert values[f"{layer}.weight_scale"].shape == ()  # one scale per tensor
        assert values[f"{layer}.weight_quantized"].dtype == np.int8
        assert d["layers"][layer]["input"]["dtype"] == "int8"
    assert d["layers"]["conv2"]["output"]["zero_point"] == -128  # int8 after ReLU
    # full range: the largest weight of each tensor is ±127 and the pair bound passes 32,767
    assert max(int(np.abs(values[f"{layer}.weight_quantized"]).max()) for layer in LAYERS) == 127
    assert d["target"] == "vnni" and d["max_pair_sum"] > d["pair_limit"] == 32767
    assert d["warnings"] and "x64quantprecision" in d["warnings"][0]
    assert d["onnxruntime"]["runs_integer_kernels"]
    assert d["accuracy"]["drop_pt"] <= 3.0


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_calibration_methods(method, ptq_default, quant_run, quant_data, tmp_path, monkeypatch):
    import amrkit.quant.calibrate as calibrate_module

    monkeypatch.setattr(calibrate_module, "ENTROPY_BINS", 512)  # 2048 is slow for a test
    with open_frames(quant_data) as frames:
        r = quantize(quant_run, PTQConfig(method=method), frames, tmp_path / method)
    d = r.details
    assert d["config"]["method"] == method and d["calibration"]["method"] == method
    minmax = ptq_default.details["calibration"]["tensor_ranges"]
    ranges = d["calibration"]["tensor_ranges"]
    # clipping calibrators never widen a ReLU output's range, and clip at least one
    highs = [(ranges[f"relu{i}"][1], minmax[f"relu{i}"][1]) for i in (1, 2, 3)]
    assert all(h <= m + 1e-6 for h, m in highs) and any(h < m * 0.99 for h, m in highs)
    # the scales in the file are the ones derived from the reported ranges
    for i, layer in enumerate(LAYERS[:3], start=1):
        lo, hi = ranges[f"relu{i}"]
        assert d["layers"][layer]["output"]["scale"] == pytest.approx(
            (hi - min(lo, 0.0)) / 255, rel=1e-5
        )
    assert d["onnxruntime"]["runs_integer_kernels"]
    assert d["accuracy"]["drop_pt"] <= 3.0


def test_exclude_keeps_layers_fp32_at_run_time(quant_run, quant_data, tmp_path):
    with open_frames(quant_data) as frames:
        r = quantize(quant_run, PTQConfig(exclude=("conv2", "fc")), frames, tmp_path / "ex")
    d = r.details
    assert d["quantized_layers"] == ["conv1", "conv3"]
    assert d["excluded_layers"] == ["conv2", "fc"]
    values = inits(onnx.load(str(r.int8_path)))
    assert values["conv2.weight"].dtype == np.float32 and "conv2.weight_quantized" not in values
    assert values["fc.weight"].dtype == np.float32 and "fc.weight_quantized" not in values
    assert values["conv3.weight_quantized"].dtype == np.int8
    kernels = d["onnxruntime"]["layer_kernels"]
    # ORT would re-quantize a float conv fed by a DequantizeLinear; the guard prevents it
    assert kernels["conv1"] in INTEGER_MAC_OPS and kernels["conv3"] in INTEGER_MAC_OPS
    assert kernels["conv2"] not in INTEGER_MAC_OPS and kernels["fc"] not in INTEGER_MAC_OPS
    assert "conv2" in d["fp32_guarded_layers"]
    types = {(x["layer"], x["learnable"]): x["stored_type"] for x in d["learnables"]}
    assert types[("conv2", "weight")] == "float32" and types[("conv1", "weight")] == "int8"
    float_bytes = sum(x["count"] * 4 for x in d["learnables"] if x["layer"] in ("conv2", "fc"))
    int_bytes = sum(
        x["count"] * (1 if x["learnable"] == "weight" else 4)
        for x in d["learnables"]
        if x["layer"] in ("conv1", "conv3")
    )
    assert d["bytes"] == float_bytes + int_bytes
    assert d["accuracy"]["drop_pt"] <= 2.0


# ---- an existing output folder ------------------------------------------------------------
def test_existing_out_folder_is_replaced_whole(quant_run, quant_data, tmp_path, monkeypatch):
    import amrkit.quant.pipeline as pipeline

    out = tmp_path / "int8"
    cfg = PTQConfig(calib_frames=64)

    def listing() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    with open_frames(quant_data) as frames:
        quantize(quant_run, cfg, frames, out, plot=True)
        first = listing()
        assert sorted(first) == [
            "model_fp32.onnx", "model_int8.onnx", "quantization.json", "quantization.png"
        ]  # fmt: skip
        # a second run without --plot: the old quantization.png does not survive
        again = quantize(quant_run, cfg, frames, out)
        assert sorted(listing()) == sorted(again.details["files"].values())
        assert "quantization.png" not in listing()
        second = listing()

        # a failure partway (after the new files were staged) leaves the folder as it was
        def broken(*args, **kwargs):
            raise AmrkitError("disk full")

        with monkeypatch.context() as m:
            m.setattr(pipeline, "write_json", broken)
            with pytest.raises(AmrkitError, match="disk full"):
                quantize(quant_run, cfg, frames, out, plot=True)
        assert listing() == second
        assert [p.name for p in tmp_path.iterdir()] == ["int8"]  # no staging folder left

        # a folder with other files is refused before any work, and left alone
        (out / "notes.txt").write_text("mine")
        with pytest.raises(AmrkitError, match=r"notes\.txt.*new or empty folder"):
            quantize(quant_run, cfg, frames, out)
        assert listing() == {**second, "notes.txt": b"mine"}
        assert [p.name for p in tmp_path.iterdir()] == ["int8"]


# ---- bad input ------------------------------------------------------------------------------
def test_unknown_exclude_layer_lists_valid_ones(quant_run, quant_data, tmp_path):
    with open_frames(quant_data) as frames, pytest.raises(AmrkitError) as err:
        quantize(quant_run, PTQConfig(exclude=("conv9",)), frames, tmp_path / "o")
    assert "conv9" in str(err.value) and "conv1, conv2, conv3, fc" in str(err.value)
    with open_frames(quant_data) as frames, pytest.raises(AmrkitError, match="no layer"):
        quantize(quant_run, PTQConfig(exclude=tuple(LAYERS)), frames, tmp_path / "o")
    assert not list(tmp_path.iterdir())


def test_wrong_frame_length_and_non_run(quant_run, short_data, quant_data, tmp_path):
    with open_frames(short_data) as frames, pytest.raises(AmrkitError, match="length 64"):
        quantize(quant_run, PTQConfig(), frames, tmp_path / "o")
    with open_frames(quant_data) as frames, pytest.raises(AmrkitError, match="not a run"):
        quantize(tmp_path, PTQConfig(), frames, tmp_path / "o")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "MISSING"], "does not exist"),
        (["--exclude", "conv1,conv7"], "conv7"),
        (["--bits", "4"], "--qat"),
        (["--epochs", "2"], "--qat"),
        (["--method", "mse"], "mse"),
        (["--qat", "--bits", "3"], "4..8"),
    ],
)
def test_cli_bad_input(extra, message, quant_run, quant_data, tmp_path, capsys):
    args = ["quantize", str(quant_run), "--out", str(tmp_path / "o")]
    args += extra if extra[0] == "--data" else ["--data", str(quant_data), *extra]
    args = [str(tmp_path / "missing.h5") if a == "MISSING" else a for a in args]
    code, _, err = run_cli(args, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not list(tmp_path.iterdir())


def test_cli_non_run_path(quant_data, tmp_path, capsys):
    code, _, err = run_cli(
        ["quantize", str(tmp_path), "--data", str(quant_data), "--out", str(tmp_path / "o")],
        capsys,
    )
    assert code == 1 and "not a run directory" in err and not (tmp_path / "o").exists()


def test_config_validation():
    for bad in (
        {"method": "mse"},
        {"calib_frames": 0},
        {"activation_type": "int4"},
        {"percentile": 20.0},
        {"exclude": ("fc", "fc")},
    ):
        with pytest.raises(AmrkitError):
            PTQConfig(**bad)
    for bad in ({"weight_bits": 3}, {"weight_bits": 9}, {"epochs": -1}, {"lr": 0.0}):
        with pytest.raises(AmrkitError):
            QATConfig(**bad)


# ---- properties ---------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 30), min_size=2, max_size=5),
    n=st.integers(1, 120),
    seed=st.integers(0, 1000),
)
def test_calibration_choice_is_stratified(counts, n, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    if len(labels) == 0:
        return
    rng = np.random.default_rng(seed)
    split = rng.integers(0, 2, len(labels)).astype(np.uint8)  # train / val
    fs = array_frameset(
        np.zeros((len(labels), 2, 4), np.float32),
        labels,
        [f"c{i}" for i in range(len(counts))],
        split=split,
    )
    train = fs.indices("train")
    if len(train) == 0:
        with pytest.raises(AmrkitError):
            select_calibration(fs, n, seed)
        return
    pos = select_calibration(fs, n, seed)
    assert len(pos) == min(n, len(train)) and len(set(pos)) == len(pos)
    assert set(pos) <= set(train)
    assert np.array_equal(pos, select_calibration(fs, n, seed))  # deterministic
    got = np.bincount(fs.label[pos], minlength=len(counts))
    avail = np.bincount(fs.label[train], minlength=len(counts))
    short = got < avail  # classes that still had frames left
    if short.any():  # those are within one frame of each other and of every class taken
        assert got[short].max() - got[short].min() <= 1
        assert got.max() <= got[short].min() + 1


@settings(max_examples=50, deadline=None)
@given(
    x=st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40),
    scale=st.floats(0.0009765625, 16.0, width=32),
    zp=st.integers(-128, 127),
)
def test_quantize_array_is_onnx_quantize_linear(x, scale, zp):
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    arr = np.asarray(x, np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    ref = ReferenceEvaluator(node).run(None, {"x": arr, "s": np.float32(scale), "z": np.int8(zp)})[
        0
    ]
    got = quantize_array(arr, np.float32(scale), np.int8(zp), 1, np.int8)
    np.testing.assert_array_equal(got, ref)
