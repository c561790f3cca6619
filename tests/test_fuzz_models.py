"""Model files are checked as strictly as data files: fuzzing ONNX files (INT8 and FP32) and
run folders through every command that loads a model, in-process.

Hypothesis damages a valid model: quantization scales set to NaN, inf, 0 or negative, float
weights set to NaN, the declared graph input or output reshaped or retyped, amrkit metadata
removed or garbled, bytes truncated or overwritten; run.json fields removed or mistyped,
model.pt truncated, garbled, with NaN weights, missing or extra tensors. Each command
(``evaluate``, ``simulate``, ``metrics``, ``train --init-from``) must succeed or print one
``error:`` line with exit 1 — never a traceback — and must fail where the damage makes the
model invalid. A fixed table then checks that the same damage gets the same one-line error
from every command and runtime that loads the model.

CI runs :data:`EXAMPLES` derandomized examples per kind; ``AMRKIT_FUZZ_EXAMPLES`` runs more.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, numpy_helper

from amrkit.cli import main

EXAMPLES = int(os.environ.get("AMRKIT_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
L = 128
CLASSES = "BPSK,QPSK,GFSK,DSB-AM"


def invoke(capsys, args: list) -> tuple[int, str]:
    """The CLI in-process; any exception but SystemExit propagates (an escape)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return code, capsys.readouterr().err


