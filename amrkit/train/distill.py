"""Knowledge distillation: a trained run (the teacher) guides the training of a student.

loss = (1 − α)·CE(s, y) + α·T²·KL(softmax(t/T) ‖ softmax(s/T))   (Hinton et al., 2015)

``s``/``t`` are the student's/teacher's logits on the same (augmented) batch. The T² keeps the
soft term's gradient on the scale of the hard one. The teacher runs in eval mode without
gradients, so it draws no random numbers and a resumed run sees the same soft targets.
With frame weights w (the SNR curriculum), both terms are weighted per frame:
sum(w·[(1 − α)·ce + α·T²·kl]) / max(sum(w), 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from amrkit.artifacts import check_run_classes, load_run, weights_hash
from amrkit.errors import AmrkitError
from amrkit.train.loop import weighted_mean


def kd_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    y: torch.Tensor,
    temperature: float,
    alpha: float,
    w: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean distillation loss of a batch: student/teacher logits (n, C), labels (n,); with
    frame weights w (n,) the weighted mean sum(w·loss) / max(sum(w), 1)."""
    log_p_student = F.log_softmax(student / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher / temperature, dim=1)
    if w is not None:
        ce_n = F.cross_entropy(student, y, reduction="none")  # (n,)
        kl_n = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="none").sum(1)
        return weighted_mean((1 - alpha) * ce_n + alpha * temperature**2 * kl_n, w)
    ce = F.cross_entropy(student, y)
    # KL(p_t || p_s) summed over classes, averaged over the batch
    kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
    return (1 - alpha) * ce + alpha * temperature**2 * kl


@dataclass
class Distiller:
    """``loss_fn(logits, x, y)`` for :func:`amrkit.train.loop.train_one_epoch`."""

    teacher: nn.Module
    temperature: float
    alpha: float

    def __post_init__(self) -> None:
        self.teacher.eval()
        self.teacher.requires_grad_(False)

    def __call__(
        self,
        logits: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor | None = None,
    ) -> torch.Tensor:
        with torch.no_grad():
            soft = self.teacher(x)
        return kd_loss(logits, soft, y, self.temperature, self.alpha, w)


@dataclass
class Teacher:
    model: nn.Module  # eval mode, no gradients, on CPU
    info: dict[str, Any]  # what run.json records: path, spec, classes, weights_sha256


def load_teacher(path: str | Path, classes: tuple[str, ...], frame_length: int) -> Teacher:
    """The trained run at ``path`` as a teacher for data with ``classes`` and ``frame_length``."""
    p = Path(path)
    run = load_run(p)
    check_run_classes(run, classes, "--teacher")
    if run.spec.min_frame_length > frame_length:
        raise AmrkitError(
            f"--teacher {str(p)!r} needs frames of >= {run.spec.min_frame_length} samples, the "
            f"data has {frame_length}; use a teacher with fewer pooling layers"
        )
    info = {
        "path": run.ref or str(run.path.resolve()),
        "spec": run.spec.to_dict(),
        "classes": list(run.classes),
        "weights_sha256": weights_hash(p),
    }
    return Teacher(run.model, info)
