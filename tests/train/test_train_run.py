"""End-to-end training into a run folder (in process): accuracy, artifacts, determinism."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from amrkit.config import to_dict
from amrkit.data import open_frames
from amrkit.models import AmrCNN, get_spec
from amrkit.train import load_run
from amrkit.train.config import TrainConfig
from amrkit.train.runner import HISTORY_COLUMNS, train_model

TINY = "8x4p,16x4"
CFG = TrainConfig(epochs=4, batch_size=32, checkpoint_every=3, seed=0)


def run(data, out, cfg=CFG, model=TINY, **kw):
    kw.setdefault("threads", 1)
    return train_model(data, model, out, cfg, progress=False, device="cpu", **kw)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def history(path: Path) -> list[dict[str, str]]:
    with open(path / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def reference(easy_h5, tmp_path_factory):
    """One uninterrupted run that several tests compare against."""
    n = torch.get_num_threads()
    out = tmp_path_factory.mktemp("ref") / "run"
    metrics = run(easy_h5, out)
    torch.set_num_threads(n)
    return out, metrics


def _plain_types(value) -> bool:
    if isinstance(value, torch.Tensor) or value is None:
        return True
    if isinstance(value, (int, float, str, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain_types(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain_types(v) for k, v in value.items())
    return False


def test_tiny_training_beats_chance_and_fills_the_run_dir(reference, easy_h5):
    out, metrics = reference
    assert {p.name for p in out.iterdir()} == {
        "run.json",
        "model.pt",
        "metrics.json",
        "history.csv",
        "checkpoint.pt",
    }
    assert metrics["test_accuracy"] >= 0.8  # chance is 0.25
    assert metrics["best_val_accuracy"] >= 0.8
    assert (
        json.loads((out / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
    )
    info = json.loads((out / "run.json").read_text())
    assert info["train_config"] == to_dict(CFG)
    assert info["spec"]["num_classes"] == 4 and info["classes"] == [
        "TONE+",
        "TONE-",
        "BPSK",
        "NOISE",
    ]
    assert info["dataset"]["path"] == str(easy_h5) and len(info["dataset"]["config_hash"]) == 16
    assert info["runtime"]["device"] == "cpu" and info["runtime"]["deterministic"] is True
    rows = history(out)
    assert list(rows[0]) == list(HISTORY_COLUMNS) and len(rows) == 4
    best = max(rows, key=lambda r: (float(r["val_acc"]), -float(r["val_loss"])))
    assert metrics["best_epoch"] == int(best["epoch"])
    # model.pt: best-val weights, loadable without pickles, reproduce the test accuracy
    r = load_run(out)
    assert_same_weights(weights(out / "model.pt"), r.model.state_dict())
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert _plain_types(ckpt) and ckpt["epoch"] == 4 and ckpt["step"] == 0
    assert_same_weights(ckpt["best_model"], weights(out / "model.pt"))
    frames = open_frames(easy_h5)
    test = frames.indices("test")
    with torch.no_grad():
        pred = r.model(torch.from_numpy(frames.read(test))).argmax(1).numpy()
    assert np.mean(pred == frames.label[test]) == pytest.approx(metrics["test_accuracy"])
    assert metrics["test_frames"] == len(test) and metrics["train_frames"] == 320
    report = metrics["test_report"]  # amrkit.metrics' accuracy_report (or plain top-1)
    assert report.get("accuracy", report.get("top1")) == pytest.approx(metrics["test_accuracy"])


def test_same_seed_same_weights_other_seed_other_weights(reference, easy_h5, tmp_path):
    out, metrics = reference
    run(easy_h5, tmp_path / "again")
    assert_same_weights(weights(out / "model.pt"), weights(tmp_path / "again" / "model.pt"))
    a = torch.load(out / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "again" / "checkpoint.pt", weights_only=True)
    assert_same_weights(a["model"], b["model"])
    assert [r["train_loss"] for r in history(out)] == [
        r["train_loss"] for r in history(tmp_path / "again")
    ]
    run(easy_h5, tmp_path / "other", TrainConfig(**{**to_dict(CFG), "seed": 1}))
    c = weights(tmp_path / "other" / "model.pt")
    assert not torch.equal(c["fc.weight"], weights(out / "model.pt")["fc.weight"])


def test_lr_schedule_reaches_the_optimizer(easy_h5, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, lr_drop_epoch=1, lr_drop_factor=0.1)
    run(easy_h5, tmp_path / "r", cfg)
    assert [float(r["lr"]) for r in history(tmp_path / "r")] == pytest.approx([0.05, 0.005, 0.005])
    ckpt = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.005)
    assert ckpt["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert ckpt["optimizer"]["param_groups"][0]["weight_decay"] == 1e-4


def test_resuming_with_more_epochs_equals_a_longer_run(reference, easy_h5, tmp_path):
    out, _ = reference
    short = tmp_path / "short"
    run(easy_h5, short, TrainConfig(**{**to_dict(CFG), "epochs": 2}))
    metrics = run(easy_h5, short, CFG, model=None, resume=True, given={"epochs"})
    assert metrics["resumed"]
    assert_same_weights(weights(out / "model.pt"), weights(short / "model.pt"))
    assert [r["val_loss"] for r in history(out)] == [r["val_loss"] for r in history(short)]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("at", [(1, 3), (2, 0), (3, 6)])  # (completed epochs, step)
def test_interrupted_and_resumed_equals_uninterrupted(
    reference, easy_h5, tmp_path, monkeypatch, at
):
    import amrkit.train.runner as runner

    real = runner.save_checkpoint

    def save_then_stop(*args, **kwargs):
        path = real(*args, **kwargs)
        state = args[3]
        if (state.epoch, state.step) == at:
            raise Interrupt
        return path

    monkeypatch.setattr(runner, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupt):
        run(easy_h5, tmp_path / "r")
    monkeypatch.setattr(runner, "save_checkpoint", real)
    ckpt = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == at
    assert not (tmp_path / "r" / "metrics.json").exists()
    import amrkit.train.loop as loop

    steps = []
    real_epoch = loop.train_one_epoch

    def counting(*args, **kwargs):
        stats = real_epoch(*args, **kwargs)
        steps.append(stats.steps - (at[1] if not steps else 0))
        return stats

    monkeypatch.setattr(loop, "train_one_epoch", counting)
    stale = tmp_path / "r" / ".checkpoint.pt.k1ll3d.pt"  # what a kill inside torch.save leaves
    stale.write_bytes(b"half")
    metrics = run(easy_h5, tmp_path / "r", None, model=None, resume=True)
    assert sum(steps) == 4 * 10 - (at[0] * 10 + at[1])  # only the missing steps were trained
    out, ref_metrics = reference
    assert_same_weights(weights(out / "model.pt"), weights(tmp_path / "r" / "model.pt"))
    a, b = history(out), history(tmp_path / "r")
    for col in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert [float(r[col]) for r in a] == pytest.approx([float(r[col]) for r in b], rel=1e-6)
    assert metrics["test_accuracy"] == ref_metrics["test_accuracy"]
    assert not stale.exists()


def test_registered_model_trains_briefly(easy_h5, tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=64)
    metrics = run(easy_h5, tmp_path / "opt", cfg, model="optimized")
    r = load_run(tmp_path / "opt")
    spec = get_spec("optimized", 4)
    assert r.spec == spec and r.spec.name == "optimized"
    assert metrics["num_parameters"] == sum(p.numel() for p in AmrCNN(spec).parameters())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["best_epoch"] in (1, 2)


def test_streamed_training_also_learns(easy_h5, tmp_path):
    cfg = TrainConfig(epochs=6, batch_size=32, memory_mb=0.0)  # every split streamed
    metrics = run(easy_h5, tmp_path / "s", cfg)
    assert metrics["test_accuracy"] >= 0.8


def test_class_filter_trains_on_the_subset(easy_h5, tmp_path):
    from amrkit.train.runner import DataOptions

    cfg = TrainConfig(epochs=3, batch_size=32)
    metrics = run(easy_h5, tmp_path / "f", cfg, data_options=DataOptions(classes="NOISE,TONE+"))
    info = json.loads((tmp_path / "f" / "run.json").read_text())
    assert info["classes"] == ["NOISE", "TONE+"] and info["spec"]["num_classes"] == 2
    assert info["data_options"]["classes"] == "NOISE,TONE+"
    assert metrics["train_frames"] == 160 and metrics["test_accuracy"] >= 0.8
