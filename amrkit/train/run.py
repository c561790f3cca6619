"""The run directory: what training leaves behind, and how every other command loads it.

Layout of a run directory::

    run.json        spec, classes, frame_length, sample_rate_hz, train config, dataset identity
    model.pt        state_dict of the best-validation weights (torch.load(weights_only=True))
    metrics.json    final measurements (validation/test accuracy, MACs, ...)
    history.csv     one row per epoch
    checkpoint.pt   last full training state, for --resume (weights_only loadable)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from amrkit import __version__
from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path, read_json, write_json
from amrkit.models import AmrCNN, CNNSpec

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.pt"


@dataclass
class Run:
    path: Path
    model: AmrCNN  # eval mode, on CPU
    spec: CNNSpec
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None
    info: dict[str, Any]  # the whole run.json


def is_run_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / RUN_FILE).is_file()


def save_run_info(
    run_dir: str | Path,
    spec: CNNSpec,
    classes: tuple[str, ...] | list[str],
    frame_length: int,
    sample_rate_hz: float | None,
    **extra: Any,
) -> Path:
    info = {
        "amrkit_version": __version__,
        "spec": spec.to_dict(),
        "classes": list(classes),
        "frame_length": int(frame_length),
        "sample_rate_hz": sample_rate_hz,
        **extra,
    }
    return write_json(Path(run_dir) / RUN_FILE, info)


def save_weights(run_dir: str | Path, model: torch.nn.Module) -> Path:
    target = Path(run_dir) / WEIGHTS_FILE
    with atomic_path(target, suffix=".pt") as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    return target


def load_run(path: str | Path) -> Run:
    """Load a trained run directory (weights with ``weights_only=True``)."""
    p = Path(path)
    if not is_run_dir(p):
        raise AmrkitError(
            f"{str(p)!r} is not a run directory (no {RUN_FILE}); pass the --out folder of "
            "'amrkit train'"
        )
    info = read_json(p / RUN_FILE)
    missing = [k for k in ("spec", "classes", "frame_length") if k not in info]
    if missing:
        raise AmrkitError(
            f"{str(p / RUN_FILE)!r} lacks {', '.join(missing)}; it was not written by "
            "'amrkit train' (retrain or restore the run)"
        )
    spec = CNNSpec.from_dict(info["spec"], where=str(p / RUN_FILE))
    model = AmrCNN(spec)
    weights = p / WEIGHTS_FILE
    if not weights.is_file():
        raise AmrkitError(f"run {str(p)!r} has no {WEIGHTS_FILE}; has training finished an epoch?")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - unpickling/shape errors become one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise AmrkitError(
            f"{str(weights)!r} is damaged or does not match run.json ({type(exc).__name__}: "
            f"{first}); retrain or restore the run"
        ) from None
    model.eval()
    return Run(
        path=p,
        model=model,
        spec=spec,
        classes=tuple(info["classes"]),
        frame_length=int(info["frame_length"]),
        sample_rate_hz=info.get("sample_rate_hz"),
        info=info,
    )
