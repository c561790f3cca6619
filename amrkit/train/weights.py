"""Weight initialization, regularization groups and the optimizer over them.

The reference (MATLAB) initializes conv and fully connected weights Glorot-uniform with zero
biases, and applies L2 regularization to weights (and batch-norm scale/offset) but not to
conv/FC biases (``BiasL2Factor`` 0). ``init="torch"`` keeps PyTorch's defaults instead.
``init_from`` starts a new run from a trained run's weights instead (fine-tuning).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from amrkit.artifacts import check_run_classes, load_run, weights_hash
from amrkit.errors import AmrkitError

if TYPE_CHECKING:
    from amrkit.models import CNNSpec
    from amrkit.train.config import TrainConfig

INIT_SCHEMES = ("glorot", "torch")


def initialize(model: nn.Module, scheme: str, generator: torch.Generator) -> None:
    """Re-initialize conv/linear layers in module order; batch norm keeps (1, 0)."""
    if scheme == "torch":
        return
    if scheme != "glorot":
        raise ValueError(f"unknown init scheme {scheme!r}; choose from {INIT_SCHEMES}")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)


def param_groups(model: nn.Module, weight_decay: float, bias_decay: bool) -> list[dict]:
    """SGD groups: L2 on everything except conv/linear biases (unless ``bias_decay``)."""
    no_decay: list[nn.Parameter] = []
    decay: list[nn.Parameter] = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name == "bias" and isinstance(module, (nn.Conv1d, nn.Linear)) and not bias_decay:
                no_decay.append(p)
            else:
                decay.append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """``cfg.optimizer`` over :func:`param_groups`: SGD with momentum (the reference's) or
    AdamW (decoupled weight decay; ``momentum`` unused)."""
    groups = param_groups(model, cfg.weight_decay, cfg.bias_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


def start_weights(
    path: str | Path, spec: CNNSpec, classes: tuple[str, ...]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights of the trained run at ``path`` for a new run of ``spec`` on ``classes``,
    and what run.json records of them (``init_from``: path, spec, SHA-256 of model.pt)."""
    p = Path(path)
    run = load_run(p)
    check_run_classes(run, classes, "--init-from")
    if run.spec.with_name(spec.name) != spec:
        raise AmrkitError(
            f"--init-from {str(p)!r} has layers {run.spec.short()}, this run {spec.short()}; "
            f"pass --model {run.spec.short()} (the run's model, {run.spec.name!r})"
        )
    info = {
        "path": run.ref or str(run.path.resolve()),
        "spec": run.spec.to_dict(),
        "weights_sha256": weights_hash(p),
    }
    return run.model.state_dict(), info
