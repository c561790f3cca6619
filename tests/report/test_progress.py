"""The whole-run progress: planned stages, epochs read from history.csv, ETA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amrkit.report.progress import RunTracker, format_eta
from amrkit.report.stages import PlannedStage, StageCache


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _write_run(run: Path, epochs: int, done: int) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(json.dumps({"train_config": {"epochs": epochs}}))
    rows = ["epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds"]
    rows += [f"{e},0.02,1.0,0.5,1.0,0.5,10" for e in range(1, done + 1)]
    (run / "history.csv").write_text("\n".join(rows) + "\n")


def test_tracker_counts_epochs_and_scales_the_eta(tmp_path: Path) -> None:
    planned = [
        PlannedStage("data", 10.0, False, tmp_path / "d"),
        PlannedStage("cached", 500.0, True, tmp_path / "c"),  # cached: not in the total
        PlannedStage("train", 90.0, False, tmp_path / "t"),
    ]
    clock = Clock()
    t = RunTracker(planned, clock)
    assert t.total == 100.0 and t.eta() == pytest.approx(100.0)  # the estimates at first
    t.start("data", tmp_path / "d", 10.0)
    clock.t = 20.0  # twice as slow as estimated
    t.done("data", False)
    assert t.done_units() == 10.0
    t.start("train", tmp_path / "t", 90.0)
    _write_run(tmp_path / "t" / "run", epochs=3, done=1)
    assert t.done_units() == pytest.approx(10.0 + 30.0)
    # 20 s taken for 40 estimated seconds done (plus the prior of 2 % of the total)
    assert t.eta() == pytest.approx(60 * (20 + 2) / (40 + 2), rel=1e-6)
    clock.t = 200.0  # the epoch overruns: the work done is capped, the ETA grows
    assert t.done_units() == pytest.approx(10 + 30 + 30 * 0.95)
    assert t.eta() == pytest.approx((100 - 68.5) * 202 / 70.5, rel=1e-6)  # was 31
    assert t.new_epoch_lines() == ["  train: epoch 1/3  train acc 50.00%  val acc 50.00%  10.0 s"]
    assert t.new_epoch_lines() == []  # each epoch is reported once
    t.done("train", False)
    assert t.done_units() == pytest.approx(100.0) and t.eta() == pytest.approx(0.0)


def test_a_stage_without_epochs_advances_with_time_but_never_completes(tmp_path: Path) -> None:
    clock = Clock()
    t = RunTracker([PlannedStage("ptq", 10.0, False, tmp_path)], clock)
    t.start("ptq", tmp_path, 10.0)
    clock.t = 5.0
    assert t.done_units() == pytest.approx(5.0)
    clock.t = 50.0  # slower than estimated: stays below the stage's estimate until done
    assert t.done_units() < 10.0
    t.done("ptq", False)
    assert t.done_units() == 10.0


def test_planning_runs_nothing_and_marks_cached_stages(tmp_path: Path) -> None:
    calls = []

    def body(work: Path) -> dict:
        calls.append(work)
        return {}

    StageCache(tmp_path).run("a", {"x": 1}, body)
    plan = StageCache(tmp_path, plan=True)
    plan.run("a", {"x": 1}, body, cost=3.0)
    plan.run("b", {"x": 2}, body, cost=4.0)
    assert len(calls) == 1
    assert [(p.name, p.cost, p.cached) for p in plan.planned] == [
        ("a", 3.0, True),
        ("b", 4.0, False),
    ]
    forced = StageCache(tmp_path, plan=True, force=True)
    forced.run("a", {"x": 1}, body)
    assert not forced.planned[0].cached


def test_format_eta() -> None:
    assert format_eta(65) == "1:05" and format_eta(3725) == "1:02:05" and format_eta(-3) == "0:00"
