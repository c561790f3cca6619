"""``amrkit train``: open the data, build the model, run :func:`fit`, fill the run directory.

Works alone or under ``torchrun`` (DistributedDataParallel: gloo on CPU, nccl on CUDA); rank 0
writes every file. Every input is checked before anything is written, so a bad request
leaves no folder behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from amrkit.artifacts import (
    RUN_FILE,
    WEIGHTS_FILE,
    is_run_dir,
    save_run_info,
    save_weights,
    source_commit,
)
from amrkit.config import to_dict
from amrkit.data.frames import FrameSet
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.fileio import read_json, write_json, write_text
from amrkit.metrics.accuracy import accuracy_report
from amrkit.models import AmrCNN, CNNSpec, get_spec
from amrkit.runtime.cpu import cpu_info
from amrkit.runtime.device import torch_device
from amrkit.train.accel import (
    StepPlan,
    compile_for_training,
    resolve_compile,
    resolve_precision,
)
from amrkit.train.augment import check_frame_length, parse_augment
from amrkit.train.checkpoint import (
    CHECKPOINT_FILE,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    state_from_checkpoint,
)
from amrkit.train.config import TrainConfig, resume_config
from amrkit.train.data import SplitData, load_split, steps_per_epoch
from amrkit.train.distill import Distiller, Teacher, load_teacher
from amrkit.train.loop import Dist, EpochStats, TrainState, evaluate, fit
from amrkit.train.synth import (
    SynthData,
    SynthEpochs,
    check_disjoint,
    check_eval_data,
    check_memory,
    eval_frames,
)
from amrkit.train.weights import initialize, make_optimizer, start_weights

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
RUN_FILES = (RUN_FILE, WEIGHTS_FILE, METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE)
HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")
REPORT_SOURCE = "amrkit.metrics.accuracy.accuracy_report"  # metrics.json test_report_source


@dataclass(frozen=True)
class DataOptions:
    """How to open the dataset (``amrkit.data.open.open_frames`` arguments)."""

    format: str | None = None
    classes: str | None = None
    classes_file: str | None = None
    snr_min: float | None = None
    snr_max: float | None = None
    drop_nonfinite: bool = False  # skip frames with NaN/inf samples (counted in run.json)


# ---- checks (read-only) ------------------------------------------------------------------
def check_out(out: str | Path, resume: bool, force: bool) -> str:
    """ "new", "replace" or "resume"; raises for anything else. Writes nothing."""
    p = Path(out)
    if resume and force:
        raise AmrkitError(
            "--resume and --force exclude each other; --resume continues a run, "
            "--force starts it over"
        )
    if p.exists() and not p.is_dir():
        raise AmrkitError(f"--out {str(p)!r} is a file, not a run folder; choose a folder path")
    existing = next(a for a in (p, *p.absolute().parents) if a.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise AmrkitError(
            f"--out {str(p)!r}: {str(existing)!r} is not a writable folder; choose another path"
        )
    if resume:
        if not is_run_dir(p):
            raise AmrkitError(
                f"--resume: {str(p)!r} is not a run folder (no {RUN_FILE}); "
                "drop --resume to start a new run there"
            )
        return "resume"
    if p.is_dir() and any(p.iterdir()):
        if is_run_dir(p) or (p / CHECKPOINT_FILE).exists():
            if not force:
                raise AmrkitError(
                    f"--out {str(p)!r} already holds a run; pass --resume to "
                    "continue it or --force to replace it"
                )
            return "replace"
        raise AmrkitError(
            f"--out {str(p)!r} is a non-empty folder that is not a run; "
            "choose a new or empty folder"
        )
    return "new"


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """The device rule of :mod:`amrkit.runtime.device`; under torchrun ``cuda`` is this
    process's ``cuda:LOCAL_RANK``."""
    return torch.device(torch_device(device, local_rank))


def check_spec_fits(spec: CNNSpec, frame_length: int) -> None:
    length = frame_length
    for i, layer in enumerate(spec.layers):
        if layer.pool:
            length //= spec.pool_size
            if length < 1:
                raise AmrkitError(
                    f"model {spec.name!r} pools {sum(c.pool for c in spec.layers)} times; frames "
                    f"of {frame_length} samples vanish at conv{i + 1}; use longer frames or fewer "
                    "pooling layers"
                )


