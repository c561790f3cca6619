"""``amrkit prune``: narrow a trained run to a MAC budget, then fine-tune it into a new run."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amrkit.artifacts import check_compatible, load_run
from amrkit.config import load_mapping, replace
from amrkit.data.frames import FrameSet
from amrkit.data.open import open_frames
from amrkit.data.split import resolve_split_seed
from amrkit.errors import AmrkitError
from amrkit.fileio import write_json
from amrkit.metrics.network import network_metrics
from amrkit.models import AmrCNN
from amrkit.prune.channels import prune_channels, prune_widths, recalibrate_bn
from amrkit.prune.config import PruneConfig
from amrkit.train.config import TrainConfig, make_config
from amrkit.train.loop import evaluate
from amrkit.train.runner import DataOptions, check_out, train_model

PRUNE_FILE = "prune.json"
# fine-tuning starts from trained weights: a short schedule at the reference's dropped rate
FINETUNE_DEFAULTS = {"epochs": 6, "lr": 0.002, "lr_drop_epoch": 4}
GRAD_BATCH = 256


def finetune_config(config_file: str | None = None, **overrides: Any) -> TrainConfig:
    """TrainConfig of the fine-tune: FINETUNE_DEFAULTS < ``config_file`` < ``overrides``."""
    given = {k for k, v in overrides.items() if v is not None}
    if config_file is not None:
        given |= set(load_mapping(config_file))
    cfg = make_config(config_file, **overrides)
    return replace(cfg, **{k: v for k, v in FINETUNE_DEFAULTS.items() if k not in given})


def _gradient_batches(
    frames: FrameSet, n: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` training frames (seeded choice) in batches, for Taylor importance."""
    pos = frames.indices("train")
    pos = np.sort(np.random.default_rng(seed).permutation(pos)[:n])
    for start in range(0, len(pos), GRAD_BATCH):
        chunk = pos[start : start + GRAD_BATCH]
        yield torch.from_numpy(frames.read(chunk)), torch.from_numpy(frames.label[chunk])


def _accuracy(model: AmrCNN, frames: FrameSet, split: str) -> float | None:
    pos = frames.indices(split)
    if len(pos) == 0:
        return None
    batches = (
        (torch.from_numpy(x), torch.from_numpy(frames.label[p].astype(np.int64)))
        for p, x in frames.iter_batches(pos, 1024)
    )
    return evaluate(model, batches).accuracy


def prune_run(
    run: str | Path,
    data: str | Path,
    out: str | Path,
    config: PruneConfig,
    train_config: TrainConfig | None = None,
    *,
    split_seed: int | None = None,
    data_options: DataOptions = DataOptions(),
    **train_kw: Any,
) -> dict[str, Any]:
    """Prune ``run`` to ``config``'s budget, fine-tune on ``data`` into run folder ``out``.

    Returns prune.json's content (also written to ``out``): the original and pruned specs,
    MACs, INT8 bytes, the channels kept per layer, and accuracies before/after.
    ``train_kw`` go to :func:`train_model` (resume, force, device, threads, progress).
    """
    check_out(out, train_kw.get("resume", False), train_kw.get("force", False))
    loaded = load_run(run)
    if loaded.spec.grouped:
        raise AmrkitError(
            f"run {str(run)!r} has grouped conv layers ({loaded.spec.short()}); pruning handles "
            "plain conv layers only (prune a run without gNN layers)"
        )
    seed = resolve_split_seed(split_seed, loaded.info, str(run))
    train_config = train_config or finetune_config()
    frames = open_frames(data, split_seed=seed, **data_options.__dict__)
    try:
        check_compatible(loaded.classes, loaded.frame_length, frames.classes, frames.frame_length)
        length = frames.frame_length
        before = _sizes(loaded.spec, length)
        target_macs = config.target_macs or math.floor(config.ratio * before["macs"])
        target = prune_widths(loaded.spec, length, target_macs, config.min_filters)
        grads = _gradient_batches(frames, config.taylor_frames, config.seed)
        pruned, kept = prune_channels(loaded.model, target, config.method, grads)
        recalibrate_bn(pruned, _gradient_batches(frames, config.taylor_frames, config.seed))
        origin = {
            "run": loaded.ref or str(loaded.path.resolve()),
            "config": config.__dict__,
            "target_macs": target_macs,
            "original": {**before, "val_accuracy": _accuracy(loaded.model, frames, "val")},
            "pruned": {**_sizes(target, length), "val_accuracy": _accuracy(pruned, frames, "val")},
            "kept_channels": kept,
        }
        train_kw["data_options"] = data_options
        return _finetune(loaded, pruned, frames, out, train_config, origin, **train_kw)
    finally:
        frames.close()


def _finetune(
    loaded: Any,
    pruned: AmrCNN,
    frames: FrameSet,
    out: str | Path,
    train_config: TrainConfig,
    origin: dict[str, Any],
    **train_kw: Any,
) -> dict[str, Any]:
    """Fine-tune the pruned model into run folder ``out``; write and return prune.json."""
    metrics = train_model(
        frames,
        pruned.spec,
        out,
        train_config,
        init_weights=pruned.state_dict(),
        extra_info={"pruned_from": origin},
        **train_kw,
    )
    if not metrics:  # not rank 0 under torchrun
        return {}
    report = {
        **origin,
        "original_test_accuracy": _accuracy(loaded.model, frames, "test"),
        "test_accuracy": metrics["test_accuracy"],
        "best_val_accuracy": metrics["best_val_accuracy"],
        "finetune_epochs": metrics["epochs"],
        "out": str(out),
    }
    write_json(Path(out) / PRUNE_FILE, report)
    return report


def _sizes(spec: Any, frame_length: int) -> dict[str, Any]:
    fp32 = network_metrics(spec, frame_length)
    int8 = network_metrics(spec, frame_length, precision="int8")
    return {
        "spec": spec.short(),
        "macs": fp32["macs"],
        "learnables": fp32["learnables"],
        "int8_bytes": int8["parameter_bytes"],
    }
