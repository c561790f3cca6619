"""The integer-only golden model against ONNX Runtime on real QDQ files, its dump, its CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from amrkit.errors import AmrkitError
from amrkit.golden import (
    IntegerModel,
    Stats,
    compare_activations,
    dump,
    load_dump,
    load_integer_model,
    simulate,
)
from amrkit.golden.ops import AccumulatingOp, Conv1d, Dense

_spec = importlib.util.spec_from_file_location(
    "golden_fixtures", Path(__file__).with_name("golden_fixtures.py")
)
gf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gf)

# ORT-quantized files with uint8 activations (and the 4-bit / BN / float-tail variants built
# from them): ONNX Runtime runs QLinearConv / QGemm with its u8 kernels, which requantize as
# rint(float32(acc) · float32(M)): the golden model's default rounding → identical integers.
# Full-range 8-bit weights need session.x64quantprecision on x86 without VNNI; amrkit's
# session factory sets it, so this holds on every CPU.
BIT_EXACT = ["pc_u8", "pt_u8", "fake4", "bn_exact", "float_tail"]
# int8 activations: ONNX Runtime's s8 convolution kernels round a few near-ties (|acc·M|
# within ~1e-7 of k + 1/2) the other way: 3–5 of 10^6 values per layer here, each 1 LSB;
# end to end such a value can move a later one by 1 LSB too.
NEAR_EXACT = ["pc_s8", "pt_s8", "legacy_pt_s8", "bn_acc"]
NEAR_TIE_RATE = 1e-4  # differing values per value, operator alone (seen ≤ 6e-6)


def near_tie_budget(values: int, end_to_end: bool) -> float:
    """How many values may differ: a few near-ties, each moving at most a handful of values
    downstream (seen: ≤ 1 operator alone, ≤ 5 end to end per tensor of 100 frames)."""
    return (8 + 10 * NEAR_TIE_RATE * values) if end_to_end else (2 + NEAR_TIE_RATE * values)


EXACT = [*BIT_EXACT, *NEAR_EXACT]
ALTERED = ("bn_exact", "bn_acc")  # BN edited on purpose: worse models, not constant ones


@pytest.fixture(scope="module")
def golden_models(tmp_path_factory) -> dict[str, Path]:
    return gf.build_all(tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def golden_frames() -> tuple[np.ndarray, np.ndarray]:
    return gf.synth(400, np.random.default_rng(7))


def ort_logits(path: Path, iq: np.ndarray) -> np.ndarray:
    from amrkit.golden.model import _ort_session

    return _ort_session(str(path), threads=1).run(None, {"iq": iq})[0]


@pytest.mark.parametrize("name", [*EXACT, "qat4", "patterns"])
def test_agrees_with_onnx_runtime(golden_models, golden_frames, name):
    iq, labels = golden_frames
    model = load_integer_model(golden_models[name])
    logits, y = model.run(iq)
    ref = ort_logits(golden_models[name], iq)
    mine, theirs = logits.argmax(1), ref.argmax(1)
    assert np.mean(mine == theirs) >= 0.999
    if name in ALTERED:  # its decisions may all be one class (they do on some CPUs' training)
        assert len(np.unique(y, axis=0)) >= 2  # but its output integers follow the input
    else:  # a real classifier, so agreement on its decisions means something
        assert len(np.unique(mine)) == len(gf.CLASSES)
        assert np.mean(mine == labels) > 0.9
    acts = compare_activations(model, golden_models[name], iq[:100], threads=1)
    assert len(acts) >= 6  # input, three convs, pooled features, logits at least
    for onnx_name, d in acts.items():
        assert d["layer_max_lsb"] <= 1, (onnx_name, d)  # each operator alone: within 1 LSB
        if name in BIT_EXACT:
            assert d["max_lsb"] == 0, (onnx_name, d)
        elif name in NEAR_EXACT:
            n = d["values"]
            assert d["layer_frac_differ"] * n <= near_tie_budget(n, False), (onnx_name, d)
            assert d["max_lsb"] <= 1, (onnx_name, d)
            assert d["frac_differ"] * n <= near_tie_budget(n, True), (onnx_name, d)
    scale = np.asarray(model.output_scale).reshape(1, -1)  # per class for a float tail
    ref_int = np.rint(ref / scale) + model.output_zero_point
    lsb = np.abs(y.astype(np.int64) - ref_int).max()
    if name in BIT_EXACT:  # the output integers, and the float logits themselves
        assert lsb == 0 and np.array_equal(logits, ref)
    elif name in NEAR_EXACT:
        assert lsb <= 1


def test_graph_patterns_are_lowered_as_expected(golden_models):
    kinds = {
        name: [op.kind for op in load_integer_model(golden_models[name]).ops]
        for name in ("pc_u8", "legacy_pt_s8", "bn_exact", "qat4")
    }
    # dynamo: Conv pads, ReduceMean over an Unsqueeze'd tensor, Squeeze/Reshape, Gemm
    assert kinds["pc_u8"].count("conv1d") == 3 and "mean" in kinds["pc_u8"]
    assert "pad1d" not in kinds["pc_u8"]
    # legacy: explicit Pad nodes, GlobalAveragePool, Flatten
    assert kinds["legacy_pt_s8"].count("pad1d") == 3 and "mean" in kinds["legacy_pt_s8"]
    # BN between QDQ pairs: one per-channel rescale per conv
    assert kinds["bn_exact"].count("rescale") == 3
    # explicit ReLU between QDQ pairs, re-quantization there and back, MatMul + Add
    pat = load_integer_model(golden_models["patterns"])
    assert [op.kind for op in pat.ops].count("relu") == 1
    assert [op.kind for op in pat.ops].count("rescale") == 2
    assert pat.ops[-1].kind == "dense" and pat.ops[-1].source == "fc_matmul"
    # FP32 BN after a conv with an int32 bias: folded into per-channel, partly negative M0
    bn_acc = load_integer_model(golden_models["bn_acc"]).ops[0]
    assert "BatchNormalization" in bn_acc.notes and np.any(bn_acc.requant.multiplier < 0)
    # MaxPool on the conv's float output (moved after the requant), float logits output
    tail = load_integer_model(golden_models["float_tail"])
    assert [op.kind for op in tail.ops[:2]] == ["conv1d", "maxpool1d"]
    assert tail.ops[-1].requant is None and tail.output_scale.size == len(gf.CLASSES)
    # 4-bit weights stored as int8, one layer via float → QuantizeLinear → DequantizeLinear
    fake = load_integer_model(golden_models["fake4"])
    assert all(
        op.weight.min() >= -8 and op.weight.max() <= 7
        for op in fake.accumulating()
        if isinstance(op, (Conv1d, Dense))
    )
    qat = load_integer_model(golden_models["qat4"])
    convs = [op for op in qat.ops if isinstance(op, Conv1d)]
    assert all(op.weight.min() >= -8 and op.weight.max() <= 7 for op in convs)  # 4-bit weights
    assert all("BatchNormalization" in op.notes and "float bias" in op.notes for op in convs)
    pc = [op for op in load_integer_model(golden_models["pc_u8"]).ops if isinstance(op, Conv1d)]
    assert all(op.requant.multiplier.size == op.weight.shape[0] for op in pc)  # per channel
    pt = [op for op in load_integer_model(golden_models["pt_u8"]).ops if isinstance(op, Conv1d)]
    assert all(op.requant.multiplier.size == 1 for op in pt)


def test_inexact_batchnorm_is_a_clear_error(golden_models):
    with pytest.raises(AmrkitError) as info:
        load_integer_model(golden_models["bn_inexact"])
    msg = str(info.value)
    assert "BatchNormalization" in msg and "not exactly representable" in msg
    assert "\n" not in msg


def test_layer_loop_is_integer_only(golden_models, golden_frames):
    model = load_integer_model(golden_models["pc_s8"])
    xq = model.quantize_input(golden_frames[0][:16])
    assert xq.dtype == np.int8
    trace: dict[str, np.ndarray] = {}
    y = model.run_integer(xq, trace=trace)
    assert y.dtype.kind in "iu"
    assert len(trace) >= len(model.ops)
    assert all(a.dtype.kind in "iu" for a in trace.values()), {
        k: a.dtype for k, a in trace.items() if a.dtype.kind not in "iu"
    }
    # the float multipliers kept for reports are never read: wiping them changes nothing
    for op in model.ops:
        if isinstance(op, AccumulatingOp) and op.requant is not None:
            op.requant.real = np.full_like(op.requant.real, np.nan)
    np.testing.assert_array_equal(model.run_integer(xq), y)
    # every parameter the loop uses is an integer array
    for op in model.accumulating():
        for name in op.arrays:
            assert np.asarray(getattr(op, name)).dtype.kind in "iu"
        assert op.requant.multiplier.dtype.kind == "i" and op.requant.shift.dtype.kind == "i"
    with pytest.raises(AmrkitError, match="quantize the frames first"):
        model.run_integer(golden_frames[0][:4])  # float frames are refused


def test_accumulator_bound_covers_and_is_nearly_reached(golden_models, golden_frames):
    model = load_integer_model(golden_models["pc_u8"])
    stats = Stats()
    model.run(golden_frames[0], stats)
    table = model.layer_table(stats)
    assert {r["layer"] for r in table} == {op.name for op in model.accumulating()}
    for row in table:
        assert 0 < row["acc_max"] <= row["acc_bound"]
        assert row["acc_max_bits"] <= row["acc_bound_bits"]
    # adversarial input for conv1: each x − zp at the end of the input range that pushes the
    # sum the way the bias points; the bound differs from it only by the range's asymmetry
    conv = model.accumulating()[0]
    assert isinstance(conv, Conv1d) and conv.in_shape[0] == 2
    c = int(np.argmax(conv.channel_bounds()))
    w = conv.weight[c].astype(np.int64)  # (cin, k); ORT weights have zero point 0
    lo, hi = np.iinfo(model.input_dtype).min, np.iinfo(model.input_dtype).max
    zp, k, left = model.input_zero_point, w.shape[1], conv.pads[0]
    direction = 1 if conv.bias[c] >= 0 else -1
    x = np.full((1, 2, model.frame_length), zp, model.input_dtype)
    x[0, :, :k] = np.where(w * direction > 0, hi, lo)  # the window of output t = left
    acc = int(conv.accumulate(x)[0, c, left])
    up, down = hi - zp, zp - lo
    reach = int(np.where(w * direction > 0, np.abs(w) * up, np.abs(w) * down).sum())
    assert acc == direction * reach + int(conv.bias[c])
    assert conv.acc_bound() >= abs(acc)
    assert conv.acc_bound() - abs(acc) <= int(np.abs(w).sum()) * abs(up - down)


def test_dump_round_trip(golden_models, golden_frames, tmp_path):
    model = load_integer_model(golden_models["qat4"])
    stats = Stats()
    logits, y = model.run(golden_frames[0][:50], stats)
    out = dump(model, tmp_path / "bench", stats)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["dtype"] == model.input_dtype
    assert "round_shift" in manifest["requant_formula"]
    conv1 = next(entry for entry in manifest["layers"] if entry["name"] == "conv1")
    assert conv1["arrays"]["weight"]["dtype"] == "int8"
    assert conv1["arrays"]["bias"]["dtype"] == "int32"
    assert conv1["requant"]["multiplier"]["dtype"] == "int32"
    assert conv1["acc_max"] == stats.acc_max["conv1"]
    assert np.load(out / "conv1.weight.npy").dtype == np.int8
    again = load_dump(out)
    assert isinstance(again, IntegerModel)
    xq = model.quantize_input(golden_frames[0])
    a_trace: dict[str, np.ndarray] = {}
    b_trace: dict[str, np.ndarray] = {}
    np.testing.assert_array_equal(
        again.run_integer(xq, trace=b_trace), model.run_integer(xq, trace=a_trace)
    )
    assert a_trace.keys() == b_trace.keys()
    for key in a_trace:
        np.testing.assert_array_equal(a_trace[key], b_trace[key])
    np.testing.assert_array_equal(again.run(golden_frames[0][:50])[0], logits)
    # a second dump into the same (now non-empty) folder is refused, nothing changes
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(AmrkitError, match="not empty"):
        dump(model, out)
    assert sorted(p.name for p in out.iterdir()) == before


def test_simulate_on_a_frameset(golden_models, golden_frames):
    from amrkit.data.frames import array_frameset

    iq, labels = golden_frames
    frames = array_frameset(iq, labels, gf.CLASSES, split=np.full(len(iq), 2, np.uint8))
    result = simulate(
        golden_models["pt_u8"],
        frames,
        max_frames=300,
        batch_size=128,
        threads=1,
        activation_frames=32,
    )
    assert result["frames"] == 300
    assert result["top1_agreement"] == 1.0
    assert result["output_max_lsb"] == 0 and result["activation_max_lsb"] == 0
    assert result["bit_exact"] and result["logits_identical"]
    rt = result["runtime"]  # which kernel computed ORT's side, on which instruction set
    assert rt["kernel"] and isinstance(rt["isa"], list) and isinstance(rt["exact_u8s8"], bool)
    model = load_integer_model(golden_models["pt_s8"])
    pick = np.linspace(0, len(iq) - 1, 300).round().astype(int)
    expected = np.mean(model.run(iq[pick])[0].argmax(1) == labels[pick])
    assert result["accuracy"] == pytest.approx(expected)
    assert [r["layer"] for r in result["layers"]] == [op.name for op in model.accumulating()]
    assert all(r["acc_max"] <= r["acc_bound"] for r in result["layers"])
    with pytest.raises(AmrkitError, match="frame length"):
        simulate(
            golden_models["pt_s8"],
            array_frameset(iq[:, :, :32], labels, gf.CLASSES, split=np.full(len(iq), 2, np.uint8)),
        )


# ---- CLI ---------------------------------------------------------------------------------
def write_h5(path: Path, iq: np.ndarray, labels: np.ndarray) -> Path:
    from amrkit.data.native import FrameWriter

    attrs = {"sample_rate_hz": 1e6, "samples_per_symbol": 8, "snr_convention": "standard"}
    with FrameWriter(path, len(iq), iq.shape[2], gf.CLASSES, attrs) as w:
        w.write(
            0,
            iq,
            label=labels.astype(np.int16),
            snr_db=np.full(len(iq), 8, np.float32),
            split=np.full(len(iq), 2, np.uint8),
        )
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    from amrkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_cli_simulate_json_and_dump(golden_models, golden_frames, tmp_path, capsys):
    iq, labels = golden_frames
    data = write_h5(tmp_path / "frames.h5", iq[:200], labels[:200])
    code, out, err = run_cli(
        [
            "simulate",
            str(golden_models["pc_u8"]),
            str(data),
            "--json",
            "--threads",
            "1",
            "--dump",
            str(tmp_path / "hw"),
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["frames"] == 200 and result["top1_agreement"] >= 0.999
    assert {"acc_max_bits", "acc_bound_bits"} <= set(result["layers"][0])
    assert (tmp_path / "hw" / "manifest.json").is_file()
    code, out, err = run_cli(
        ["simulate", str(golden_models["pc_u8"]), str(data), "--no-ort", "--max-frames", "20"],
        capsys,
    )
    assert code == 0, err
    assert "20 frames" in out and "conv1" in out and "bound" in out


@pytest.mark.parametrize(
    "case", ["fp32", "not_onnx", "missing", "length", "dump_exists", "rounding"]
)
def test_cli_bad_input(golden_models, golden_frames, tmp_path, capsys, case):
    iq, labels = golden_frames
    data = write_h5(tmp_path / "frames.h5", iq[:20], labels[:20])
    model = str(golden_models["pt_u8"])
    extra: list[str] = []
    if case == "fp32":
        model = str(golden_models["fp32"])
    elif case == "not_onnx":
        model = str(tmp_path / "notes.onnx")
        Path(model).write_text("this is not a model\n")
    elif case == "missing":
        model = str(tmp_path / "nothing.onnx")
    elif case == "length":
        data = write_h5(tmp_path / "short.h5", iq[:20, :, :32], labels[:20])
    elif case == "dump_exists":
        (tmp_path / "hw").mkdir()
        (tmp_path / "hw" / "keep.txt").write_text("x")
        extra = ["--dump", str(tmp_path / "hw")]
    else:
        extra = ["--rounding", "nearest"]
    code, out, err = run_cli(["simulate", model, str(data), *extra], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    expected = {
        "fp32": "FP32",
        "not_onnx": "not an ONNX model",
        "missing": "does not exist",
        "length": "frame length",
        "dump_exists": "not empty",
        "rounding": "rounding",
    }
    assert expected[case] in lines[0]
    if case == "dump_exists":
        assert [p.name for p in (tmp_path / "hw").iterdir()] == ["keep.txt"]
