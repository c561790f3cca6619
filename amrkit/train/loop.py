"""The training loop: :func:`train_one_epoch`, :func:`evaluate`, :func:`fit`. No Trainer class.

``train_one_epoch`` and ``evaluate`` take any ``nn.Module`` mapping (n, 2, L) float32 to
(n, C) logits and any iterable of ``(x, y)`` batches, so wrapped models (DDP, QAT) reuse them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amrkit.train.accel import autocast
from amrkit.train.augment import EpochAugment, check_frame_length, parse_augment
from amrkit.train.config import TrainConfig
from amrkit.train.data import SplitData, epoch_order, shard_order, steps_per_epoch
from amrkit.train.synth import SynthEpochs

# the training loss of a batch: (logits (b, C), x (b, 2, L), y (b,)[, w (b,)]) -> scalar;
# batches of (x, y, w) (the SNR curriculum) pass per-frame weights w as a fourth argument
LossFn = Callable[..., torch.Tensor]
Batch = tuple[torch.Tensor, ...]  # (x, y) or (x, y, w)


def weighted_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean cross-entropy; with frame weights w (b,): sum(w·ce) / max(sum(w), 1)."""
    if w is None:
        return F.cross_entropy(logits, y)
    return weighted_mean(F.cross_entropy(logits, y, reduction="none"), w)


def weighted_mean(per_frame: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sum(w·v) / max(sum(w), 1): frames of weight 0 add nothing, the scale stays a mean."""
    return (w * per_frame).sum() / w.sum().clamp(min=1.0)


@dataclass
class EpochStats:
    """Running sums of one epoch (summed over samples; all-reduced under torchrun)."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    steps: int = 0  # optimizer steps done in this epoch
    seconds: float = 0.0  # training wall time of the epoch (progress and checkpoints excluded)
    data_seconds: float = 0.0  # of which waiting for batches: reading, augmenting, cropping
    # device-side sums not yet read back (reading forces a GPU sync, so it is done lazily)
    _loss: torch.Tensor | None = field(default=None, repr=False)
    _correct: torch.Tensor | None = field(default=None, repr=False)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        n = len(y)
        loss = loss.detach() * n
        correct = (logits.detach().argmax(1) == y).sum()
        self._loss = loss if self._loss is None else self._loss + loss
        self._correct = correct if self._correct is None else self._correct + correct
        self.seen += n
        self.steps += 1

    def sync(self) -> EpochStats:
        """Fold the device-side sums into the plain numbers."""
        if self._loss is not None:
            self.loss_sum += float(self._loss)
            self.correct += int(self._correct)
            self._loss = self._correct = None
        return self

    @property
    def loss(self) -> float:
        return self.loss_sum / max(1, self.seen)

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.seen)

    @property
    def frames_per_second(self) -> float:
        return self.seen / self.seconds if self.seconds > 0 else 0.0

    @property
    def data_share(self) -> float:
        """The fraction of the training time spent outside the model step."""
        return self.data_seconds / self.seconds if self.seconds > 0 else 0.0


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    n: int
    pred: np.ndarray | None = None  # (n,) int64 when asked for


@dataclass
class Dist:
    """This process's place in a torchrun job (world 1: a plain run)."""

    rank: int = 0
    world: int = 1

    def all_sum(self, values: list[float], device: torch.device | str = "cpu") -> list[float]:
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return t.tolist()


