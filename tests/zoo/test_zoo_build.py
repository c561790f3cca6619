"""The zoo's commands and Python API on the tiny entry: one name everywhere (evaluate,
simulate, export, quantize, metrics, classify, train --init-from / --teacher, prune), the
builder's refusals, listing, cards as text, docs, and a rebuild compared with its card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from zoo_fixtures import invoke, one_line_error

from amrkit import pretrained
from amrkit.errors import AmrkitError


@pytest.fixture(scope="module")
def train_h5(tiny_zoo: Path) -> Path:
    return tiny_zoo.parent / "work" / "train.h5"


def test_one_name_in_every_command(zoo_env, train_h5, tmp_path, capsys, zoo_helpers):
    code, out, err = invoke(capsys, "evaluate", "zoo:tiny:int8", train_h5, "--split", "all",
                            "--json")  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["model"]["kind"] == "onnx-int8" and res["model"]["path"] == "zoo:tiny:int8"
    code, out, err = invoke(capsys, "evaluate", "zoo:tiny", train_h5, "--json", "--device", "cpu")
    assert code == 0 and json.loads(out)["model"]["kind"] == "torch", err
    code, out, err = invoke(capsys, "simulate", "zoo:tiny:int8", train_h5, "--json")
    assert code == 0 and json.loads(out)["bit_exact"], err
    code, out, err = invoke(capsys, "export", "zoo:tiny", "--out", tmp_path / "m.onnx")
    assert code == 0 and (tmp_path / "m.onnx").is_file(), err
    code, out, err = invoke(capsys, "quantize", "zoo:tiny", "--data", train_h5, "--out",
                            tmp_path / "q", "--calib-frames", "32")  # fmt: skip
    assert code == 0 and (tmp_path / "q" / "model_int8.onnx").is_file(), err
    code, out, err = invoke(capsys, "metrics", "zoo:tiny:int8", "--json")
    assert code == 0 and json.loads(out)["model"] == "zoo:tiny:int8", err
    code, out, err = invoke(capsys, "metrics", "zoo:tiny", "--json")
    assert code == 0 and json.loads(out)["source"] == "run", err
    # classify: a SigMF recording with no training step
    base = tmp_path / "rec"
    (tmp_path / "rec.sigmf-data").write_bytes(zoo_helpers.iq_recording(128 * 8).tobytes())
    meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 200000.0,
                       "core:version": "1.2.0"},
            "captures": [{"core:sample_start": 0}], "annotations": []}  # fmt: skip
    (tmp_path / "rec.sigmf-meta").write_text(json.dumps(meta))
    code, out, err = invoke(capsys, "classify", "zoo:tiny:int8", f"{base}.sigmf-meta", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == 8 and sum(res["histogram"].values()) == 8


def test_training_builds_on_a_zoo_entry(zoo_env, train_h5, tmp_path, capsys):
    from amrkit.artifacts import load_run

    tiny = load_run("zoo:tiny")
    assert tiny.ref == "zoo:tiny" and tiny.path == zoo_env / "tiny" / "run"
    common = ["--epochs", "1", "--batch-size", "32", "--threads", "1", "-q", "--device", "cpu"]
    code, _, err = invoke(capsys, "train", train_h5, "--model", "4x4p,8x4p", "--init-from",
                          "zoo:tiny", "--out", tmp_path / "ft", *common)  # fmt: skip
    assert code == 0, err
    info = json.loads((tmp_path / "ft" / "run.json").read_text())
    assert info["init_from"]["weights_sha256"] == pretrained.entry("tiny").files[
        "run/model.pt"]["sha256"]  # fmt: skip
    code, _, err = invoke(capsys, "train", train_h5, "--model", "2x4p", "--teacher", "zoo:tiny",
                          "--out", tmp_path / "kd", *common)  # fmt: skip
    assert code == 0, err
    code, _, err = invoke(capsys, "prune", "zoo:tiny", "--data", train_h5, "--out",
                          tmp_path / "pr", "--ratio", "0.5", "--epochs", "1")  # fmt: skip
    assert code == 0 and (tmp_path / "pr" / "prune.json").is_file(), err
    code, _, err = invoke(capsys, "train", train_h5, "--model", "4x4p", "--init-from",
                          "zoo:tiny:int8", "--out", tmp_path / "bad", *common)  # fmt: skip
    assert "needs a trained run: give zoo:tiny" in one_line_error(code, err)
    assert not (tmp_path / "bad").exists()


def test_python_api(zoo_env):
    import numpy as np
    import torch

    from amrkit import zoo

    assert zoo.names() == ["tiny"]
    model = zoo.pretrained("tiny")
    assert isinstance(model, torch.nn.Module) and not model.training
    assert zoo.pretrained("zoo:tiny").spec == model.spec
    assert zoo.path("tiny", "int8") == zoo_env / "tiny" / "model_int8.onnx"
    pred = zoo.predictor("tiny", "int8", threads=1)
    iq = np.random.default_rng(0).standard_normal((3, 2, 128)).astype(np.float32)
    assert pred.logits(iq).shape == (3, 4) and pred.kind == "onnx-int8"
    assert zoo.card("tiny")["name"] == "tiny"
    with pytest.raises(AmrkitError, match="precision 'int4'"):
        zoo.path("tiny", "int4")


def test_list_show_verify_docs_and_models(zoo_env, tmp_path, capsys):
    code, out, err = invoke(capsys, "zoo", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["tiny"] and rows[0]["files"] == "ok"
    code, out, _ = invoke(capsys, "zoo", "list")
    assert "zoo:tiny" in out and f"{rows[0]['metrics']['fp32_test_pct']:.2f}" in out
    code, out, _ = invoke(capsys, "zoo", "show", "zoo:tiny")
    assert code == 0 and out.startswith("# zoo:tiny") and "## Accuracy" in out
    code, out, _ = invoke(capsys, "zoo", "show", "tiny", "--json")
    assert json.loads(out)["schema"] == "amrkit-model-card/1"
    code, out, err = invoke(capsys, "zoo", "verify")
    assert code == 0 and "zoo:tiny: files ok" in out, err
    code, out, _ = invoke(capsys, "zoo", "docs", "--out", tmp_path / "docs")
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [
        "README.md",
        "pareto.png",
        "tiny.md",
    ]
    code, out, _ = invoke(capsys, "models", "--json")
    zoo_rows = [r for r in json.loads(out) if r["source"] == "zoo"]
    assert [r["name"] for r in zoo_rows] == ["zoo:tiny"]
    assert zoo_rows[0]["int8_test_pct"] == rows[0]["metrics"]["int8_test_pct"]
    code, out, _ = invoke(capsys, "models")
    assert "pretrained models" in out and "zoo:tiny" in out


def test_verify_names_a_damaged_entry(tiny_zoo, tmp_path, capsys, monkeypatch, zoo_helpers):
    copied = zoo_helpers.copy_zoo(tiny_zoo, tmp_path / "zoo")
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(copied))
    zoo_helpers.flip_byte(copied / "tiny" / "model_int8.onnx")
    code, _, err = invoke(capsys, "zoo", "verify", "tiny")
    assert "model_int8.onnx" in one_line_error(code, err)
    code, out, _ = invoke(capsys, "zoo", "list")
    assert "DAMAGED" in out
    code, _, err = invoke(capsys, "evaluate", "zoo:tiny:int8", tiny_zoo.parent / "work" /
                          "train.h5")  # fmt: skip
    assert "was modified" in one_line_error(code, err)


def test_add_refuses_bad_requests_and_leaves_nothing(tiny_zoo, train_h5, tmp_path, capsys):
    run = tiny_zoo.parent / "work" / "run"
    zoo = tmp_path / "zoo"
    other = tmp_path / "other.h5"
    from amrkit.data.synth import preset_config, synthesize

    synthesize(preset_config("matlab", classes=("BPSK", "QPSK", "GFSK", "DSB-AM"),
                             frames_per_class=5, frame_length=128, seed=9), other)  # fmt: skip
    base = ["zoo", "add", run, "--zoo", zoo, "--no-mcu", "--workers", "1"]
    cases = [
        (["--name", "t", "--train-data", other], "is not the data run"),
        (["--name", "t", "--train-data", train_h5, "--test-seed", "3"], "repeats the training"),
        (["--name", "t", "--train-data", train_h5, "--test-seed", "2"], "repeats the training"),
        (["--name", "bad name", "--train-data", train_h5], "is not allowed"),
        (["--name", "t", "--train-data", train_h5, "--report", "table"], "--report 'table'"),
        (["--name", "t", "--train-data", tmp_path / "nope.h5"], "nope.h5"),
    ]
    for extra, needle in cases:
        code, _, err = invoke(capsys, *base, *extra)
        assert needle in one_line_error(code, err), err
    assert not zoo.exists() or not [p for p in zoo.iterdir() if p.name != "index.json"]
    code, _, err = invoke(capsys, "zoo", "add", tmp_path, "--name", "t", "--train-data",
                          train_h5, "--zoo", zoo)  # fmt: skip
    assert "not a run directory" in one_line_error(code, err)
    code, _, err = invoke(capsys, "zoo", "add", run, "--name", "tiny", "--train-data", train_h5,
                          "--zoo", tiny_zoo)  # fmt: skip
    assert "already has entry 'tiny'; pass --force" in one_line_error(code, err)


def test_data_without_a_synth_config_is_refused(tiny_h5, tmp_path):
    """A run trained on a file that no generator config describes cannot get a card."""
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model
    from amrkit.zoo.build import add_entry

    train_model(tiny_h5, "4x4p", tmp_path / "run", TrainConfig(epochs=1, batch_size=32),
                device="cpu", threads=1, progress=False)  # fmt: skip
    with pytest.raises(AmrkitError, match="was not made by 'amrkit data generate'|not made by"):
        add_entry(tmp_path / "run", tiny_h5, "x", zoo_dir=tmp_path / "zoo")
    assert not (tmp_path / "zoo").exists() or not any(
        p.name != "index.json" for p in (tmp_path / "zoo").iterdir()
    )


def test_extra_sections_are_checked_and_rendered(tmp_path):
    from amrkit.zoo.build import _read_extra
    from amrkit.zoo.cards import _extra_part

    good = tmp_path / "extra.json"
    good.write_text(json.dumps({"sections": [{
        "title": "Leave-one-out", "source": "bench_generalization.py",
        "table": {"columns": ["set", "FP32 (%)"], "rows": [["sps4", 91.5]]}}]}))  # fmt: skip
    sections = _read_extra(good)
    text = "\n".join(_extra_part({"extra_sections": sections}))
    assert "## Leave-one-out" in text and "| sps4 | 91.50 |" in text
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sections": [{"table": {"rows": []}}]}))
    with pytest.raises(AmrkitError, match="section 0 needs a 'title'"):
        _read_extra(bad)


def test_rebuild_reruns_the_card_and_compares(tiny_zoo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(tiny_zoo))
    out = tmp_path / "rb"
    args = ["--no-mcu", "--workers", "1", "--threads", "1", "--device", "cpu", "--json"]
    code, stdout, err = invoke(capsys, "zoo", "rebuild", "tiny", "--out", out, *args)
    assert code == 0, err
    res = json.loads(stdout)
    assert res == json.loads((out / "comparison.json").read_text())
    assert res["data_identical"]  # the regenerated training data is byte-for-byte the same
    for key in ("macs", "learnables", "int8_bytes"):
        assert res[key]["card"] == res[key]["rebuild"]
    card = json.loads((tiny_zoo / "tiny" / "card.json").read_text())
    new = json.loads((out / "zoo" / "tiny" / "card.json").read_text())
    for prec in ("fp32", "int8"):
        a = card["evaluation"]["test"][prec]["accuracy_pct"]
        b = new["evaluation"]["test"][prec]["accuracy_pct"]
        assert res[f"{prec}_test"] == {"card": a, "rebuild": b, "diff_pt": round(b - a, 2)}
    assert res["within_tolerance"] == all(abs(res[f"{p}_test"]["diff_pt"]) <= 0.3
                                          for p in ("fp32", "int8"))  # fmt: skip
    assert new["commands"]["configs"]["train"]["seed"] == card["commands"]["configs"]["train"][
        "seed"]  # fmt: skip
    for name in ("data.json", "train.json", "ptq.json", "card.json", "spec.json"):
        assert (out / name).is_file()
    # the card's own rebuild commands run as printed (data step shown here: same bytes)
    code, _, err = invoke(capsys, "generate", tmp_path / "again.h5", "--config",
                          out / "data.json", "-q")  # fmt: skip
    assert code == 0, err
    from amrkit.data.open import open_frames

    with open_frames(tmp_path / "again.h5") as f:
        assert f.source["config_hash"] == card["training"]["data"]["config_hash"]
    shutil.rmtree(out)
