"""Fine-tuning (``--init-from RUN``): a new run starts from a trained run's weights, run.json
records which, resume refuses changed weights, and runs that do not fit are one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from amrkit.cli import main
from amrkit.train.config import TrainConfig
from amrkit.train.runner import train_model

MODEL = "4x4p,8x4"
TINY = TrainConfig(epochs=2, batch_size=32, lr=0.05)


@pytest.fixture(scope="module")
def source_run(easy_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("source") / "s"
    train_model(easy_h5, MODEL, out, TINY, progress=False, threads=1)
    return out


def _params(run) -> dict[str, torch.Tensor]:  # learned tensors only (not BN running stats)
    state = torch.load(run / "model.pt", weights_only=True)
    return {k: v for k, v in state.items() if k.endswith(("weight", "bias"))}


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_a_new_run_starts_from_the_runs_weights(easy_h5, source_run, tmp_path):
    # a learning rate of 1e-9 leaves the weights where they started
    still = TrainConfig(epochs=1, batch_size=32, lr=1e-9, init_from=str(source_run))
    train_model(easy_h5, MODEL, tmp_path / "ft", still, progress=False, threads=1)
    control = TrainConfig(epochs=1, batch_size=32, lr=1e-9, seed=5)
    train_model(easy_h5, MODEL, tmp_path / "fresh", control, progress=False, threads=1)
    source = _params(source_run)
    assert _max_diff(_params(tmp_path / "ft"), source) < 1e-5
    assert _max_diff(_params(tmp_path / "fresh"), source) > 1e-2  # control: init differs
    info = json.loads((tmp_path / "ft" / "run.json").read_text())
    assert info["init_from"]["path"] == str(source_run.resolve())
    assert len(info["init_from"]["weights_sha256"]) == 64
    assert info["train_config"]["init_from"] == str(source_run)
    assert "init_from" not in json.loads((tmp_path / "fresh" / "run.json").read_text())


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


ARGS = ["--batch-size", "32", "--threads", "1", "--quiet", "--epochs"]


def test_cli_fine_tunes_and_resume_checks_the_source(easy_h5, source_run, tmp_path, capsys):
    out = tmp_path / "ft"
    code, _, err = cli(
        capsys, "train", easy_h5, "--model", MODEL, "--out", out, *ARGS, "1",
        "--init-from", source_run,
    )  # fmt: skip
    assert code == 0, err
    backup = (source_run / "model.pt").read_bytes()
    w = torch.load(source_run / "model.pt", weights_only=True)
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in w.items()},
               source_run / "model.pt")  # fmt: skip
    try:
        code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--resume", "--epochs", "2")
        assert code == 1 and "changed" in err and len(err.strip().splitlines()) == 1
    finally:
        (source_run / "model.pt").write_bytes(backup)
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--resume", "--epochs", "2")
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--model", "8x4p,8x4"], "--model"),  # other layers
        (["--model", MODEL, "--classes", "TONE+,BPSK"], "same classes"),
        (["--model", MODEL, "--init-from", "nowhere"], "not a run directory"),
    ],
)
def test_runs_that_do_not_fit_are_refused(easy_h5, source_run, tmp_path, capsys, extra, needle):
    if "--init-from" not in extra:
        extra = [*extra, "--init-from", source_run]
    code, _, err = cli(capsys, "train", easy_h5, "--out", tmp_path / "x", *ARGS, "1", *extra)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and needle in lines[0], err
    assert not (tmp_path / "x").exists()
