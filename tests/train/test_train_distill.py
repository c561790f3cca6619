"""Knowledge distillation: the loss against a hand computation, alpha=0 is plain training
bit for bit, the CLI records the teacher, and bad teachers are one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from amrkit.cli import main
from amrkit.train.config import TrainConfig
from amrkit.train.distill import kd_loss
from amrkit.train.runner import train_model

TINY = TrainConfig(epochs=2, batch_size=32, lr=0.05)


def _softmax(v: list[float]) -> list[float]:
    e = [math.exp(x - max(v)) for x in v]
    return [x / sum(e) for x in e]


def test_kd_loss_matches_a_hand_computation():
    s = [[1.0, -0.5, 2.0], [0.3, 0.1, -1.0]]
    t = [[0.5, 0.0, 3.0], [-1.0, 2.0, 0.0]]
    y = [2, 0]
    temp, alpha = 2.5, 0.3
    ce = kl = 0.0
    for si, ti, yi in zip(s, t, y, strict=True):
        ce -= math.log(_softmax(si)[yi]) / len(s)
        ps, pt = _softmax([x / temp for x in si]), _softmax([x / temp for x in ti])
        kl += sum(q * math.log(q / p) for p, q in zip(ps, pt, strict=True)) / len(s)
    want = (1 - alpha) * ce + alpha * temp**2 * kl
    got = kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), temp, alpha)
    assert got.item() == pytest.approx(want, rel=1e-6)
    # control: alpha 0 is cross-entropy, and a teacher equal to the student adds nothing
    s_t = torch.tensor(s)
    ce_only = torch.nn.functional.cross_entropy(s_t, torch.tensor(y))
    assert kd_loss(s_t, torch.tensor(t), torch.tensor(y), temp, 0.0).item() == ce_only.item()
    assert kd_loss(s_t, s_t, torch.tensor(y), temp, 1.0).abs().item() < 1e-6


@pytest.fixture(scope="module")
def teacher_run(easy_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "t"
    train_model(easy_h5, "8x4p,16x4", out, TINY, progress=False, threads=1)
    return out


def _weights(run):
    return torch.load(run / "model.pt", weights_only=True)


def test_alpha_zero_is_plain_training_bit_for_bit(easy_h5, teacher_run, tmp_path):
    plain = tmp_path / "plain"
    kd0 = tmp_path / "kd0"
    kd = tmp_path / "kd"
    train_model(easy_h5, "4x4p,8x4", plain, TINY, progress=False, threads=1)
    cfg0 = TrainConfig(**{**TINY.to_dict(), "teacher": str(teacher_run), "kd_alpha": 0.0})
    train_model(easy_h5, "4x4p,8x4", kd0, cfg0, progress=False, threads=1)
    cfg = TrainConfig(**{**TINY.to_dict(), "teacher": str(teacher_run), "kd_alpha": 0.7})
    train_model(easy_h5, "4x4p,8x4", kd, cfg, progress=False, threads=1)
    a, b, c = _weights(plain), _weights(kd0), _weights(kd)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # control: with alpha > 0 the teacher does change the student
    assert not all(torch.equal(a[k], c[k]) for k in a)
    info = json.loads((kd / "run.json").read_text())
    assert info["teacher"]["path"] == str(teacher_run.resolve())
    assert len(info["teacher"]["weights_sha256"]) == 64
    assert info["train_config"]["kd_alpha"] == 0.7


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


ARGS = ["--model", "4x4p,8x4", "--batch-size", "32", "--threads", "1", "--quiet", "--epochs"]


def test_cli_distills_and_resume_checks_the_teacher(easy_h5, teacher_run, tmp_path, capsys):
    out = tmp_path / "s"
    code, _, err = cli(
        capsys, "train", easy_h5, "--out", out, *ARGS, "1", "--teacher", teacher_run,
        "--kd-temperature", "3", "--kd-alpha", "0.6",
    )  # fmt: skip
    assert code == 0, err
    tc = json.loads((out / "run.json").read_text())["train_config"]
    assert (tc["teacher"], tc["kd_temperature"], tc["kd_alpha"]) == (str(teacher_run), 3.0, 0.6)
    # the teacher's weights change under a run that uses it: resume refuses
    w = _weights(teacher_run)
    backup = (teacher_run / "model.pt").read_bytes()
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in w.items()},
               teacher_run / "model.pt")  # fmt: skip
    try:
        code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--resume", "--epochs", "2")
        assert code == 1 and "teacher" in err and "changed" in err
    finally:
        (teacher_run / "model.pt").write_bytes(backup)
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--resume", "--epochs", "2")
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--kd-alpha", "0.5"], "--teacher"),
        (["--teacher", "TEACHER", "--kd-alpha", "1.5"], "kd_alpha"),
        (["--teacher", "TEACHER", "--kd-temperature", "0"], "kd_temperature"),
        (["--teacher", "nowhere"], "not a run directory"),
    ],
)
def test_bad_distillation_options(easy_h5, teacher_run, tmp_path, capsys, extra, needle):
    extra = [str(teacher_run) if a == "TEACHER" else a for a in extra]
    code, _, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "x", *ARGS, "1", *extra)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and needle in lines[0], err
    assert not (tmp_path / "x").exists()


def test_teacher_on_other_classes_is_refused(make_easy, teacher_run, tmp_path, capsys):
    data = make_easy(tmp_path / "d.h5")
    code, _, err = cli(
        capsys, "train", data, "--classes", "TONE+,BPSK", "--out", tmp_path / "x", *ARGS, "1",
        "--teacher", teacher_run,
    )  # fmt: skip
    assert code == 1 and "same classes" in err
    assert not np.any([(tmp_path / "x").exists()])