def _data_key(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k != "path"}


def _dist_from_env() -> tuple[Dist, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return Dist(rank, world), int(os.environ.get("LOCAL_RANK", "0"))


# ---- the command -------------------------------------------------------------------------
@dataclass
class _Job:
    """One training request, filled in as it is checked (what ``_train``/``_run`` share)."""

    frames: FrameSet
    out: Path
    cfg: TrainConfig
    mode: str  # "new", "replace" or "resume"
    stored: dict[str, Any] | None  # run.json of a resumed run
    dist: Dist
    dev: torch.device
    data_options: DataOptions
    progress: bool
    spec: CNNSpec | None = None
    ckpt: dict[str, Any] | None = None
    teacher: Teacher | None = None
    on_epoch: Callable[[TrainState], None] | None = None  # the caller's, after each epoch
    init_weights: dict[str, torch.Tensor] | None = None  # instead of cfg.init (fine-tuning)
    extra_info: dict[str, Any] = field(default_factory=dict)  # more run.json keys
    runtime: dict[str, Any] = field(default_factory=dict)
    synth: SynthData | None = None  # --synth: fresh training frames every epoch
    synth_workers: int = 1

    @property
    def lead(self) -> bool:
        return self.dist.rank == 0


def train_model(
    data: str | Path | FrameSet | None,
    model: str | CNNSpec | None,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    given: Iterable[str] | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    threads: int | None = None,
    deterministic: bool = True,
    data_options: DataOptions = DataOptions(),
    progress: bool = True,
    on_epoch: Callable[[TrainState], None] | None = None,
    init_weights: dict[str, torch.Tensor] | None = None,
    extra_info: dict[str, Any] | None = None,
    synth: SynthData | None = None,
    synth_workers: int = 1,
) -> dict[str, Any]:
    """Train ``model`` on ``data`` into run folder ``out``; returns metrics.json's content.

    ``synth``: train on frames synthesized afresh every epoch (:mod:`amrkit.train.synth`);
    validation and test frames then come from ``data``'s val/test splits, or, with ``data``
    None, are synthesized once (``synth.eval_frames_per_class``). On resume the run's
    recorded ``synth`` is used (``synth`` may be None, or must equal it).
    ``synth_workers``: synthesis processes (the frames do not depend on it).

    ``deterministic``: on CUDA, only bit-reproducible cuDNN kernels (same seed ⇒ same weights);
    False lets cuDNN pick the fastest (``original`` trained ~9× faster so on an H200).

    ``given``: the config fields the user set explicitly (checked against the stored run on
    ``resume``; default: every field of ``config``).

    ``on_epoch(state)``: called on rank 0 after each epoch's files are written (the search's
    successive halving raises from it to stop a trial; the run stays resumable).
    ``init_weights``: a state_dict to start from instead of ``config.init`` (pruning's
    fine-tuning); ``extra_info``: more keys for run.json (where the run came from).
    """
    dist, local_rank = _dist_from_env()
    if threads is not None:
        if threads < 1:
            raise AmrkitError(f"--threads {threads} is invalid; give an integer >= 1")
        torch.set_num_threads(threads)
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
    mode = check_out(out, resume, force)
    out = Path(out)
    stored: dict[str, Any] | None = read_json(out / RUN_FILE) if mode == "resume" else None
    cfg = _config_of(out, stored, config, given)
    synth = _synth_of(out, stored, synth)
    frames = _frames_of(data, synth, cfg, data_options, synth_workers)
    job = _Job(frames, out, cfg, mode, stored, dist, dev, data_options, progress)
    job.on_epoch, job.init_weights = on_epoch, init_weights
    job.extra_info = dict(extra_info or {})
    job.synth, job.synth_workers = synth, synth_workers
    if synth is not None:
        job.extra_info["synth"] = synth.to_dict()
    try:
        return _train(job, model)
    finally:
        if not isinstance(data, FrameSet):  # a FrameSet handed in stays the caller's
            frames.close()


def _synth_of(
    out: Path, stored: dict[str, Any] | None, synth: SynthData | None
) -> SynthData | None:
    """The run's synthesized training data: ``synth`` for a new run, the recorded on resume."""
    if stored is None:
        return synth
    record = stored.get("synth")
    if record is None:
        if synth is not None:
            raise AmrkitError(
                f"--resume: the run in {str(out)!r} trains on DATA's train split, not on "
                "synthesized frames; drop --synth and its options"
            )
        return None
    recorded = SynthData.from_dict(record, where=f"{out / RUN_FILE} synth")
    if synth is not None and synth != recorded:
        raise AmrkitError(
            f"--resume: the --synth options differ from the ones recorded in "
            f"{str(out / RUN_FILE)!r}; drop --synth and its options (the record is used)"
        )
    return recorded


def _frames_of(
    data: str | Path | FrameSet | None,
    synth: SynthData | None,
    cfg: TrainConfig,
    data_options: DataOptions,
    workers: int,
) -> FrameSet:
    """The dataset (with ``synth``: only its val/test splits are used), or, for a ``synth``
    run without one, the validation and test frames synthesized once."""
    if data is None:
        if synth is None:
            raise AmrkitError("DATA is required: give a dataset file, or --synth PRESET")
        if synth.eval_frames_per_class == 0:
            raise AmrkitError(
                "--synth without DATA needs --eval-frames-per-class > 0 (synthesized "
                "validation and test frames); give it, or a DATA file for val/test"
            )
        if data_options != DataOptions():
            raise AmrkitError(
                "--format/--classes/--classes-file/--snr-min/--snr-max/--drop-nonfinite "
                "apply to a DATA file; drop them (set classes or SNRs in a synth config file)"
            )
        return eval_frames(synth, workers)
    frames = (
        data
        if isinstance(data, FrameSet)
        else open_frames(data, split_seed=cfg.seed, **to_dict(data_options))
    )
    if synth is not None:
        try:
            check_eval_data(synth, frames)
        except AmrkitError:
            if not isinstance(data, FrameSet):
                frames.close()
            raise
    return frames


def _config_of(
    out: Path,
    stored: dict[str, Any] | None,
    config: TrainConfig | None,
    given: Iterable[str] | None,
) -> TrainConfig:
    """The run's TrainConfig: ``config`` for a new run, the stored one (+ allowed changes)."""
    if stored is None:
        return config or TrainConfig()
    if "train_config" not in stored:
        raise AmrkitError(
            f"{str(out / RUN_FILE)!r} was not written by 'amrkit train'; it cannot be resumed"
        )
    given_set = (
        set(given)
        if given is not None
        else (set(TrainConfig.__dataclass_fields__) if config is not None else set())
    )
    return resume_config(stored["train_config"], config, given_set)


def _train(job: _Job, model: str | CNNSpec | None) -> dict[str, Any]:
    """Check everything (writes nothing), then set up torchrun's group and :func:`_run`."""
    _check_splits(job)
    job.spec = _spec_of(job, model)
    length = job.frames.frame_length
    check_spec_fits(job.spec, min(length, job.cfg.crop) if job.cfg.crop else length)
    augment = parse_augment(job.cfg.augment)
    check_frame_length(augment, job.cfg.crop, job.cfg.time_scale, length)
    job.ckpt = _checkpoint_of(job)
    job.teacher = _teacher_of(job)
    _start_of(job)

    # ---- everything checked: from here on we write --------------------------------------
    dist, dev = job.dist, job.dev
    if dist.world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group(backend)
    try:
        return _run(job)
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _check_splits(job: _Job) -> None:
    frames, cfg, dist = job.frames, job.cfg, job.dist
    where = frames.source.get("path", "the dataset")
    if frames.num_classes < 2:
        raise AmrkitError(f"{where!r} has {frames.num_classes} class(es); training needs >= 2")
    n_split = {s: len(frames.indices(s)) for s in ("train", "val", "test")}
    if job.synth is not None:  # the training frames are synthesized, DATA's train unused
        n_split["train"] = job.synth.num_frames
        check_memory(job.synth, cfg.memory_mb)
        check_disjoint(job.synth, cfg.epochs)
    for s, code in (("train", 0), ("val", 1)):
        if n_split[s] == 0:
            raise AmrkitError(
                f"{where!r} has no {s} frames (split {code}) after filtering; "
                "use a file with a train/val/test split or relax the filters"
            )
    if n_split["train"] < dist.world or cfg.batch_size < dist.world:
        raise AmrkitError(
            f"{dist.world} processes need batch_size and train frames >= "
            f"{dist.world} (have {cfg.batch_size}, {n_split['train']})"
        )


def _spec_of(job: _Job, model: str | CNNSpec | None) -> CNNSpec:
    """The model to train: the asked one for a new run, the stored one on resume."""
    frames, out = job.frames, job.out
    if job.stored is None:
        if model is None:
            raise AmrkitError(
                "--model is required: a registered name (original, optimized), "
                "a spec file or a string like 16x8p,32x8"
            )
        if isinstance(model, CNNSpec):
            return model.with_classes(frames.num_classes)
        return get_spec(model, frames.num_classes)
    spec = CNNSpec.from_dict(job.stored["spec"], where=str(out / RUN_FILE))
    if model is not None:
        asked = model if isinstance(model, CNNSpec) else get_spec(model, frames.num_classes)
        if asked.with_classes(spec.num_classes) != spec:
            raise AmrkitError(
                f"--resume: --model {getattr(asked, 'name', model)!r} differs "
                f"from the run's model {spec.name!r}; drop --model"
            )
    if _data_key(job.stored.get("dataset", {})) != _data_key(frames.identity()):
        where = frames.source.get("path", "the dataset")
        raise AmrkitError(
            f"--resume: {where!r} (with these filters) is not the data the run "
            f"in {str(out)!r} was trained on; pass the same file and options"
        )
    return spec


def _checkpoint_of(job: _Job) -> dict[str, Any] | None:
    ckpt = load_checkpoint(job.out) if job.mode == "resume" else None
    if ckpt is None:
        return None
    if ckpt["world_size"] != job.dist.world and ckpt["step"] > 0:
        raise AmrkitError(
            f"--resume: the checkpoint is mid-epoch from {ckpt['world_size']} "
            f"process(es); resume with the same number (now {job.dist.world})"
        )
    if ckpt["epoch"] > job.cfg.epochs:
        raise AmrkitError(
            f"--epochs {job.cfg.epochs} is below the {ckpt['epoch']} epochs this "
            "run has done; give a larger value or drop --epochs"
        )
    return ckpt


def _teacher_of(job: _Job) -> Teacher | None:
    """The distillation teacher (``cfg.teacher``); on resume it must be the recorded one."""
    if job.cfg.teacher is None:
        return None
    teacher = load_teacher(job.cfg.teacher, job.frames.classes, job.frames.frame_length)
    recorded = (job.stored or {}).get("teacher")
    if recorded is not None and recorded["weights_sha256"] != teacher.info["weights_sha256"]:
        raise AmrkitError(
            f"--resume: the teacher {job.cfg.teacher!r} has changed since this run started "
            "(other model.pt); restore it or start over with --force"
        )
    return teacher


def _start_of(job: _Job) -> None:
    """``cfg.init_from``: the weights a new run starts from; on resume the recorded ones."""
    if job.cfg.init_from is None:
        return
    weights, info = start_weights(job.cfg.init_from, job.spec, job.frames.classes)
    recorded = (job.stored or {}).get("init_from")
    if recorded is not None and recorded["weights_sha256"] != info["weights_sha256"]:
        raise AmrkitError(
            f"--resume: the run {job.cfg.init_from!r} this one started from has changed "
            "(other model.pt); restore it or start over with --force"
        )
    job.init_weights = weights  # a checkpoint, when resuming, replaces them in _build
    job.extra_info["init_from"] = info


def _barrier(dist: Dist) -> None:
    if dist.world > 1:
        torch.distributed.barrier()


def _prepare_out(job: _Job) -> None:
    """Rank 0: create the folder, drop stale files, write run.json."""
    job.runtime = {
        **job.runtime,
        "device": job.dev.type,
        "threads": torch.get_num_threads(),
        "world_size": job.dist.world,
        "deterministic": job.dev.type == "cpu" or torch.backends.cudnn.deterministic,
        "torch_version": torch.__version__,
        "cpu": cpu_info()["cpu"],
        "gpu": torch.cuda.get_device_name(job.dev) if job.dev.type == "cuda" else None,
        "amrkit_commit": source_commit(),
    }
    if job.lead:
        out = job.out
        out.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if job.mode == "replace":
                (out / name).unlink(missing_ok=True)
            for stale in out.glob(f".{name}.*"):  # temp files of a killed run (atomic_path)
                stale.unlink(missing_ok=True)
        save_run_info(
            out,
            job.spec,
            job.frames.classes,
            job.frames.frame_length,
            job.frames.sample_rate_hz,
            train_config=to_dict(job.cfg),
            dataset=job.frames.identity(),
            data_options=to_dict(job.data_options),
            runtime=job.runtime,
            **({"teacher": job.teacher.info} if job.teacher is not None else {}),
            **job.extra_info,
        )
    _barrier(job.dist)


def _run(job: _Job) -> dict[str, Any]:
    cfg, dev, dist = job.cfg, job.dev, job.dist
    t_load = time.perf_counter()
    train: SplitData | SynthEpochs
    if job.synth is not None:
        train = SynthEpochs(job.synth, job.synth_workers)
    else:
        train = load_split(job.frames, "train", memory_mb=cfg.memory_mb, batch_size=cfg.batch_size)
    val = load_split(job.frames, "val", memory_mb=cfg.memory_mb, batch_size=cfg.eval_batch_size)
    if dev.type == "cuda":
        train, val = train.to(dev), val.to(dev)
    load_seconds = time.perf_counter() - t_load

    with torch.random.fork_rng(devices=[dev.index] if dev.type == "cuda" else []):
        net, optimizer, state = _build(job)
        per_rank = max(1, cfg.batch_size // dist.world)
        steps = steps_per_epoch(len(train) // dist.world, per_rank)
        model, plan = _step_model(job, net, train, per_rank, steps * (cfg.epochs - state.epoch))
        _prepare_out(job)
        if dist.world > 1:
            model = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[dev.index] if dev.type == "cuda" else None
            )
        reporter = _Reporter(cfg, steps, enabled=job.progress and job.lead)
        reporter.note(plan.note)
        hooks = _Hooks(job, net, optimizer, reporter)
        loss_fn = None
        if job.teacher is not None:
            loss_fn = Distiller(job.teacher.model.to(dev), cfg.kd_temperature, cfg.kd_alpha)
        with hooks.reporter:
            state = fit(
                model,
                optimizer,
                train,
                val,
                cfg,
                state,
                device=dev,
                dist=dist,
                on_step=hooks.on_step,
                on_epoch=hooks.on_epoch,
                loss_fn=loss_fn,
                precision=plan.precision,
            )

    metrics: dict[str, Any] = {}
    if job.lead:
        sizes = {"train_frames": len(train), "val_frames": len(val)}
        metrics = _finish(job, net, state, sizes, load_seconds)
    _barrier(dist)
    return metrics


def _step_model(
    job: _Job, net: AmrCNN, train: SplitData | SynthEpochs, per_rank: int, steps_left: int
) -> tuple[torch.nn.Module, StepPlan]:
    """What the training steps call (``net`` or its compiled form) and the plan, which
    ``job.runtime`` records (run.json, metrics.json)."""
    cfg, dev = job.cfg, job.dev
    precision = resolve_precision(cfg.precision, dev)
    on, note = resolve_compile(cfg.compile, dev, steps_left, job.dist.world)
    model: torch.nn.Module = net
    seconds = 0.0
    if on:
        length = cfg.crop if 0 < cfg.crop < train.frame_length else train.frame_length
        example = torch.zeros((min(per_rank, len(train)), 2, length), device=dev)  # (b, 2, L)
        model, seconds, note = compile_for_training(net, example, precision)
    plan = StepPlan(model is not net, precision, note, seconds)
    job.runtime.update(
        compiled=plan.compiled,
        precision=plan.precision,
        compile_seconds=round(plan.compile_seconds, 3),
        **({"compile_note": plan.note} if plan.note else {}),
    )
    return model, plan


def _build(job: _Job) -> tuple[AmrCNN, torch.optim.Optimizer, TrainState]:
    """Model (seeded init), optimizer and the training state, restored from the checkpoint."""
    cfg, dev = job.cfg, job.dev
    torch.manual_seed(cfg.seed)  # PyTorch's default init draws from the global stream
    net = AmrCNN(job.spec)
    initialize(net, cfg.init, torch.Generator().manual_seed(cfg.seed))
    if job.init_weights is not None:
        net.load_state_dict(job.init_weights)
    net = net.to(dev)
    torch.manual_seed(cfg.seed + 1 + job.dist.rank)  # stream for random layers (none in AmrCNN)
    optimizer = make_optimizer(net, cfg)
    state = TrainState()
    ckpt = job.ckpt
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state = state_from_checkpoint(ckpt, job.dist.rank)
        if len(ckpt["rng"]) == job.dist.world:
            set_rng_state(ckpt["rng"][job.dist.rank], dev)
    return net, optimizer, state


@dataclass
class _Hooks:
    """What :func:`fit` calls back: progress, mid-epoch and epoch-end checkpoints, files."""

    job: _Job
    net: AmrCNN
    optimizer: torch.optim.Optimizer
    reporter: _Reporter

    def checkpoint(self, state: TrainState, partial: EpochStats | None = None) -> None:
        dist, dev = self.job.dist, self.job.dev
        rng = [rng_state(dev)]
        if dist.world > 1:
            rng = [None] * dist.world
            torch.distributed.all_gather_object(rng, rng_state(dev))
            rng = [{k: v.cpu() for k, v in r.items()} for r in rng]
        if self.job.lead:
            save_checkpoint(
                self.job.out,
                self.net,
                self.optimizer,
                state,
                seed=self.job.cfg.seed,
                world=dist.world,
                rng=rng,
                partial=partial,
            )

    def on_step(self, state: TrainState, stats: EpochStats) -> None:
        self.reporter.step(state, stats)
        every, steps = self.job.cfg.checkpoint_every, self.reporter.steps
        if every and stats.steps % every == 0 and stats.steps < steps:
            stats.sync()
            sums = self.job.dist.all_sum([stats.loss_sum, stats.correct, stats.seen], self.job.dev)
            partial = EpochStats(sums[0], int(sums[1]), int(sums[2]), stats.steps, stats.seconds)
            self.checkpoint(state, partial)

    def on_epoch(self, state: TrainState) -> None:
        self.reporter.epoch(state)
        if self.job.lead:
            if state.best_epoch == state.epoch:
                save_weights(self.job.out, self.net)
            write_history(self.job.out / HISTORY_FILE, state.history)
        self.checkpoint(state)
        if self.job.lead and self.job.on_epoch is not None:
            self.job.on_epoch(state)


def _test(job: _Job, net: AmrCNN) -> dict[str, Any]:
    """Accuracy of ``net`` on the test split (``accuracy``/``loss`` None when it is empty)."""
    cfg, frames = job.cfg, job.frames
    t0 = time.perf_counter()
    test_split = load_split(frames, "test", memory_mb=cfg.memory_mb, batch_size=cfg.eval_batch_size)
    test: dict[str, Any] = {"frames": len(test_split), "accuracy": None, "loss": None}
    if len(test_split):
        batches = test_split.batches(
            torch.arange(len(test_split)), cfg.eval_batch_size, device=job.dev
        )
        r = evaluate(net, batches, return_pred=True)
        test.update(accuracy=r.accuracy, loss=r.loss)
        test["report"] = accuracy_report(
            test_split.label.cpu().numpy(), r.pred, test_split.snr_db, list(frames.classes)
        )
        test["report_source"] = REPORT_SOURCE
    test["seconds"] = time.perf_counter() - t0
    return test


def _finish(
    job: _Job, net: AmrCNN, state: TrainState, sizes: dict[str, int], load_seconds: float
) -> dict[str, Any]:
    """Best weights → model.pt; test-split measurements → metrics.json."""
    assert state.best_model is not None
    net.load_state_dict(state.best_model)
    save_weights(job.out, net)
    test = _test(job, net)
    hist = state.history
    train_seconds = sum(h.get("seconds", 0.0) for h in hist)
    train_frames = sum(h.get("train_frames", 0) for h in hist)
    metrics = {
        "complete": True,
        "epochs": job.cfg.epochs,
        "best_epoch": state.best_epoch,
        "best_val_accuracy": state.best_val_accuracy,
        "best_val_loss": state.best_val_loss,
        "final_val_accuracy": hist[-1]["val_acc"] if hist else None,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_frames": test["frames"],
        "test_report": test.get("report"),
        "test_report_source": test.get("report_source"),
        **sizes,
        "train_frames_per_s": train_frames / train_seconds if train_seconds > 0 else None,
        **_speed(hist),
        "epoch_seconds_total": train_seconds,
        "data_load_seconds": load_seconds,
        "test_seconds": test["seconds"],
        "wall_time_s": train_seconds + load_seconds + test["seconds"],
        "num_parameters": sum(p.numel() for p in net.parameters()),
        "resumed": job.ckpt is not None,
        **job.runtime,
    }
    if job.synth is not None:
        metrics["synth"] = _synth_metrics(hist, job.synth_workers)
    write_json(job.out / METRICS_FILE, metrics)
    return metrics


def _synth_metrics(hist: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """A --synth run's synthesis time: per epoch, in all, and its share of the training time
    (this process's epochs; a resumed run re-makes the epoch it resumed in)."""
    synth = [h.get("synth_seconds", 0.0) for h in hist]
    train = sum(h.get("train_seconds", 0.0) for h in hist)
    return {
        "workers": workers,
        "epoch_seconds": synth,
        "seconds_total": sum(synth),
        "share": sum(synth) / train if train > 0 else None,
    }


def _speed(hist: list[dict[str, Any]]) -> dict[str, Any]:
    """The training steps' own speed: frames/s without validation, and the share of that
    time spent waiting for batches (reading, augmenting, cropping), over all epochs."""
    rows = [h for h in hist if h.get("train_seconds")]
    secs = sum(h["train_seconds"] for h in rows)
    if not rows or secs <= 0:
        return {"step_frames_per_s": None, "data_share": None}
    return {
        "step_frames_per_s": sum(h["frames_per_s"] * h["train_seconds"] for h in rows) / secs,
        "data_share": sum(h["data_share"] * h["train_seconds"] for h in rows) / secs,
    }


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    lines = [",".join(HISTORY_COLUMNS)]
    for h in history:
        lines.append(
            ",".join(str(h[c]) if c == "epoch" else repr(float(h[c])) for c in HISTORY_COLUMNS)
        )
    write_text(path, "\n".join(lines) + "\n")


class _Reporter:
    """Rich progress bar on stderr plus one summary line per epoch (rank 0 only)."""

    def __init__(self, cfg: TrainConfig, steps: int, enabled: bool) -> None:
        self.cfg, self.steps, self.enabled = cfg, steps, enabled
        self.task: Any = None
        self.progress: Any = None
        self.console: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.console = Console(stderr=True)
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                disable=not self.console.is_terminal,
            )

    def __enter__(self) -> _Reporter:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def step(self, state: TrainState, stats: EpochStats) -> None:
        if self.progress is None or self.progress.disable:
            return
        if self.task is None:
            self.task = self.progress.add_task(
                f"epoch {state.epoch + 1}/{self.cfg.epochs}", total=self.steps, info=""
            )
        if stats.steps % 10 == 0 or stats.steps == self.steps:
            stats.sync()
            self.progress.update(
                self.task,
                completed=stats.steps,
                info=f"loss {stats.loss:.3f} acc {100 * stats.accuracy:.1f}%  "
                f"{stats.frames_per_second:,.0f} frames/s ({100 * stats.data_share:.0f}% data)",
            )

    def note(self, text: str) -> None:
        """A one-line note before training starts (e.g. why torch.compile is off)."""
        if text and self.enabled:
            self.console.print(f"note: {text}", highlight=False, soft_wrap=True)

    def epoch(self, state: TrainState) -> None:
        if not self.enabled:
            return
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        h = state.history[-1]
        best = " *" if state.best_epoch == state.epoch else ""
        self.console.print(
            f"epoch {h['epoch']}/{self.cfg.epochs}  lr {h['lr']:.3g}  "
            f"train loss {h['train_loss']:.4f} acc {100 * h['train_acc']:.2f}%  "
            f"val loss {h['val_loss']:.4f} acc {100 * h['val_acc']:.2f}%  "
            f"{h['seconds']:.1f} s  {h.get('frames_per_s', 0):,.0f} frames/s "
            f"({100 * h.get('data_share', 0):.0f}% outside the step){best}",
            highlight=False,
            soft_wrap=True,
        )
