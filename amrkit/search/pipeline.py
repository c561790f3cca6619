"""``amrkit search``: proxy trials in an Optuna study, then the Pareto set retrained in full,
exported (FP32 ONNX, INT8 QDQ) and checked against the golden integer model.

``DIR`` layout::

    search.json          the SearchConfig, data identity, storage URL (no password), study
    study.db             the study (SQLite default; absent with --storage URL)
    trials/NNNNN/        proxy runs (run folders)
    pareto/pK/run/       the retrained Pareto models (run folders) ...
    pareto/pK/int8/      ... their quantize outputs (model_fp32.onnx, model_int8.onnx, ...)
    pareto.json          every trial + the Pareto set (format below), pareto.png
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import optuna

from amrkit import __version__
from amrkit.data.frames import FrameSet
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.fileio import check_writable, read_json, write_json
from amrkit.search.config import SearchConfig
from amrkit.search.final import SearchResult, finish, trial_table
from amrkit.search.space import check_budget, start_trials
from amrkit.search.study import (
    DEFAULT_STUDY,
    counted,
    default_storage,
    open_study,
    redact,
    work,
)
from amrkit.search.trial import Objective, proxy_frames
from amrkit.train.runner import DataOptions

SEARCH_FILE = "search.json"


@dataclass(frozen=True)
class Job:
    """Where a worker finds everything (picklable: spawned worker processes get it)."""

    cfg: SearchConfig
    data: str
    out: Path
    storage: str
    study: str
    data_options: DataOptions


def run_search(
    config: SearchConfig,
    data: str | Path,
    out: str | Path,
    *,
    storage: str | None = None,
    study: str = DEFAULT_STUDY,
    workers: int = 1,
    worker: int | None = None,
    data_options: DataOptions = DataOptions(),
    progress: bool = True,
) -> SearchResult:
    """Search, then (unless ``worker`` is given) retrain, export and check the Pareto set.

    ``workers``: processes on this machine sharing the study. ``worker=K`` (K >= 1): only run
    trials as worker K of a study another process finishes (other machines: --storage URL).
    Rerunning with the same ``out`` continues the study and the final stage where it stopped.
    """
    if workers < 1:
        raise AmrkitError(f"--workers {workers} must be >= 1")
    if worker is not None and worker < 1:
        raise AmrkitError(f"--worker {worker} must be >= 1 (0 is the process that finishes)")
    out = Path(out)
    _check_out(out)
    job = Job(config, str(data), out, storage or default_storage(out), study, data_options)
    frames = _open(job)
    try:
        check_budget(config, frames.frame_length, frames.num_classes)
        start_trials(config)  # a known design outside the family: one line, before any trial
        if storage is not None:  # a bad URL or a clashing study fails before anything is written
            open_study(job.storage, study, config, worker or 0, frames.identity())
        _write_search_file(job, frames)
        procs = [_spawn(job, k) for k in range(1, workers)] if worker is None else []
        try:
            st = _work(job, frames, worker or 0, progress and worker is None)
        finally:
            for p in procs:
                p.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise AmrkitError(f"{len(failed)} worker process(es) failed (exit {failed[0]})")
        if worker is not None:
            return SearchResult(out, None, trial_table(st, config))
        return finish(job, frames, st, progress)
    finally:
        frames.close()


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise AmrkitError(f"--out {str(out)!r} is a file; give a folder for the search")
    if out.is_dir() and any(out.iterdir()) and not (out / SEARCH_FILE).is_file():
        raise AmrkitError(
            f"--out {str(out)!r} is a non-empty folder without {SEARCH_FILE}; give a new folder "
            "or the folder of the search to continue"
        )
    check_writable(out / SEARCH_FILE, create=False)


def _open(job: Job) -> FrameSet:
    opts = job.data_options.__dict__
    return open_frames(job.data, split_seed=job.cfg.seed, **opts)


def _write_search_file(job: Job, frames: FrameSet) -> None:
    job.out.mkdir(parents=True, exist_ok=True)
    info = {
        "amrkit_version": __version__,
        "config": job.cfg.to_dict(),
        "data": frames.identity(),
        "data_options": job.data_options.__dict__,
        "storage": redact(job.storage),
        "study": job.study,
    }
    path = job.out / SEARCH_FILE
    if path.is_file():
        old = read_json(path)
        if old.get("data") != info["data"] or old.get("study") != info["study"]:
            raise AmrkitError(
                f"{str(job.out)!r} holds a search of other data or another study; use a new "
                "--out, or the same data and --study to continue it"
            )
    write_json(path, info)


def _work(job: Job, frames: FrameSet, worker: int, progress: bool) -> optuna.Study:
    import torch

    torch.set_num_threads(job.cfg.threads)
    st = open_study(job.storage, job.study, job.cfg, worker, frames.identity())
    objective = Objective(job.cfg, proxy_frames(frames, job.cfg), job.out, worker)
    with _TrialBar(job.cfg.trials, counted(st), progress) as bar:
        work(st, objective, job.cfg, [bar.callback])
    return st


def _worker_main(job: Job, worker: int) -> None:
    frames = _open(job)
    try:
        _work(job, frames, worker, progress=False)
    finally:
        frames.close()


def _spawn(job: Job, worker: int) -> multiprocessing.process.BaseProcess:
    ctx = multiprocessing.get_context("spawn")  # no forked torch/SQLite state
    p = ctx.Process(target=_worker_main, args=(job, worker), daemon=False)
    p.start()
    return p


class _TrialBar:
    """Rich progress over the study's counted trials (stderr; quiet when not a TTY)."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        self.progress = Progress(
            console=console, transient=True, disable=not (enabled and console.is_terminal)
        )
        self.task = self.progress.add_task("search trials", total=total, completed=done)

    def __enter__(self) -> _TrialBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def callback(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.progress.update(self.task, completed=counted(study))
