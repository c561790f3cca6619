"""`amrkit train --synth` from the command line: a run, its resume, and bad requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from amrkit.cli import main

TINY = ["--model", "8x4p,16x4", "--batch-size", "16", "--threads", "1", "--quiet"]
FAST = ["--compile", "off", "--precision", "fp32"]
CONFIG = """\
preset: matlab
classes: [BPSK, QPSK, 16QAM, GFSK]
frame_length: 128
frames_per_class: 16
block_size: 32
"""


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    return path


def test_synth_run_and_its_resume_need_no_data(tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--synth", tiny_config, "--out", out, *TINY, *FAST, "--json"]
    code, text, err = cli(capsys, *args, "--epochs", "1", "--synth-seed", "3")
    assert code == 0, err
    assert json.loads(text)["train_frames"] == 64  # 16 per class from the file's config
    info = json.loads((out / "run.json").read_text())
    assert info["synth"]["config"]["seed"] == 3 and info["synth"]["eval_frames_per_class"] == 16
    code, text, err = cli(capsys, "train", "--resume", "--out", out, "--epochs", "2", "--json")
    assert code == 0, err
    metrics = json.loads(text)
    assert metrics["resumed"] and metrics["epochs"] == 2
    assert len(metrics["synth"]["epoch_seconds"]) == 2  # epoch 1's (recorded) and epoch 2's
    code, _, err = cli(capsys, *args, "--force", "--epochs", "2", "--synth-seed", "3")
    assert code == 0, err
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2  # an uninterrupted run: the resumed test is test_train_synth.py


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--synth", "nosuch", "--frames-per-class", "4"], "choose a preset (matlab, wide)"),
        (["--synth", "wide"], "needs --frames-per-class"),
        (["--frames-per-class", "4"], "--frames-per-class applies to --synth"),
        ([], "DATA is required"),
        (["--synth", "matlab", "--frames-per-class", "4", "--classes", "BPSK"], "apply to a DATA"),
    ],
)
def test_bad_synth_options_are_one_line_errors_and_leave_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--out", out, *TINY, *args)
    assert code == 1 and needle in one_line_error(err)
    assert not out.exists()


def test_data_of_other_classes_is_refused(easy_h5, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", easy_h5, "--synth", tiny_config, "--out", out, *TINY)
    assert code == 1 and "has classes TONE+" in one_line_error(err)
    assert not out.exists()
