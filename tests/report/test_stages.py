"""The stage cache: runs once per config, resumes partial work, --force redoes."""

from pathlib import Path

import pytest

from amrkit.report.stages import STAGE_FILE, StageCache


def test_stage_runs_once_per_config(tmp_path: Path) -> None:
    calls = []

    def body(work: Path) -> dict:
        calls.append(work)
        (work / "out.txt").write_text("x")
        return {"file": "out.txt", "n": len(calls)}

    first = StageCache(tmp_path).run("s", {"a": 1}, body)
    again = StageCache(tmp_path).run("s", {"a": 1}, body)
    other = StageCache(tmp_path).run("s", {"a": 2}, body)
    assert len(calls) == 2
    assert not first.cached and again.cached and not other.cached
    assert again.result == first.result == {"file": "out.txt", "n": 1}
    assert (again.path / "out.txt").read_text() == "x"
    assert first.path != other.path
    assert not list(tmp_path.glob("stages/*.partial"))


def test_interrupted_stage_resumes_in_its_partial_folder(tmp_path: Path) -> None:
    seen = []

    def crashing(work: Path) -> dict:
        (work / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        StageCache(tmp_path).run("train", {"e": 3}, crashing)
    partial = list(tmp_path.glob("stages/train-*.partial"))
    assert len(partial) == 1 and not (partial[0] / STAGE_FILE).exists()

    def resuming(work: Path) -> dict:
        seen.append((work / "half.txt").read_text())
        return {}

    rec = StageCache(tmp_path).run("train", {"e": 3}, resuming)
    assert seen == ["half"] and not rec.cached and (rec.path / STAGE_FILE).is_file()


def test_force_redoes_each_stage_once(tmp_path: Path) -> None:
    calls = []

    def body(work: Path) -> dict:
        calls.append(1)
        return {}

    StageCache(tmp_path).run("s", {}, body)
    cache = StageCache(tmp_path, force=True)
    assert not cache.run("s", {}, body).cached
    assert cache.run("s", {}, body).cached  # within one forced run, a stage is redone once
    assert len(calls) == 2
