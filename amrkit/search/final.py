"""The search's last stage: retrain the Pareto set in full, export, check, write pareto.json.

Each step is skipped when its output exists, so an interrupted stage continues (a run whose
training was cut off resumes from its checkpoint). This module owns pareto.json (its names,
format, trial table and the choice of Pareto trials); :mod:`amrkit.search.pipeline` imports
them from here, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from amrkit import __version__
from amrkit.artifacts import DETAILS_FILE, FP32_FILE, INT8_FILE, is_run_dir
from amrkit.data.frames import FrameSet
from amrkit.fileio import write_json
from amrkit.metrics.network import network_metrics
from amrkit.models import CNNSpec
from amrkit.search.config import SearchConfig
from amrkit.search.pareto import PAPER_MODELS, pareto_front, plot_pareto, spread
from amrkit.search.study import redact
from amrkit.search.trial import session_latency_us, train_config
from amrkit.train.runner import METRICS_FILE, train_model

PARETO_DIR = "pareto"
PARETO_FILE = "pareto.json"
PARETO_PNG = "pareto.png"
FORMAT = "amrkit-pareto"
FORMAT_VERSION = 1


@dataclass
class SearchResult:
    out: Path
    pareto_json: Path | None  # None for a worker (--worker)
    trials: list[dict[str, Any]] = field(default_factory=list)
    pareto: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "pareto_json": None if self.pareto_json is None else str(self.pareto_json),
            "trials": self.trials,
            "pareto": self.pareto,
        }


def finish(job: Any, frames: FrameSet, study: optuna.Study, progress: bool) -> SearchResult:
    cfg = job.cfg
    trials = trial_table(study, cfg)
    chosen = pareto_trials(study, cfg)
    models = []
    for k, t in enumerate(chosen):
        spec = CNNSpec.from_dict(t.user_attrs["spec"])
        folder = job.out / PARETO_DIR / f"p{k}"
        if progress:
            _say(f"Pareto model {k + 1}/{len(chosen)}: {spec.short()} (trial {t.number})")
        models.append(final_model(job, frames, spec, folder, t, progress))
    result = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "amrkit_version": __version__,
        "config": cfg.to_dict(),
        "data": frames.identity(),
        "classes": list(frames.classes),
        "frame_length": frames.frame_length,
        "study": {"storage": redact(job.storage), "name": job.study},
        "objectives": list(cfg.objectives),
        "budgets": {
            "max_macs": cfg.max_macs,
            "max_int8_bytes": cfg.max_int8_bytes,
            "max_latency_us": cfg.max_latency_us,
        },
        "trials": trials,
        "pareto": models,
        "paper_models": [dict(m) for m in PAPER_MODELS],
    }
    path = write_json(job.out / PARETO_FILE, result)
    plot_pareto(result, job.out / PARETO_PNG)
    return SearchResult(job.out, path, trials, models)


def _say(text: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(text, highlight=False)


def final_model(
    job: Any, frames: FrameSet, spec: CNNSpec, folder: Path, trial: Any, progress: bool
) -> dict[str, Any]:
    """Retrain ``spec`` on all the data, quantize it, time it, check it with the golden
    model; one row of pareto.json."""
    from amrkit.fileio import read_json
    from amrkit.golden import simulate
    from amrkit.quant import PTQConfig, quantize
    from amrkit.quant.pipeline import accuracy

    cfg = job.cfg
    run_dir, int8_dir = folder / "run", folder / "int8"
    if not (run_dir / METRICS_FILE).is_file():
        train_model(
            frames, spec, run_dir, train_config(cfg, final=True), resume=is_run_dir(run_dir),
            device="cpu", threads=cfg.threads, progress=progress,
        )  # fmt: skip
    metrics = read_json(run_dir / METRICS_FILE)
    if not (int8_dir / INT8_FILE).is_file():
        quantize(run_dir, PTQConfig(seed=cfg.seed), frames, int8_dir, threads=cfg.threads)
    details = read_json(int8_dir / DETAILS_FILE)
    int8_path = int8_dir / INT8_FILE
    test_pos = frames.indices("test")
    int8_test = accuracy(int8_path, frames, test_pos, cfg.threads)[0] if len(test_pos) else None
    golden = simulate(
        int8_path, frames, split="test" if len(test_pos) else "val",
        max_frames=cfg.golden_frames, threads=cfg.threads,
    )  # fmt: skip
    m = network_metrics(spec, frames.frame_length)
    return {
        "trial": trial.number,
        "spec": spec.short(),
        "spec_dict": spec.to_dict(),
        "macs": m["macs"],
        "learnables": m["learnables"],
        "int8_bytes": network_metrics(spec, frames.frame_length, "int8")["parameter_bytes"],
        "latency_us": session_latency_us(int8_path, frames.frame_length, cfg),
        "proxy_accuracy": trial.user_attrs.get("accuracy"),
        "fp32_val_accuracy": metrics["best_val_accuracy"],
        "fp32_test_accuracy": metrics["test_accuracy"],
        "int8_val_accuracy": details["accuracy"]["int8"],
        "int8_test_accuracy": int8_test,
        "golden": {
            "split": golden["split"],
            "frames": golden["frames"],
            "accuracy": golden["accuracy"],
            "top1_agreement_with_ort": golden.get("top1_agreement"),
            "output_max_lsb": golden.get("output_max_lsb"),
        },
        "run": str(run_dir),
        "fp32_onnx": str(int8_dir / FP32_FILE),
        "int8_onnx": str(int8_path),
    }


def trial_table(study: optuna.Study, cfg: SearchConfig) -> list[dict[str, Any]]:
    """Every trial as a row of pareto.json (number order)."""
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        a = t.user_attrs
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "spec": a.get("spec_short"),
                "macs": a.get("macs"),
                "int8_bytes": a.get("int8_bytes"),
                "latency_us": a.get("latency_us"),
                "accuracy": a.get("accuracy") if t.state == TrialState.COMPLETE else None,
                "stopped_at_epoch": a.get("stopped_at"),
                "infeasible": a.get("infeasible"),
                "worker": a.get("worker"),
                "seconds": t.duration.total_seconds() if t.duration else None,
            }
        )
    return rows


def pareto_trials(study: optuna.Study, cfg: SearchConfig) -> list[optuna.trial.FrozenTrial]:
    """The complete trials on the front of (accuracy up; MACs, INT8 bytes, latency down),
    at most ``cfg.max_final`` of them spread over MACs."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    done.sort(key=lambda t: t.number)
    points = [
        [-v if o == "accuracy" else v for o, v in zip(cfg.objectives, t.values, strict=True)]
        for t in done
    ]
    front = pareto_front(points)
    # equal specs (a retried trial) are one model
    seen, unique = set(), []
    for i in front:
        key = done[i].user_attrs["spec_short"]
        if key not in seen:
            seen.add(key)
            unique.append(i)
    picks = spread(unique, [float(t.user_attrs["macs"]) for t in done], cfg.max_final)
    return [done[i] for i in picks]
