"""The one verb: ``quantize(run, PTQConfig(...) | QATConfig(...), frames, out_dir)``.

Output directory::

    model_int8.onnx     QDQ INT8 model with amrkit metadata (amrkit.precision = "int8")
    model_fp32.onnx     the FP32 export it was made from (BN folded, same layer names)
    quantization.json   see :mod:`amrkit.quant.details`
    quantization.png    (``plot=True``) per-layer dynamic ranges

Everything is written to a staging folder next to ``out_dir``, which replaces ``out_dir`` as a
whole only when all checks passed (export numerics, ONNX checker, integer kernels in ONNX
Runtime): files of an earlier run (say quantization.png of an earlier ``plot=True``) never
survive next to new ones. An existing ``out_dir`` may hold only these four names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from amrkit import __version__
from amrkit.artifacts import (
    DETAILS_FILE,
    FP32_FILE,
    INT8_FILE,
    PLOT_FILE,
    QUANT_FILES,
    WEIGHTS_FILE,
    Run,
    check_compatible,
    load_run,
    metadata_for,
    weights_hash,
)
from amrkit.config import to_dict
from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError
from amrkit.export.graph import set_metadata
from amrkit.export.onnx_export import export_model, run_metadata
from amrkit.fileio import staging_folder, write_json
from amrkit.models.deploy import DeployCNN
from amrkit.quant.calibrate import calibrate, select_calibration, tensor_ranges
from amrkit.quant.config import PTQConfig, QATConfig
from amrkit.quant.details import (
    FORMAT,
    FORMAT_VERSION,
    layer_table,
    learnables,
    parameter_memory,
    require_integer,
    runtime_check,
)
from amrkit.quant.exactness import CHECK_FRAMES, check_target, golden_check, integer_bounds
from amrkit.quant.mixed import check_budget, check_layer_names, choose_mixed, parameter_counts
from amrkit.quant.qdq import guard_excluded
from amrkit.runtime import ort_session
from amrkit.runtime.ort import PAIR_LIMIT

ARTIFACTS = QUANT_FILES
EVAL_BATCH = 1024


@dataclass
class QuantResult:
    out_dir: Path
    int8_path: Path
    fp32_path: Path
    details: dict[str, Any]

    @property
    def fp32_accuracy(self) -> float:
        return self.details["accuracy"]["fp32"]

    @property
    def int8_accuracy(self) -> float:
        return self.details["accuracy"]["int8"]


def check_exclude(exclude: tuple[str, ...], layer_names: list[str]) -> None:
    unknown = [x for x in exclude if x not in layer_names]
    if unknown:
        raise AmrkitError(
            f"unknown layer(s) {', '.join(unknown)} in --exclude; valid: {', '.join(layer_names)}"
        )
    if set(exclude) >= set(layer_names):
        raise AmrkitError(
            f"--exclude {','.join(exclude)} leaves no layer to quantize; keep at least one of "
            f"{', '.join(layer_names)}"
        )


def accuracy(
    path: Path, frames: FrameSet, positions: np.ndarray, threads: int | None = None
) -> tuple[float, np.ndarray]:
    """Top-1 accuracy of an ONNX file on ``positions`` (ORT defaults: ORT_ENABLE_ALL)."""
    sess = ort_session(path, threads=threads)
    name = sess.get_inputs()[0].name
    preds = []
    for _, iq in frames.iter_batches(positions, EVAL_BATCH):
        preds.append(np.asarray(sess.run(None, {name: iq})[0]).argmax(1))
    pred = np.concatenate(preds) if preds else np.empty(0, np.int64)
    return float(np.mean(pred == frames.label[positions])) if len(pred) else float("nan"), pred


def check_out_dir(out: Path) -> None:
    """``out`` must be new, or a folder holding nothing but earlier quantize artifacts
    (:data:`ARTIFACTS`): the whole folder is replaced, so nothing else may be lost."""
    if out.exists() and not out.is_dir():
        raise AmrkitError(f"--out {str(out)!r} is a file; give a folder for the quantized model")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in ARTIFACTS)
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise AmrkitError(
                f"--out {str(out)!r} holds files 'amrkit quantize' did not write ({shown}); "
                "it replaces the whole folder, so choose a new or empty folder"
            )


def _swap_in(stage: Path, out: Path) -> None:
    """Replace folder ``out`` by ``stage`` (same parent) without ever mixing their files.

    A new ``out`` is one rename; an existing one is renamed aside first, then removed (it is
    restored if the second rename fails).
    """
    check_out_dir(out)  # again: the folder may have changed during the run
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes 0700; give the folder normal permissions
    if not out.is_dir():
        os.replace(stage, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=stage.parent))
    try:
        os.replace(out, old)  # onto the empty placeholder
    except BaseException:
        old.rmdir()
        raise
    try:
        os.replace(stage, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _stage_dir(out: Path) -> Path:
    check_out_dir(out)
    return staging_folder(out)


@dataclass
class _Job:
    """What every step of one quantization needs: the run, data, config and staging folder."""

    run: Run
    config: PTQConfig | QATConfig
    frames: FrameSet
    stage: Path
    quantized: list[str]
    val_pos: np.ndarray
    calib_pos: np.ndarray
    threads: int | None
    run_meta: dict[str, Any]

    @property
    def is_qat(self) -> bool:
        return isinstance(self.config, QATConfig)


@dataclass
class _Quantized:
    """An INT8 graph, the FP32 model it encodes, and mode-specific details."""

    proto: onnx.ModelProto
    deploy: DeployCNN
    extra: dict[str, Any]
    bits: dict[str, int]  # weight bits of each quantized layer


def _prepare(run: Any, config: PTQConfig | QATConfig, frames: FrameSet) -> tuple[Run, list[str]]:
    if not isinstance(config, (PTQConfig, QATConfig)):
        raise AmrkitError(f"config must be a PTQConfig or QATConfig, got {type(config).__name__}")
    loaded = run if isinstance(run, Run) else load_run(run)
    check_compatible(loaded.classes, loaded.frame_length, frames.classes, frames.frame_length)
    names = loaded.model.layer_names()
    check_exclude(tuple(config.exclude), names)
    if isinstance(config, QATConfig):
        check_layer_names(config, names)
        check_budget(config, parameter_counts(DeployCNN.from_model(loaded.model)))
    if len(frames.indices("val")) == 0:
        raise AmrkitError(
            f"{frames.source.get('path', 'the dataset')!r} has no validation frames to measure "
            "accuracy on; use a dataset with a validation split"
        )
    return loaded, [n for n in names if n not in config.exclude]


def _ptq(job: _Job, fp32_path: Path, cal: Any) -> _Quantized:
    from amrkit.quant.ptq import ptq_onnx

    proto = ptq_onnx(fp32_path, job.config, cal)
    bits = {name: job.config.bits for name in job.quantized}
    return _Quantized(proto, DeployCNN.from_model(job.run.model), {}, bits)


def _qat(
    job: _Job, fp32_proto: onnx.ModelProto, ranges: dict, calib_iq: np.ndarray, on_epoch: Any
) -> _Quantized:
    from amrkit.quant.qat import build_fake_quant, export_qat, finetune, init_ranges, quant_points

    fq = build_fake_quant(DeployCNN.from_model(job.run.model), job.config)
    init_ranges(fq, ranges, quant_points(fp32_proto))
    mixed = None
    if job.config.max_packed_bytes is not None:  # sensitivities at the calibrated ranges
        mixed = choose_mixed(fq, calib_iq, job.config)
    history = finetune(fq, job.frames, job.config, on_epoch=on_epoch)
    points = [
        *((f"in:{k}", v) for k, v in fq.act_in.items()),
        *((f"out:{k}", v) for k, v in fq.act_out.items()),
        *([("gap", fq.act_gap)] if fq.act_gap is not None else []),
    ]
    extra = {
        "qat": {
            "history": history,
            "final_activation_ranges": {k: [float(q.lo), float(q.hi)] for k, q in points},
            "train_loop": "amrkit.train.loop.train_one_epoch",
        }
    }
    if mixed is not None:
        extra["mixed_precision"] = mixed
    bits = {name: fq.bits_of(name) for name in job.quantized}
    return _Quantized(export_qat(fq, job.run.frame_length), fq.net, extra, bits)


def _save_int8(job: _Job, q: _Quantized) -> tuple[Path, list[str]]:
    """Guard excluded layers, stamp the metadata, check and write the INT8 file."""
    guarded = guard_excluded(q.proto, job.config.exclude)
    summary = {
        "mode": "qat" if job.is_qat else "ptq",
        "weight_bits": job.config.bits,
        "layer_bits": q.bits,
        "target": job.config.target,
        "quantized_layers": job.quantized,
    }
    run = job.run
    meta = metadata_for(
        run.spec, run.classes, run.frame_length, run.sample_rate_hz, "int8",
        quantization=summary, **job.run_meta,
    )  # fmt: skip
    set_metadata(q.proto, meta)
    try:
        onnx.checker.check_model(q.proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise AmrkitError(f"INT8 graph is invalid: {str(exc).splitlines()[0]}") from None
    int8_path = job.stage / INT8_FILE
    onnx.save_model(q.proto, str(int8_path))
    return int8_path, guarded


def _integers(job: _Job, proto: onnx.ModelProto, int8_path: Path) -> dict[str, Any]:
    """What ORT runs, the proved integer bounds, and ORT vs the golden model on this CPU."""
    runtime = runtime_check(str(int8_path), job.quantized, list(job.config.exclude))
    require_integer(runtime)
    bounds = integer_bounds(proto, int8_path)
    warnings = check_target(job.config.target, bounds)
    check_pos = job.val_pos[:CHECK_FRAMES]
    runtime["golden_match"] = golden_check(int8_path, job.frames, check_pos, job.threads)
    return {"runtime": runtime, "bounds": bounds, "warnings": warnings}


def _accuracy(job: _Job, fp32_path: Path, int8_path: Path) -> dict[str, Any]:
    fp32_acc, fp32_pred = accuracy(fp32_path, job.frames, job.val_pos, job.threads)
    int8_acc, int8_pred = accuracy(int8_path, job.frames, job.val_pos, job.threads)
    return {
        "split": "val",
        "frames": int(len(job.val_pos)),
        "fp32": fp32_acc,
        "int8": int8_acc,
        "drop_pt": 100.0 * (fp32_acc - int8_acc),
        "prediction_agreement": float(np.mean(fp32_pred == int8_pred)),
    }


def _details(job: _Job, q: _Quantized, checks: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """quantization.json (see :mod:`amrkit.quant.details`)."""
    cfg, run, frames, bounds = job.config, job.run, job.frames, checks["bounds"]
    per_class = np.bincount(frames.label[job.calib_pos], minlength=frames.num_classes)
    rows = learnables(parts["layers"], q.bits)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "amrkit_version": __version__,
        "mode": "qat" if job.is_qat else "ptq",
        "is_quantized": True,
        "quantized_layers": job.quantized,
        "excluded_layers": list(cfg.exclude),
        "fp32_guarded_layers": parts["guarded"],
        "weight_bits": cfg.bits,
        "layer_bits": q.bits,
        "mixed": len(set(q.bits.values())) > 1,
        "activation_bits": 8,
        "target": cfg.target,
        "pair_limit": PAIR_LIMIT,
        "max_pair_sum": max((b["pair_bound"] or 0 for b in bounds.values()), default=0),
        "max_acc_bound": max((b["acc_bound"] or 0 for b in bounds.values()), default=0),
        "warnings": checks["warnings"],
        "config_type": type(cfg).__name__,
        "config": to_dict(cfg),
        "source_run": {
            "path": str(run.path),
            # None for an in-memory run (the search times untrained exports)
            "weights_sha256": weights_hash(run.path)
            if (Path(run.path) / WEIGHTS_FILE).is_file()
            else None,
            "spec": run.spec.to_dict(),
            "classes": list(run.classes),
            "frame_length": run.frame_length,
            "sample_rate_hz": run.sample_rate_hz,
        },
        "data": frames.identity(),
        "calibration": {
            "split": "train",
            "frames": int(len(job.calib_pos)),
            "frames_per_class": dict(zip(frames.classes, per_class.tolist(), strict=True)),
            "method": cfg.method,
            "tensor_ranges": {k: list(v) for k, v in sorted(parts["ranges"].items())},
        },
        "learnables": rows,
        **parameter_memory(rows),
        "accuracy": parts["accuracy"],
        "onnxruntime": checks["runtime"],
        "layers": parts["layers"],
        "export": parts["export"],
        **q.extra,
        "files": {"int8": INT8_FILE, "fp32": FP32_FILE, "details": DETAILS_FILE},
    }


def _build(job: _Job, on_epoch: Any, plot: bool) -> dict[str, Any]:
    """Export, calibrate, quantize (PTQ or QAT), check and measure, all inside ``job.stage``."""
    run = job.run
    calib_iq = job.frames.read(job.calib_pos)
    fp32_res = export_model(
        run.model, job.stage / FP32_FILE, classes=run.classes, frame_length=run.frame_length,
        sample_rate_hz=run.sample_rate_hz, check_iq=calib_iq[:64], extra_metadata=job.run_meta,
    )  # fmt: skip
    fp32_proto = onnx.load(str(fp32_res.path))
    cal = calibrate(fp32_res.path, calib_iq, job.config.method, job.config.percentile)
    ranges = tensor_ranges(cal)
    q = (
        _qat(job, fp32_proto, ranges, calib_iq, on_epoch)
        if job.is_qat
        else _ptq(job, fp32_res.path, cal)
    )
    int8_path, guarded = _save_int8(job, q)
    checks = _integers(job, q.proto, int8_path)
    layers = layer_table(q.proto, fp32_proto, q.deploy, ranges, checks["runtime"]["layer_kernels"])
    for name, row in checks["bounds"].items():
        layers.setdefault(name, {}).update(row)
    export = {
        "fp32_max_abs_diff_vs_torch": fp32_res.max_abs_diff,
        "frames_checked": fp32_res.frames_checked,
    }
    details = _details(
        job, q, checks, layers=layers, guarded=guarded, ranges=ranges, export=export,
        accuracy=_accuracy(job, fp32_res.path, int8_path),
    )  # fmt: skip
    if plot:
        from amrkit.quant.plot import plot_ranges

        plot_ranges(details, job.stage / PLOT_FILE)
        details["files"]["plot"] = PLOT_FILE
    write_json(job.stage / DETAILS_FILE, details)
    return details


def quantize(
    run: Any,
    config: PTQConfig | QATConfig,
    frames: FrameSet,
    out_dir: str | Path,
    *,
    plot: bool = False,
    threads: int | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> QuantResult:
    """Quantize a trained run (directory or loaded :class:`~amrkit.artifacts.Run`).

    Calibration frames: ``config.calib_frames`` from the training split of ``frames``,
    stratified by class. The validation split measures FP32 and INT8 accuracy. A
    :class:`QATConfig` fine-tunes on the training split first.
    """
    loaded, quantized = _prepare(run, config, frames)
    calib_pos = select_calibration(frames, config.calib_frames, config.seed)
    out = Path(out_dir)
    target = out.resolve() if out.is_symlink() else out  # a linked folder is replaced where it is
    stage = _stage_dir(target)
    job = _Job(
        loaded, config, frames, stage, quantized, frames.indices("val"), calib_pos, threads,
        run_metadata(loaded),  # e.g. split_seed, on both ONNX files
    )  # fmt: skip
    try:
        details = _build(job, on_epoch, plot)
        _swap_in(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return QuantResult(out, out / INT8_FILE, out / FP32_FILE, details)
