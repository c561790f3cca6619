"""Files without a split: every command that applies a trained model uses the derived split the
model was trained on (run.json, or ``amrkit.split_seed`` in its ONNX files), unless
``--split-seed`` says otherwise."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from amrkit.cli import main
from amrkit.data.open import open_frames
from amrkit.data.split import SPLIT_SEED_KEY, recorded_split_seed, resolve_split_seed
from amrkit.errors import AmrkitError

CLASSES = ("TONE+", "TONE-", "NOISE")
L = 64
SEED = 3


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_npz(path, per_class: int = 60, seed: int = 0):
    """Three easy classes, no split member."""
    rng = np.random.default_rng(seed)
    t = np.arange(L)
    frames, labels = [], []
    for c in range(len(CLASSES)):
        for _ in range(per_class):
            if c < 2:
                z = np.exp(1j * ((1 if c == 0 else -1) * 2 * np.pi * 0.1 * t + rng.uniform(0, 6)))
            else:
                z = rng.standard_normal(L) + 1j * rng.standard_normal(L)
            frames.append(np.stack([z.real, z.imag]).astype(np.float32))
            labels.append(c)
    np.savez(path, iq=np.stack(frames), label=np.array(labels), classes=np.array(CLASSES))
    return path


def positions(data, seed: int, split: str) -> set[int]:
    with open_frames(data, split_seed=seed) as frames:
        return set(frames.indices(split).tolist())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An .npz without a split, a run trained on it with --seed 3, and its ONNX export."""
    import torch

    root = tmp_path_factory.mktemp("splitseed")
    data = write_npz(root / "data.npz")
    run = root / "run"
    threads = torch.get_num_threads()
    try:
        main(["train", str(data), "--model", "8x4p,16x2", "--epochs", "1", "--seed", str(SEED),
              "--batch-size", "32", "--threads", "1", "--device", "cpu", "--quiet",
              "--out", str(run)])  # fmt: skip
    except SystemExit as exc:
        assert not exc.code
    finally:
        torch.set_num_threads(threads)
    try:
        main(["export", str(run), "--out", str(root / "model.onnx")])
    except SystemExit as exc:
        assert not exc.code
    return data, run, root / "model.onnx"


@pytest.fixture()
def seen(monkeypatch):
    """Positions evaluate / quantize / simulate ran on: {"evaluate": [...], ...}."""
    import amrkit.golden.model as golden
    import amrkit.metrics.evaluate as ev
    import amrkit.quant.pipeline as pipeline

    got: dict[str, list[set[int]]] = {"evaluate": [], "quantize_val": [], "simulate": []}

    def spy(module, name, key, arg):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            out = real(*args, **kwargs)
            pos = args[arg] if arg is not None else out
            got[key].append(set(np.asarray(pos).tolist()))
            return out

        monkeypatch.setattr(module, name, wrapper)

    spy(ev, "predict", "evaluate", 2)  # predict(predictor, frames, positions, ...)
    spy(pipeline, "accuracy", "quantize_val", 2)  # accuracy(path, frames, positions, ...)
    spy(golden, "select_frames", "simulate", None)  # returns the positions
    return got


def test_train_records_the_derived_split(trained):
    data, run, onnx_file = trained
    info = json.loads((run / "run.json").read_text())
    assert info["dataset"]["derived_split"] == {"seed": SEED, "fractions": [0.8, 0.1, 0.1]}
    meta = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert meta[SPLIT_SEED_KEY] == str(SEED)
    # the case that matters: seed 0's test split is largely seed 3's training frames
    assert len(positions(data, 0, "test") & positions(data, SEED, "train")) > 0


