"""One proxy trial: sample a spec, fit it to the budget, time its INT8 export, train briefly.

Objective values, in ``SearchConfig.objectives`` order: proxy validation accuracy (best
epoch; maximized), MACs, INT8 parameter bytes, ORT INT8 batch-1 latency in µs (minimized).
Everything the final stage needs is a user attribute of the trial (``spec`` as a dict,
``macs``, ``int8_bytes``, ``latency_us``, ``accuracy``, ``val_acc_<epoch>``, ``worker``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from amrkit.data.frames import FrameSet
from amrkit.models import AmrCNN, CNNSpec
from amrkit.search.config import SearchConfig
from amrkit.search.halving import keep_going, rungs
from amrkit.search.space import fit_budget, sample_spec, sizes
from amrkit.train.config import TrainConfig
from amrkit.train.loop import TrainState
from amrkit.train.runner import train_model
from amrkit.train.weights import initialize

TRIALS_DIR = "trials"


def proxy_frames(frames: FrameSet, cfg: SearchConfig) -> FrameSet:
    """A seeded, class-balanced subset: ``proxy_train_per_class`` training frames and
    ``proxy_val_per_class`` validation frames per class (fewer when a class has fewer)."""
    rng = np.random.default_rng(cfg.seed)
    keep = []
    for split, n in (("train", cfg.proxy_train_per_class), ("val", cfg.proxy_val_per_class)):
        pos = frames.indices(split)
        for c in range(frames.num_classes):
            mine = pos[frames.label[pos] == c]
            keep.append(rng.permutation(mine)[:n])
    return frames.subset(np.sort(np.concatenate(keep)))


def train_config(cfg: SearchConfig, final: bool) -> TrainConfig:
    epochs = cfg.final_epochs if final else cfg.proxy_epochs
    return TrainConfig(
        epochs=epochs,
        batch_size=cfg.batch_size if final else cfg.proxy_batch_size,
        lr=cfg.lr,
        lr_drop_epoch=cfg.final_lr_drop_epoch if final else cfg.proxy_lr_drop_epoch,
        seed=cfg.seed,
        augment=cfg.augment,
        teacher=cfg.teacher,
        kd_temperature=cfg.kd_temperature,
        kd_alpha=cfg.kd_alpha,
    )


def int8_latency_us(
    model: AmrCNN, frames: FrameSet, cfg: SearchConfig, calib_frames: int = 64
) -> float:
    """Median ORT batch-1 latency (µs) of ``model``'s INT8 export (calibrated on ``frames``).

    The graph, not the weight values, sets the time, so an untrained model gives the
    latency of its trained self (the search measures before training to skip over-budget
    trials)."""
    from amrkit.artifacts import Run
    from amrkit.quant import PTQConfig, quantize

    with tempfile.TemporaryDirectory(prefix="amrkit-latency-") as tmp:
        run = Run(
            Path(tmp), model.eval(), model.spec, frames.classes, frames.frame_length,
            frames.sample_rate_hz, {},
        )  # fmt: skip
        result = quantize(run, PTQConfig(calib_frames=calib_frames, seed=cfg.seed), frames,
                          Path(tmp) / "int8", threads=cfg.threads)  # fmt: skip
        return session_latency_us(result.int8_path, frames.frame_length, cfg)


def session_latency_us(path: str | Path, frame_length: int, cfg: SearchConfig) -> float:
    from amrkit.metrics.speed import time_interleaved
    from amrkit.runtime import ort_session

    sess = ort_session(path, threads=cfg.threads)
    x = np.random.default_rng(0).standard_normal((1, 2, frame_length)).astype(np.float32)
    feed = {sess.get_inputs()[0].name: x}
    times = time_interleaved({"int8": lambda: sess.run(None, feed)}, cfg.latency_min_time)
    return float(np.median(times["int8"]) * 1e6)


@dataclass
class Objective:
    """``study.optimize(Objective(...))``: one proxy trial per call."""

    cfg: SearchConfig
    proxy: FrameSet
    out: Path
    worker: int = 0

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        spec = self.candidate(trial)
        values = {**sizes(spec, self.proxy.frame_length)}
        trial.set_user_attr("spec", spec.to_dict())
        trial.set_user_attr("spec_short", spec.short())
        for key, value in values.items():
            trial.set_user_attr(key, value)
        if self.cfg.measures_latency:
            values["latency_us"] = self.latency(spec, trial)
        run_dir = self.out / TRIALS_DIR / f"{trial.number:05d}"
        metrics = train_model(
            self.proxy, spec, run_dir, train_config(self.cfg, final=False), force=True,
            device="cpu", threads=self.cfg.threads, progress=False,
            on_epoch=lambda state: self.halving(trial, state, values),
        )  # fmt: skip
        values["accuracy"] = metrics["best_val_accuracy"]
        trial.set_user_attr("accuracy", values["accuracy"])
        return tuple(float(values[o]) for o in self.cfg.objectives)

    def candidate(self, trial: optuna.Trial) -> CNNSpec:
        trial.set_user_attr("worker", self.worker)
        sampled = sample_spec(trial, self.cfg, self.proxy.frame_length, self.proxy.num_classes)
        spec = fit_budget(sampled, self.proxy.frame_length, self.cfg)
        if spec is None:
            trial.set_user_attr("infeasible", f"{sampled.short()} is over budget at any width")
            raise optuna.TrialPruned()
        return spec

    def latency(self, spec: CNNSpec, trial: optuna.Trial) -> float:
        import torch

        model = AmrCNN(spec)
        initialize(model, "glorot", torch.Generator().manual_seed(self.cfg.seed))
        us = int8_latency_us(model, self.proxy, self.cfg)
        trial.set_user_attr("latency_us", us)
        if self.cfg.max_latency_us is not None and us > self.cfg.max_latency_us:
            trial.set_user_attr("infeasible", f"latency {us:.0f} us > {self.cfg.max_latency_us}")
            raise optuna.TrialPruned()
        return us

    def halving(self, trial: optuna.Trial, state: TrainState, mine: dict[str, Any]) -> None:
        epoch, acc = state.epoch, state.history[-1]["val_acc"]
        key = f"val_acc_{epoch}"
        trial.set_user_attr(key, acc)
        if epoch not in rungs(self.cfg.proxy_epochs, self.cfg.halving_eta):
            return
        peers = [
            t.user_attrs[key]
            for t in trial.study.get_trials(deepcopy=False)
            if t.number != trial.number
            and key in t.user_attrs
            and t.user_attrs["macs"] <= mine["macs"]
            and t.user_attrs["int8_bytes"] <= mine["int8_bytes"]
        ]
        if not keep_going(acc, peers, self.cfg.halving_eta, self.cfg.halving_min_trials):
            trial.set_user_attr("stopped_at", epoch)
            raise optuna.TrialPruned()