def check_outcome(code: int, err: str, what: str, must_fail: bool) -> None:
    assert not (must_fail and code == 0), f"{what}: exit 0 on an invalid model"
    if code == 0:
        return
    lines = err.strip().splitlines()
    assert code == 1, f"{what}: exit {code}: {err}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {err}"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny data, a trained run, its INT8 and FP32 ONNX files."""
    root = tmp_path_factory.mktemp("fuzzmodels")
    threads = torch.get_num_threads()
    try:
        for args in (
            ["generate", root / "d.h5", "--classes", CLASSES, "--frames-per-class", "40",
             "--frame-length", L, "--seed", "1", "--workers", "1", "-q"],
            ["train", root / "d.h5", "--model", "4x4p,8x4p", "--epochs", "1", "--batch-size",
             "32", "--threads", "1", "--device", "cpu", "--out", root / "run", "-q"],
            ["quantize", root / "run", "--data", root / "d.h5", "--out", root / "q",
             "--calib-frames", "32"],
        ):  # fmt: skip
            with pytest.raises(SystemExit) as exc:
                main([str(a) for a in args])
            assert exc.value.code in (0, None), args
    finally:
        torch.set_num_threads(threads)
    return {"data": root / "d.h5", "run": root / "run", "int8": root / "q" / "model_int8.onnx",
            "fp32": root / "q" / "model_fp32.onnx"}  # fmt: skip


# ---- ONNX damage ---------------------------------------------------------------------------
SCALE_VALUES = [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-30, 3.0]
INPUT_EDITS = ["rank2", "rank4", "ch1", "ch3", "len64", "len256", "double", "int8", "dynamic"]
OUTPUT_EDITS = ["rank1", "rank3", "width3", "width5", "dynamic"]
META_KEYS = ["amrkit.classes", "amrkit.frame_length", "amrkit.precision", "amrkit.version",
             "amrkit.sample_rate_hz", "amrkit.spec"]  # fmt: skip
META_VALUES = [None, "", "x", "[]", '["A", "A"]', "-1", "0", "1e9", '{"a": 1}']

ONNX_DAMAGE = st.one_of(
    st.tuples(st.just("scale"), st.integers(0, 50), st.sampled_from(SCALE_VALUES)),
    st.tuples(st.just("input"), st.sampled_from(INPUT_EDITS)),
    st.tuples(st.just("output"), st.sampled_from(OUTPUT_EDITS)),
    st.tuples(st.just("meta"), st.sampled_from(META_KEYS), st.sampled_from(META_VALUES)),
    st.tuples(st.just("bytes"), st.floats(0.0, 1.0), st.sampled_from(["truncate", "flip"])),
    st.tuples(st.just("weight"), st.integers(0, 50), st.sampled_from([math.nan, math.inf])),
)


def _dims(vi, dims: list[int | None]) -> None:
    shape = vi.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dim = shape.dim.add()
        if d is None:
            dim.dim_param = "n"
        else:
            dim.dim_value = d


def damage_onnx(src: Path, dst: Path, how: tuple) -> bool:
    """Write a damaged copy of ``src``; True when the damage certainly makes it invalid."""
    if how[0] == "bytes":
        data = bytearray(src.read_bytes())
        at = int(how[1] * (len(data) - 1))
        if how[2] == "truncate":
            dst.write_bytes(bytes(data[:at]))
            return at < len(data) // 2
        data[at] ^= 0xFF
        dst.write_bytes(bytes(data))
        return False
    model = onnx.load(str(src))
    invalid = True
    g = model.graph
    if how[0] in ("scale", "weight"):
        scales = {n.input[1] for n in g.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
        floats = [t for t in g.initializer if t.data_type == TensorProto.FLOAT]
        pool = [t for t in floats if (t.name in scales) == (how[0] == "scale")]
        if not pool:
            onnx.save(model, str(dst))
            return False
        t = pool[how[1] % len(pool)]
        a = numpy_helper.to_array(t).copy()
        a.reshape(-1)[0] = how[2]
        t.CopyFrom(numpy_helper.from_array(a.astype(np.float32), t.name))
        invalid = how[0] == "weight" or not (math.isfinite(how[2]) and how[2] > 0)
    elif how[0] == "input":
        inp = g.input[0]
        edit = how[1]
        table = {"rank2": [None, 2], "rank4": [None, 2, L, 1], "ch1": [None, 1, L],
                 "ch3": [None, 3, L], "len64": [None, 2, 64], "len256": [None, 2, 256],
                 "dynamic": [None, None, None]}  # fmt: skip
        if edit in table:
            _dims(inp, table[edit])
        else:
            inp.type.tensor_type.elem_type = {"double": TensorProto.DOUBLE,
                                              "int8": TensorProto.INT8}[edit]  # fmt: skip
        invalid = edit != "dynamic"
    elif how[0] == "output":
        table = {"rank1": [None], "rank3": [None, 4, 1], "width3": [None, 3],
                 "width5": [None, 5], "dynamic": [None, None]}  # fmt: skip
        _dims(g.output[0], table[how[1]])
        invalid = how[1] != "dynamic"
    elif how[0] == "meta":
        key, value = how[1], how[2]
        props = {p.key: p.value for p in model.metadata_props}
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, props)
        required = key in ("amrkit.classes", "amrkit.frame_length")
        invalid = (
            (required and value is None)
            or (key in ("amrkit.classes", "amrkit.frame_length") and value is not None)
            or (key == "amrkit.precision" and value is not None)
        )
    onnx.save(model, str(dst))
    return invalid


@FUZZ
@given(how=ONNX_DAMAGE, which=st.sampled_from(["int8", "fp32"]))
def test_fuzz_onnx_files(models, capsys, how, which):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        must_fail = damage_onnx(models[which], path, how)
        commands = [("evaluate", ["evaluate", path, models["data"], "--split", "test"])]
        if which == "int8":
            commands.append(("simulate", ["simulate", path, models["data"], "--max-frames", "8"]))
        commands.append(("metrics", ["metrics", path, "--json"]))
        for name, args in commands:
            code, err = invoke(capsys, args)
            check_outcome(code, err, f"{name} on {which} {how}", must_fail and name != "metrics")


# ---- run folder damage ---------------------------------------------------------------------
RUN_DAMAGE = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(["spec", "classes", "frame_length",
                                                "sample_rate_hz", "dataset", "train_config"])),
    st.tuples(st.just("set"), st.sampled_from(["spec", "classes", "frame_length",
                                               "sample_rate_hz"]),
              st.sampled_from([None, 0, -5, "x", [], {}, ["A", "A"], 1e9, True, 128.5])),
    st.tuples(st.just("runjson"), st.sampled_from(["", "[]", "not json", "{}", "null"])),
    st.tuples(st.just("weights"), st.sampled_from(["nan", "inf", "drop", "extra", "shape",
                                                   "truncate", "empty", "garbage", "missing",
                                                   "object"]), st.integers(0, 20)),
)  # fmt: skip


def damage_run(src: Path, dst: Path, how: tuple) -> bool:
    shutil.copytree(src, dst)
    info = json.loads((dst / "run.json").read_text())
    if how[0] == "drop":
        info.pop(how[1])
        (dst / "run.json").write_text(json.dumps(info))
        return how[1] in ("spec", "classes", "frame_length")
    if how[0] == "set":
        info[how[1]] = how[2]
        (dst / "run.json").write_text(json.dumps(info))
        return how[1] != "sample_rate_hz"
    if how[0] == "runjson":
        (dst / "run.json").write_text(how[1])
        return True
    kind, i = how[1], how[2]
    weights = dst / "model.pt"
    state = torch.load(weights, weights_only=True)
    keys = [k for k, v in state.items() if v.is_floating_point() and v.numel()]
    key = keys[i % len(keys)]
    if kind in ("nan", "inf"):
        state[key].reshape(-1)[0] = float(kind)
    elif kind == "drop":
        state.pop(key)
    elif kind == "extra":
        state["extra.weight"] = torch.zeros(3)
    elif kind == "shape":
        state[key] = torch.zeros(state[key].numel() + 1)
    if kind in ("nan", "inf", "drop", "extra", "shape"):
        torch.save(state, weights)
    elif kind == "truncate":
        weights.write_bytes(weights.read_bytes()[: 1 + i * 17])
    elif kind == "empty":
        weights.write_bytes(b"")
    elif kind == "garbage":
        weights.write_bytes(os.urandom(64 + i))
    elif kind == "missing":
        weights.unlink()
    else:  # a pickle of an arbitrary object: weights_only must refuse it
        torch.save({"w": torch.zeros(1), "f": shutil.copyfile}, weights)
    return True


@FUZZ
@given(how=RUN_DAMAGE)
def test_fuzz_run_folders(models, capsys, how):
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        must_fail = damage_run(models["run"], run, how)
        out = Path(tmp) / "ft"
        for name, args in (
            ("evaluate", ["evaluate", run, models["data"], "--device", "cpu"]),
            ("metrics", ["metrics", run, "--json"]),
            ("init-from", ["train", models["data"], "--model", "4x4p,8x4p", "--epochs", "1",
                           "--init-from", run, "--out", out, "--threads", "1", "-q",
                           "--device", "cpu"]),
        ):  # fmt: skip
            code, err = invoke(capsys, args)
            fails = must_fail and not (name == "metrics" and how[0] == "weights")
            check_outcome(code, err, f"{name} on run {how}", fails)
            if code:
                assert not out.exists(), f"{name} failed but left {out}"
            shutil.rmtree(out, ignore_errors=True)


# ---- the same damage, the same line, from every command and runtime -------------------------
def _zero_scale(src: Path, dst: Path) -> None:
    damage_onnx(src, dst, ("scale", 3, 0.0))


def _nan_scale(src: Path, dst: Path) -> None:
    damage_onnx(src, dst, ("scale", 0, math.nan))


def _three_channels(src: Path, dst: Path) -> None:
    damage_onnx(src, dst, ("input", "ch3"))


@pytest.mark.parametrize(
    ("damage", "needle"),
    [(_nan_scale, "has scale nan; scales must be > 0"),
     (_zero_scale, "has scale 0.0; scales must be > 0"),
     (_three_channels, "is declared ?x3x128")],
    ids=["nan-scale", "zero-scale", "three-channels"],
)  # fmt: skip
def test_same_damage_same_line_everywhere(models, capsys, tmp_path, damage, needle):
    path = tmp_path / "bad.onnx"
    damage(models["int8"], path)
    rec = tmp_path / "rec"
    (tmp_path / "rec.sigmf-data").write_bytes(np.zeros(2 * L * 4, np.float32).tobytes())
    (tmp_path / "rec.sigmf-meta").write_text(json.dumps({
        "global": {"core:datatype": "cf32_le", "core:sample_rate": 200000.0,
                   "core:version": "1.2.0"}, "captures": [{"core:sample_start": 0}],
        "annotations": []}))  # fmt: skip
    runs = [
        ["evaluate", path, models["data"]],
        ["evaluate", path, models["data"], "--runtime", "c"],
        ["classify", path, f"{rec}.sigmf-meta"],
        ["simulate", path, models["data"]],
    ]
    try:
        import openvino  # noqa: F401

        runs.append(["evaluate", path, models["data"], "--runtime", "openvino"])
    except ImportError:
        pass
    lines = set()
    for args in runs:
        code, err = invoke(capsys, args)
        check_outcome(code, err, " ".join(map(str, args[:1] + args[3:])), must_fail=True)
        assert needle in err, (args, err)
        lines.add(err.strip())
    assert len(lines) == 1, lines  # one message, whoever loads the model


def test_nan_weights_in_a_run_are_refused_with_the_tensor_named(models, capsys, tmp_path):
    run = tmp_path / "run"
    damage_run(models["run"], run, ("weights", "nan", 0))
    for args in (["evaluate", run, models["data"]], ["export", run, "--out", tmp_path / "m.onnx"],
                 ["quantize", run, "--data", models["data"], "--out", tmp_path / "q"]):  # fmt: skip
        code, err = invoke(capsys, args)
        check_outcome(code, err, args[0], must_fail=True)
        assert "holds NaN or inf values; retrain or restore the run" in err
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "q").exists()


def test_fuzz_counts_are_fixed():
    assert FUZZ.max_examples == EXAMPLES and FUZZ.derandomize