@pytest.mark.parametrize("model", ["run", "onnx"])
def test_evaluate_tests_on_frames_the_model_did_not_train_on(trained, model, seen, capsys):
    data, run, onnx_file = trained
    path = run if model == "run" else onnx_file
    train = positions(data, SEED, "train")
    code, out, err = cli(capsys, "evaluate", path, data, "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["derived_split"]["seed"] == SEED
    assert seen["evaluate"][-1] == positions(data, SEED, "test")
    assert not seen["evaluate"][-1] & train
    # --split-seed wins over the record
    code, out, err = cli(capsys, "evaluate", path, data, "--split-seed", "5", "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["derived_split"]["seed"] == 5
    assert seen["evaluate"][-1] == positions(data, 5, "test") != positions(data, SEED, "test")


def test_quantize_and_simulate_use_the_runs_split(trained, seen, tmp_path, capsys):
    data, run, _ = trained
    train = positions(data, SEED, "train")
    out = tmp_path / "q"
    code, stdout, err = cli(capsys, "quantize", run, "--data", data, "--out", out,
                            "--calib-frames", "30", "--json")  # fmt: skip
    assert code == 0, err
    details = json.loads(stdout)
    assert details["data"]["derived_split"]["seed"] == SEED
    assert seen["quantize_val"][-1] == positions(data, SEED, "val")
    assert not seen["quantize_val"][-1] & train
    for name in ("model_int8.onnx", "model_fp32.onnx"):
        meta = {p.key: p.value for p in onnx.load(str(out / name)).metadata_props}
        assert meta[SPLIT_SEED_KEY] == str(SEED), name
    # the INT8 file carries the record on: simulate and evaluate use the run's test split
    int8 = out / "model_int8.onnx"
    code, _, err = cli(capsys, "simulate", int8, data, "--no-ort", "--json")
    assert code == 0, err
    assert seen["simulate"][-1] == positions(data, SEED, "test")
    code, _, err = cli(capsys, "simulate", int8, data, "--no-ort", "--split-seed", "7", "--json")
    assert code == 0, err
    assert seen["simulate"][-1] == positions(data, 7, "test")
    code, _, err = cli(capsys, "evaluate", int8, data, "--json")
    assert code == 0, err
    assert seen["evaluate"][-1] == positions(data, SEED, "test")
    # an explicit --split-seed for quantize
    code, stdout, err = cli(capsys, "quantize", run, "--data", data, "--out", tmp_path / "q5",
                            "--calib-frames", "30", "--split-seed", "5", "--json")  # fmt: skip
    assert code == 0, err
    assert seen["quantize_val"][-1] == positions(data, 5, "val")


def test_split_seed_resolution():
    run_info = {"dataset": {"derived_split": {"seed": 4, "fractions": [0.8, 0.1, 0.1]}}}
    assert recorded_split_seed(run_info) == 4
    assert recorded_split_seed({SPLIT_SEED_KEY: "9"}) == 9
    assert recorded_split_seed({"dataset": {"path": "x.h5"}}) is None  # a file with a split
    assert recorded_split_seed(None) is None
    assert resolve_split_seed(None, run_info) == 4
    assert resolve_split_seed(2, run_info) == 2
    assert resolve_split_seed(0, {SPLIT_SEED_KEY: "9"}) == 0
    assert resolve_split_seed(None, {"amrkit.classes": "[]"}) == 0
    for bad in ("x", "-1", "2.5", True):
        with pytest.raises(AmrkitError, match="records split seed.*--split-seed"):
            recorded_split_seed({SPLIT_SEED_KEY: bad}, "'m.onnx'")
    with pytest.raises(AmrkitError, match="--split-seed -1"):
        resolve_split_seed(-1, None)


def test_damaged_record_is_a_one_line_error(trained, tmp_path, capsys):
    data, _, onnx_file = trained
    m = onnx.load(str(onnx_file))
    for p in m.metadata_props:
        if p.key == SPLIT_SEED_KEY:
            p.value = "three"
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    code, out, err = cli(capsys, "evaluate", bad, data)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "'three'" in err and "--split-seed" in err
    code, _, err = cli(capsys, "evaluate", bad, data, "--split-seed", "1", "--json")
    assert code == 0, err
