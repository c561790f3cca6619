"""Stages cached by a hash of their config: a re-run skips finished work, an interrupted run
resumes, ``force`` redoes.

Each stage runs in ``<root>/stages/<name>-<hash>.partial/`` and is renamed to
``<name>-<hash>/`` with a ``stage.json`` (config, result, seconds) once it finishes. A stage
function that can resume (training) finds its own partial work in the same folder.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amrkit.config import config_hash
from amrkit.fileio import json_safe, read_json, write_json

STAGE_FILE = "stage.json"


@dataclass
class StageRecord:
    name: str
    key: str
    path: Path
    result: dict[str, Any]
    seconds: float
    cached: bool


@dataclass
class PlannedStage:
    name: str
    cost: float  # estimated seconds on 2 CPU cores
    cached: bool
    path: Path


class _Hooks:
    """What a progress display is told (no-ops by default)."""

    def start(self, name: str, path: Path, cost: float) -> None: ...

    def done(self, name: str, cached: bool) -> None: ...


@dataclass
class StageCache:
    """``plan=True``: run nothing, only list the stages (name, cost, cached) in ``planned``;
    records then carry an empty result (the pipeline reads results only after every stage)."""

    root: Path
    force: bool = False
    log: Callable[[str], None] = lambda msg: None
    records: list[StageRecord] = field(default_factory=list)
    plan: bool = False
    planned: list[PlannedStage] = field(default_factory=list)
    hooks: Any = field(default_factory=_Hooks)

    def run(
        self,
        name: str,
        config: dict[str, Any],
        fn: Callable[[Path], dict[str, Any]],
        cost: float = 1.0,
    ) -> StageRecord:
        """Run ``fn(workdir) -> result`` unless a finished stage with this config exists.

        Results are JSON; files in them are named relative to the stage folder. ``cost``
        (estimated seconds) feeds the progress bar's ETA.
        """
        key = config_hash(json_safe(config))
        final = Path(self.root) / "stages" / f"{name}-{key}"
        partial = final.with_name(final.name + ".partial")
        if self.plan:
            done = (final / STAGE_FILE).is_file() and not self.force
            self.planned.append(PlannedStage(name, cost, done, partial))
            return StageRecord(name, key, final, {}, 0.0, done)
        if self.force and final.name not in self._forced:
            shutil.rmtree(final, ignore_errors=True)
            shutil.rmtree(partial, ignore_errors=True)
            self._forced.add(final.name)
        done = final / STAGE_FILE
        if done.is_file():
            saved = read_json(done)
            record = StageRecord(name, key, final, saved["result"], saved["seconds"], True)
            self.log(f"[cached] {name} ({key})")
            self.hooks.done(name, True)
        else:
            self.log(f"[run] {name} ({key})" + (" — resuming" if partial.exists() else ""))
            partial.mkdir(parents=True, exist_ok=True)
            self.hooks.start(name, partial, cost)
            start = time.perf_counter()
            result = fn(partial)
            seconds = time.perf_counter() - start
            write_json(
                partial / STAGE_FILE,
                {"name": name, "key": key, "config": config, "result": result, "seconds": seconds},
            )
            self.hooks.done(name, False)  # before the rename: the hook may read the partial folder
            os.replace(partial, final)
            record = StageRecord(name, key, final, result, seconds, False)
        self.records.append(record)
        return record

    def __post_init__(self) -> None:
        self._forced: set[str] = set()