@dataclass
class TrainState:
    """Everything :func:`fit` needs to continue: saved in checkpoint.pt."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps done in epoch ``epoch + 1``
    partial: EpochStats = field(default_factory=EpochStats)  # this rank's sums of that epoch
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    best_val_loss: float = float("inf")
    best_model: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Batch],
    *,
    stats: EpochStats | None = None,
    on_step: Callable[[EpochStats], None] | None = None,
    loss_fn: LossFn | None = None,
    precision: str = "fp32",
) -> EpochStats:
    """One pass of SGD over ``batches`` (x (b, 2, L), y (b,)[, w (b,)]); returns the sums.

    ``stats`` continues a partly done epoch; ``on_step(stats)`` runs after every step (progress
    bar, mid-epoch checkpoints); it calls ``stats.sync()`` when it needs the running numbers.
    ``loss_fn(logits, x, y)``: the training loss (default cross-entropy; a
    :class:`amrkit.train.distill.Distiller` adds a teacher's soft targets). A batch with
    frame weights ``w`` weighs each frame's loss (:func:`weighted_cross_entropy`;
    ``loss_fn(logits, x, y, w)``). ``precision="bf16"``: the forward pass under bf16 autocast
    (:mod:`amrkit.train.accel`); the loss is taken in fp32. The time spent waiting for each
    batch is summed in ``stats.data_seconds``.
    """
    stats = EpochStats() if stats is None else stats
    model.train()
    it = iter(batches)
    t0 = time.perf_counter()
    while True:
        t_wait = time.perf_counter()
        batch = next(it, None)
        stats.data_seconds += time.perf_counter() - t_wait
        if batch is None:
            break
        x, y, *w = batch
        with autocast(precision, x.device):
            logits = model(x)
        logits = logits.float()
        if loss_fn is None:
            loss = weighted_cross_entropy(logits, y, *w)
        else:
            loss = loss_fn(logits, x, y, *w)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            stats.add(loss, logits, y)
        if on_step is not None:
            stats.seconds += time.perf_counter() - t0
            on_step(stats)
            t0 = time.perf_counter()
    stats.seconds += time.perf_counter() - t0
    return stats.sync()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    return_pred: bool = False,
) -> EvalResult:
    """Mean cross-entropy and top-1 accuracy of ``model`` (eval mode) over ``batches``."""
    was_training = model.training
    model.eval()
    loss_sum, correct, n, preds = 0.0, 0, 0, []
    for x, y in batches:
        logits = model(x)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        pred = logits.argmax(1)
        correct += int((pred == y).sum())
        n += len(y)
        if return_pred:
            preds.append(pred.cpu())
    model.train(was_training)
    pred_all = torch.cat(preds).numpy().astype(np.int64) if return_pred and preds else None
    return EvalResult(loss_sum / max(1, n), correct / max(1, n), n, pred_all)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DDP wrapper (``.module``) or a compiled one (``._orig_mod``)."""
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module):
            return unwrap(inner)
    return model


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _augmented(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    aug: EpochAugment,
    order: torch.Tensor,
    batch_size: int,
    start: int,
) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """``batches`` (steps ``start, start+1, ...`` of ``order``) with each frame augmented."""
    for step, (x, y) in enumerate(batches, start):
        yield aug(x, order[step * batch_size : step * batch_size + len(y)]), y


def _weighted(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    weight: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    start: int,
) -> Iterable[Batch]:
    """``batches`` with each frame's weight (``weight`` (n,) by split position) appended."""
    for step, (x, y) in enumerate(batches, start):
        idx = order[step * batch_size : step * batch_size + len(y)].cpu()
        yield x, y, weight[idx].to(x.device)


def curriculum_weights(train: SplitData, cfg: TrainConfig, epoch: int) -> torch.Tensor | None:
    """(n,) float32 frame weights of epoch ``epoch`` (1-based): 0 below the curriculum's SNR
    threshold, 1 otherwise and for unknown (NaN) SNRs; None when every frame counts."""
    snr = torch.from_numpy(np.asarray(train.snr_db, dtype=np.float64))  # (n,)
    known = snr[~torch.isnan(snr)]
    if epoch > cfg.curriculum_epochs() or len(known) == 0:
        return None
    threshold = cfg.snr_threshold(epoch, float(known.min()))
    return (~(snr < threshold)).float()  # NaN < t is False: unknown SNRs count


def _epoch_batches(
    train: SplitData,
    cfg: TrainConfig,
    epoch: int,
    order: torch.Tensor,
    per_rank: int,
    start: int,
    steps: int,
    device: torch.device | str,
) -> Iterable[Batch]:
    """Batches ``start..steps-1`` of epoch ``epoch`` (0-based): augmented, and with the SNR
    curriculum's frame weights while it lasts."""
    batches = train.batches(order, per_rank, start=start, steps=steps, device=device)
    augment = parse_augment(cfg.augment)
    if augment or cfg.crop:
        aug = EpochAugment(
            augment,
            cfg.seed,
            epoch,
            len(train),
            crop=cfg.crop,
            freq_shift=cfg.freq_shift,
            noise_snr_db=cfg.noise_snr_db,
            time_scale=cfg.time_scale,
        )
        batches = _augmented(batches, aug, order, per_rank, start)
    weight = curriculum_weights(train, cfg, epoch + 1)
    if weight is not None:
        batches = _weighted(batches, weight, order, per_rank, start)
    return batches


def _scheduled(
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    epoch: int,
    start: int,
    steps: int,
) -> Iterable[Batch]:
    """``batches`` with the learning rate of each step set just before it is taken."""
    for step, batch in enumerate(batches, start):
        set_lr(optimizer, cfg.lr_at(epoch, step, steps))
        yield batch


