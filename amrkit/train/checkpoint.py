"""checkpoint.pt: the full training state, loadable with ``torch.load(weights_only=True)``.

Only tensors and plain Python types go in: model and optimizer state dicts, the position
(completed epochs, steps done in the next one, the running sums of that epoch), the epoch's
permutation seed, best-validation info and weights, the history, and the global torch RNG
states as uint8 tensors (one per process under torchrun; CUDA ones where used).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path
from amrkit.train.data import epoch_seed
from amrkit.train.loop import EpochStats, TrainState

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT = "amrkit-checkpoint"
VERSION = 1


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(
    run_dir: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    *,
    seed: int,
    world: int,
    rng: list[dict[str, torch.Tensor]],
    partial: EpochStats | None = None,
) -> Path:
    """Write checkpoint.pt atomically. ``partial``: the epoch's sums over all ranks."""
    part = partial or state.partial
    data = {
        "format": FORMAT,
        "version": VERSION,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": _cpu(optimizer.state_dict()),
        "epoch": state.epoch,
        "step": state.step,
        "seed": seed,
        "epoch_seed": epoch_seed(seed, state.epoch),
        "world_size": world,
        "partial": {k: v for k, v in asdict(part).items() if not k.startswith("_")},
        "best": {
            "epoch": state.best_epoch,
            "val_accuracy": state.best_val_accuracy,
            "val_loss": state.best_val_loss,
        },
        "best_model": state.best_model,
        "history": state.history,
        "rng": rng,
    }
    target = Path(run_dir) / CHECKPOINT_FILE
    with atomic_path(target, suffix=".pt") as tmp:
        torch.save(data, tmp)
    return target


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    return value


def load_checkpoint(run_dir: str | Path) -> dict[str, Any] | None:
    """The checkpoint of ``run_dir`` (None if it has none), loaded with weights_only=True."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is one line
        raise AmrkitError(
            f"{str(path)!r} cannot be read ({type(exc).__name__}); start over with --force"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise AmrkitError(
            f"{str(path)!r} is not an amrkit checkpoint v{VERSION}; start over with --force"
        )
    return data


def state_from_checkpoint(data: dict[str, Any], rank: int) -> TrainState:
    """The TrainState of a checkpoint; the epoch's partial sums go to rank 0 only."""
    partial = (
        EpochStats(**data["partial"])
        if rank == 0
        else EpochStats(steps=data["partial"]["steps"], seconds=data["partial"]["seconds"])
    )
    best = data["best"]
    return TrainState(
        epoch=int(data["epoch"]),
        step=int(data["step"]),
        partial=partial,
        best_epoch=int(best["epoch"]),
        best_val_accuracy=float(best["val_accuracy"]),
        best_val_loss=float(best["val_loss"]),
        best_model=data["best_model"],
        history=list(data["history"]),
    )
