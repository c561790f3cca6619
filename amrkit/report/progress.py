"""One progress bar for the whole ``reproduce`` run: the stage running now and an ETA.

The pipeline is planned first (every stage with an estimated cost in seconds, cached stages
excluded), so the bar knows the whole run. Within a training stage, progress is the epochs
done (read from the run's ``history.csv``, which the trainer writes at each epoch end); other
stages advance with their elapsed time, capped below their estimate until they finish. The
ETA scales the remaining estimated seconds by how fast this machine has been so far.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amrkit.report.stages import PlannedStage


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else (f"{seconds // 60}:{seconds % 60:02d}")
    )


def _epochs(run_dir: Path) -> tuple[list[dict[str, str]], int | None]:
    """History rows written so far and the run's planned epochs (None: not a training)."""
    try:
        import json

        epochs = int(json.loads((run_dir / "run.json").read_text())["train_config"]["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return [], None
    try:
        with open(run_dir / "history.csv", newline="") as fh:
            return list(csv.DictReader(fh)), epochs
    except OSError:
        return [], epochs


class RunTracker:
    """Work done and ETA over the planned stages; usable without a display (tests, logs)."""

    PRIOR = 0.02

    def __init__(self, planned: list[PlannedStage], clock: Callable[[], float] = time.monotonic):
        self.costs = {p.name: p.cost for p in planned if not p.cached}
        self.total = sum(self.costs.values()) or 1.0
        self.clock = clock
        self.t0 = clock()
        self.finished = 0.0
        self.current: str | None = None
        self.current_path: Path | None = None
        self.started_at = 0.0
        self.seen_epochs = 0
        self.rows_timed = 0
        self.epoch_started_at = 0.0

    def start(self, name: str, path: Path, cost: float) -> None:
        self.current, self.current_path, self.started_at = name, path, self.clock()
        self.costs.setdefault(name, cost)
        self.seen_epochs = self.rows_timed = 0
        self.epoch_started_at = self.started_at

    def done(self, name: str, cached: bool) -> None:
        if not cached:
            self.finished += self.costs.get(name, 0.0)
        self.current = None

    def fraction_of_current(self) -> float:
        if self.current is None or self.current_path is None:
            return 0.0
        now = self.clock()
        cost = max(self.costs.get(self.current, 1.0), 1e-9)
        rows, epochs = _epochs(self.current_path / "run")
        if not epochs:
            return min(0.95, (now - self.started_at) / cost)
        if len(rows) != self.rows_timed:  # an epoch ended since we last looked
            self.rows_timed, self.epoch_started_at = len(rows), now
        in_epoch = min(0.95, (now - self.epoch_started_at) / (cost / epochs))
        return min(1.0, (len(rows) + in_epoch) / epochs)

    def done_units(self) -> float:
        return self.finished + self.costs.get(self.current or "", 0.0) * self.fraction_of_current()

    def eta(self) -> float:
        """Seconds left: remaining estimate x (time taken so far / estimate done so far).

        A stage that overruns its estimate stops the work done from growing while the time
        keeps running, so a machine slower than the estimates gets a growing ETA at once.
        ``PRIOR`` of the total, at the estimates' speed, steadies the very first minutes.
        """
        done = self.done_units()
        prior = self.PRIOR * self.total
        speed = (self.clock() - self.t0 + prior) / (done + prior)
        return max(0.0, (self.total - done) * speed)

    def new_epoch_lines(self) -> list[str]:
        if self.current is None or self.current_path is None:
            return []
        rows, epochs = _epochs(self.current_path / "run")
        lines = []
        for h in rows[self.seen_epochs :]:
            lines.append(
                f"  {self.current}: epoch {h['epoch']}/{epochs}  train acc "
                f"{100 * float(h['train_acc']):.2f}%  val acc {100 * float(h['val_acc']):.2f}%  "
                f"{float(h['seconds']):.1f} s"
            )
        self.seen_epochs = len(rows)
        return lines


class RunProgress:
    """Stage hooks that draw a rich bar on stderr (a terminal only) and log the ETA."""

    def __init__(self, planned: list[PlannedStage], log: Callable[[str], None], enabled: bool):
        self.tracker = RunTracker(planned)
        self.log = log
        self.progress: Any = None
        self.task: Any = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the ticker thread and the stage hooks share the tracker
        self._thread: threading.Thread | None = None
        self.enabled = enabled
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self.progress = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(),
                    TextColumn("ETA {task.fields[eta]}"),
                    console=console,
                )

    def __enter__(self) -> RunProgress:
        if self.progress is not None:
            self.progress.__enter__()
            self.task = self.progress.add_task("reproduce", total=self.tracker.total, eta="?")
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        t = self.tracker
        for line in t.new_epoch_lines():
            self.log(line)
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=t.done_units(),
                description=t.current or "reproduce",
                eta=format_eta(t.eta()),
            )

    def start(self, name: str, path: Path, cost: float) -> None:
        with self._lock:
            self.tracker.start(name, path, cost)
            if self.enabled:
                self.log(f"  ETA of the whole run: {format_eta(self.tracker.eta())}")
            if self.progress is not None:
                self._refresh_locked()

    def done(self, name: str, cached: bool) -> None:
        with self._lock:
            if self.enabled:
                for line in self.tracker.new_epoch_lines():
                    self.log(line)
            self.tracker.done(name, cached)
