"""`amrkit train` from the command line: happy path, overrides, and bad inputs (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from amrkit.cli import main

TINY = ["--model", "8x4p,16x4", "--batch-size", "32", "--threads", "1", "--quiet"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_cli_trains_with_config_file_and_overrides(easy_h5, tmp_path, capsys):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("epochs: 5\nlr: 0.05\nlr_drop_epoch: 1\n")
    code, out, err = cli(
        capsys,
        "train",
        easy_h5,
        "--out",
        tmp_path / "r",
        "--config",
        cfg,
        "--epochs",
        "2",
        *TINY,
        "--json",
    )
    assert code == 0, err
    metrics = json.loads(out)
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    tc = info["train_config"]
    assert (tc["epochs"], tc["lr"], tc["lr_drop_epoch"], tc["batch_size"]) == (2, 0.05, 1, 32)
    assert metrics["epochs"] == 2 and metrics["threads"] == 1


@pytest.fixture()
def done_run(easy_h5, tmp_path, capsys):
    out = tmp_path / "done"
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--epochs", "1", *TINY)
    assert code == 0, err
    return out


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["--model", "8x4p,zz"], "FILTERSxKERNEL"),
        (["--model", "8x4p,8x4p,8x4p,8x4p,8x4p,8x4p,8x4p,8x4p"], "too short|vanish"),
        (["--epochs", "-1"], "epochs = -1"),
        (["--epochs", "0"], "epochs = 0"),
        (["--augment", "phase,spin"], "augment = 'phase,spin' is invalid"),
        (["--lr", "0"], "lr = 0.0"),
        (["--lr", "-0.5"], "lr = -0.5"),
        (["--batch-size", "0"], "batch_size = 0"),
        (["--momentum", "1.5"], "momentum"),
        (["--device", "tpu"], "--device 'tpu'"),
        (["--threads", "0"], "--threads 0"),
        (["--classes", "QPSK"], "QPSK"),
        (["--snr-min", "50"], "no frames left"),
        (["--resume", "--force"], "exclude each other"),
        (["--resume"], "not a run folder"),
        ([], "--model is required"),
    ],
)
def test_bad_options_are_one_line_errors_and_leave_nothing(easy_h5, tmp_path, capsys, args, needle):
    import re

    model = [] if "--model" in args or not args or args == ["--resume"] else ["--model", "8x4"]
    out = tmp_path / "new" / "run"
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, *model, *args, "--quiet")
    assert code == 1
    assert re.search(needle, one_line_error(err))
    assert not (tmp_path / "new").exists()


def test_cuda_request_without_cuda(easy_h5, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    code, _, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "r", *TINY, "--device", "cuda")
    assert code == 1 and "no CUDA device" in one_line_error(err)
    assert not (tmp_path / "r").exists()


def test_unknown_config_key(easy_h5, tmp_path, capsys):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("epochs: 2\nlearning_rate: 0.1\n")
    code, _, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "r", *TINY, "--config", cfg)
    assert code == 1 and "learning_rate" in one_line_error(err)
    assert not (tmp_path / "r").exists()


def test_missing_data_file(tmp_path, capsys):
    code, _, err = cli(capsys, "train", tmp_path / "nope.h5", "--out", tmp_path / "r", *TINY)
    assert code == 1 and "does not exist" in one_line_error(err)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("missing", "code_"), [("val", 1), ("train", 0)])
def test_data_without_train_or_val_frames(make_easy, tmp_path, capsys, missing, code_):
    n = 4 * 20
    split = np.where(np.arange(n) % 2 == 0, 2, 1 - code_).astype(np.uint8)  # no `missing` split
    data = make_easy(tmp_path / "d.h5", per_class=20, split=split)
    code, _, err = cli(capsys, "train", data, "--out", tmp_path / "r", *TINY)
    assert code == 1 and f"no {missing} frames" in one_line_error(err)
    assert not (tmp_path / "r").exists()


def test_out_is_a_file(easy_h5, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    code, _, err = cli(capsys, "train", easy_h5, "--out", f, *TINY)
    assert code == 1 and "is a file" in one_line_error(err)
    assert f.read_text() == "keep me"


def test_out_is_a_foreign_folder(easy_h5, tmp_path, capsys):
    d = tmp_path / "stuff"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    for extra in ([], ["--force"]):
        code, _, err = cli(capsys, "train", easy_h5, "--out", d, *TINY, *extra)
        assert code == 1 and "not a run" in one_line_error(err)
    assert _snapshot(d) == {"notes.txt": b"mine"}


def test_existing_run_needs_resume_or_force(easy_h5, done_run, capsys):
    before = _snapshot(done_run)
    code, _, err = cli(capsys, "train", easy_h5, "--out", done_run, *TINY)
    assert code == 1 and "--resume" in one_line_error(err) and "--force" in err
    assert _snapshot(done_run) == before
    code, _, err = cli(
        capsys, "train", easy_h5, "--out", done_run, "--epochs", "2", *TINY, "--force"
    )
    assert code == 0, err
    assert len((done_run / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs
    assert json.loads((done_run / "metrics.json").read_text())["epochs"] == 2


def test_resume_refuses_changes_that_alter_the_weights(easy_h5, done_run, capsys):
    before = _snapshot(done_run)
    for args, needle in (
        (["--lr", "0.5"], "lr = 0.5 differs"),
        (["--seed", "9"], "seed = 9 differs"),
        (["--model", "16x4"], "differs from the run's model"),
        (["--classes", "TONE+,BPSK"], "not the data"),
    ):
        code, _, err = cli(
            capsys, "train", easy_h5, "--out", done_run, "--resume", *args, "--quiet"
        )
        assert code == 1 and needle in one_line_error(err)
    assert _snapshot(done_run) == before


def test_resume_with_other_data_is_refused(make_easy, done_run, tmp_path, capsys):
    other = make_easy(tmp_path / "other.h5", per_class=30, seed=5)
    code, _, err = cli(capsys, "train", other, "--out", done_run, "--resume", "--quiet")
    assert code == 1 and "not the data" in one_line_error(err)


def test_json_is_strict_and_text_survives_missing_speed(easy_h5, tmp_path, capsys, monkeypatch):
    """NaN metrics print as strict JSON; no measured time (fps None) still prints a line."""
    import amrkit.train.runner as runner

    def fake_train_model(*args, **kwargs):
        return {
            "best_epoch": 1, "best_val_accuracy": 0.5, "best_val_loss": float("nan"),
            "test_accuracy": None, "test_loss": float("inf"), "train_frames_per_s": None,
            "wall_time_s": 0.0, "train_frames": np.int64(320),
        }  # fmt: skip

    monkeypatch.setattr(runner, "train_model", fake_train_model)

    def no_constants(name: str) -> None:
        raise ValueError(f"non-strict JSON constant {name}")

    code, out, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "r", *TINY, "--json")
    assert code == 0, err
    metrics = json.loads(out, parse_constant=no_constants)
    assert metrics["best_val_loss"] == "nan" and metrics["test_loss"] == "inf"
    assert metrics["train_frames_per_s"] is None and metrics["train_frames"] == 320
    code, out, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "r", "--model", "8x4")
    assert code == 0, err
    assert "- frames/s" in out and "no test split" in out


@pytest.mark.parametrize(("flag", "expected"), [((), True), (("--no-deterministic",), False)])
def test_deterministic_flag_reaches_the_trainer(
    easy_h5, tmp_path, capsys, monkeypatch, flag, expected
):
    """--deterministic is the default; --no-deterministic hands False to train_model."""
    import amrkit.train.runner as runner

    seen: dict = {}

    def fake_train_model(*args, **kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(runner, "train_model", fake_train_model)
    code, _, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "r", *TINY, *flag)
    assert code == 0, err
    assert seen["deterministic"] is expected