def _end_epoch(state: TrainState, row: dict[str, Any], plain: nn.Module) -> None:
    """Record epoch ``row["epoch"]`` in ``state``; keep the weights if validation is best
    (higher accuracy, ties to the lower loss)."""
    state.history.append(row)
    state.epoch, state.step, state.partial = row["epoch"], 0, EpochStats()
    val_acc, val_loss = row["val_acc"], row["val_loss"]
    if val_acc > state.best_val_accuracy or (
        val_acc == state.best_val_accuracy and val_loss < state.best_val_loss
    ):
        state.best_epoch, state.best_val_accuracy, state.best_val_loss = (
            row["epoch"],
            val_acc,
            val_loss,
        )
        state.best_model = {k: v.detach().cpu().clone() for k, v in plain.state_dict().items()}


def _synthesized(train: SplitData | SynthEpochs, epoch: int, stats: EpochStats) -> SplitData:
    """The frames of epoch ``epoch`` (0-based): ``train`` itself, or the epoch's synthesized
    ones, whose making is added to the epoch's training and data time in ``stats``."""
    if not isinstance(train, SynthEpochs):
        return train
    data = train.for_epoch(epoch)
    stats.seconds += train.seconds[epoch]
    stats.data_seconds += train.seconds[epoch]
    return data


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: SplitData | SynthEpochs,
    val: SplitData,
    cfg: TrainConfig,
    state: TrainState,
    *,
    device: torch.device | str = "cpu",
    dist: Dist | None = None,
    on_step: Callable[[TrainState, EpochStats], None] | None = None,
    on_epoch: Callable[[TrainState], None] | None = None,
    loss_fn: LossFn | None = None,
    precision: str = "fp32",
) -> TrainState:
    """Train epochs ``state.epoch + 1 .. cfg.epochs``, validating after each, keeping the best.

    Under torchrun ``model`` is the DDP wrapper and each rank trains on its shard of the epoch
    order with ``batch_size / world`` frames per step; validation sums are all-reduced.
    ``model`` may be compiled (:func:`amrkit.train.accel.compile_for_training`): the steps
    call it, validation and the kept weights use the plain module; ``precision`` is the
    steps' (validation is fp32).

    ``train`` may be a :class:`~amrkit.train.synth.SynthEpochs`: each epoch then trains on
    its own fresh frames, synthesized when the epoch starts; that time counts as data time
    (``data_seconds``, ``data_share``) and is recorded as the row's ``synth_seconds``.
    """
    dist = dist or Dist()
    plain = unwrap(model)
    per_rank = max(1, cfg.batch_size // dist.world)
    n_shard = len(train) // dist.world
    steps = steps_per_epoch(n_shard, per_rank)
    val_order = torch.arange(len(val))[dist.rank :: dist.world]
    augment = parse_augment(cfg.augment)
    check_frame_length(augment, cfg.crop, cfg.time_scale, train.frame_length)
    for epoch in range(state.epoch, cfg.epochs):
        lr = cfg.lr_at(epoch + 1, state.step, steps)
        data = _synthesized(train, epoch, state.partial)
        order = epoch_order(cfg.seed, epoch, len(data), shuffle=cfg.shuffle, block=data.block)
        order = shard_order(order, dist.rank, dist.world)
        batches = _epoch_batches(data, cfg, epoch, order, per_rank, state.step, steps, device)
        batches = _scheduled(batches, optimizer, cfg, epoch + 1, state.step, steps)

        def step_done(stats: EpochStats) -> None:
            state.step = stats.steps
            if on_step is not None:
                on_step(state, stats)

        stats = train_one_epoch(
            model,
            optimizer,
            batches,
            stats=state.partial,
            on_step=step_done,
            loss_fn=loss_fn,
            precision=precision,
        )
        t0 = time.perf_counter()
        if dist.world > 1:  # BN running stats differ per rank: use rank 0's everywhere
            for buf in plain.buffers():
                torch.distributed.broadcast(buf, 0)
        v = evaluate(plain, val.batches(val_order, cfg.eval_batch_size, device=device))
        loss_sum, correct, seen, vloss, vcorrect, vn, secs = dist.all_sum(
            [
                stats.loss_sum,
                stats.correct,
                stats.seen,
                v.loss * v.n,
                v.accuracy * v.n,
                v.n,
                stats.seconds + time.perf_counter() - t0,
            ],
            device,
        )
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / max(1, seen),
            "train_acc": correct / max(1, seen),
            "val_loss": vloss / max(1, vn),
            "val_acc": vcorrect / max(1, vn),
            "seconds": secs / dist.world,
            "train_frames": int(seen),
            "train_seconds": stats.seconds,  # this rank's, without validation
            "frames_per_s": stats.frames_per_second * dist.world,
            "data_share": stats.data_share,
        }
        if isinstance(train, SynthEpochs):
            row["synth_seconds"] = train.seconds[epoch]  # this rank's, part of data_share
        _end_epoch(state, row, plain)
        del data, batches  # a synthesized epoch's frames go before the next one's are made
        if on_epoch is not None:
            on_epoch(state)
    return state
