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
from amrkit.config import to_dict
from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError
from amrkit.export.deploy import DeployCNN
from amrkit.export.graph import set_metadata
from amrkit.export.onnx_export import export_model, metadata_for, run_metadata
from amrkit.fileio import write_json
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
from amrkit.quant.qdq import guard_excluded
from amrkit.runtime import ort_session
from amrkit.runtime.ort import PAIR_LIMIT

INT8_FILE = "model_int8.onnx"
FP32_FILE = "model_fp32.onnx"
DETAILS_FILE = "quantization.json"
PLOT_FILE = "quantization.png"
ARTIFACTS = (INT8_FILE, FP32_FILE, DETAILS_FILE, PLOT_FILE)
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


def check_data(run: Any, frames: FrameSet) -> None:
    """The data must have the run's classes (same order) and frame length."""
    if frames.frame_length != run.frame_length:
        raise AmrkitError(
            f"data frame length {frames.frame_length} differs from the model's {run.frame_length}; "
            f"use frames of length {run.frame_length}"
        )
    if tuple(frames.classes) != tuple(run.classes):
        raise AmrkitError(
            f"data classes {list(frames.classes)} differ from the model's {list(run.classes)}; "
            f"select them in the model's order with --classes {','.join(run.classes)}"
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
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise AmrkitError(
            f"cannot write to {str(parent)!r} ({exc.strerror}); choose a writable --out"
        ) from None


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
    """Quantize a trained run (directory or loaded :class:`~amrkit.train.run.Run`).

    Calibration frames: ``config.calib_frames`` from the training split of ``frames``,
    stratified by class. The validation split measures FP32 and INT8 accuracy. A
    :class:`QATConfig` fine-tunes on the training split first.
    """
    from amrkit.train.run import Run, load_run

    if not isinstance(config, (PTQConfig, QATConfig)):
        raise AmrkitError(f"config must be a PTQConfig or QATConfig, got {type(config).__name__}")
    loaded = run if isinstance(run, Run) else load_run(run)
    check_data(loaded, frames)
    names = loaded.model.layer_names()
    check_exclude(tuple(config.exclude), names)
    quantized = [n for n in names if n not in config.exclude]
    val_pos = frames.indices("val")
    if len(val_pos) == 0:
        raise AmrkitError(
            f"{frames.source.get('path', 'the dataset')!r} has no validation frames to measure "
            "accuracy on; use a dataset with a validation split"
        )
    calib_pos = select_calibration(frames, config.calib_frames, config.seed)
    calib_iq = frames.read(calib_pos)
    is_qat = isinstance(config, QATConfig)

    run_meta = run_metadata(loaded)  # e.g. split_seed, on both ONNX files
    out = Path(out_dir)
    target = out.resolve() if out.is_symlink() else out  # a linked folder is replaced where it is
    stage = _stage_dir(target)
    try:
        fp32_res = export_model(
            loaded.model,
            stage / FP32_FILE,
            classes=loaded.classes,
            frame_length=loaded.frame_length,
            sample_rate_hz=loaded.sample_rate_hz,
            check_iq=calib_iq[:64],
            extra_metadata=run_meta,
        )
        fp32_proto = onnx.load(str(fp32_res.path))
        cal = calibrate(fp32_res.path, calib_iq, config.method, config.percentile)
        ranges = tensor_ranges(cal)
        extra: dict[str, Any] = {}
        if is_qat:
            from amrkit.quant.qat import (
                build_fake_quant,
                export_qat,
                finetune,
                init_ranges,
                quant_points,
            )

            fq = build_fake_quant(DeployCNN.from_model(loaded.model), config)
            init_ranges(fq, ranges, quant_points(fp32_proto))
            history = finetune(fq, frames, config, on_epoch=on_epoch)
            int8_proto = export_qat(fq, loaded.frame_length)
            deploy = fq.net
            extra["qat"] = {
                "history": history,
                "final_activation_ranges": {
                    key: [float(q.lo), float(q.hi)]
                    for key, q in [
                        *((f"in:{k}", v) for k, v in fq.act_in.items()),
                        *((f"out:{k}", v) for k, v in fq.act_out.items()),
                        *([("gap", fq.act_gap)] if fq.act_gap is not None else []),
                    ]
                },
                "train_loop": "amrkit.train.loop.train_one_epoch",
            }
        else:
            from amrkit.quant.ptq import ptq_onnx

            int8_proto = ptq_onnx(fp32_res.path, config, cal)
            deploy = DeployCNN.from_model(loaded.model)
        guarded = guard_excluded(int8_proto, config.exclude)
        summary = {
            "mode": "qat" if is_qat else "ptq",
            "weight_bits": config.bits,
            "target": config.target,
            "quantized_layers": quantized,
        }
        set_metadata(
            int8_proto,
            metadata_for(
                loaded.spec,
                loaded.classes,
                loaded.frame_length,
                loaded.sample_rate_hz,
                "int8",
                quantization=summary,
                **run_meta,
            ),
        )
        try:
            onnx.checker.check_model(int8_proto, full_check=True)
        except onnx.checker.ValidationError as exc:
            raise AmrkitError(f"INT8 graph is invalid: {str(exc).splitlines()[0]}") from None
        int8_path = stage / INT8_FILE
        onnx.save_model(int8_proto, str(int8_path))

        runtime = runtime_check(str(int8_path), quantized, list(config.exclude))
        require_integer(runtime)
        bounds = integer_bounds(int8_proto, int8_path)
        warnings = check_target(config.target, bounds)
        runtime["golden_match"] = golden_check(int8_path, frames, val_pos[:CHECK_FRAMES], threads)
        layers = layer_table(int8_proto, fp32_proto, deploy, ranges, runtime["layer_kernels"])
        for name, row in bounds.items():
            layers.setdefault(name, {}).update(row)
        rows = learnables(layers, config.bits)
        fp32_acc, fp32_pred = accuracy(fp32_res.path, frames, val_pos, threads)
        int8_acc, int8_pred = accuracy(int8_path, frames, val_pos, threads)
        per_class = np.bincount(frames.label[calib_pos], minlength=frames.num_classes)
        details: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "amrkit_version": __version__,
            "mode": "qat" if is_qat else "ptq",
            "is_quantized": True,
            "quantized_layers": quantized,
            "excluded_layers": list(config.exclude),
            "fp32_guarded_layers": guarded,
            "weight_bits": config.bits,
            "activation_bits": 8,
            "target": config.target,
            "pair_limit": PAIR_LIMIT,
            "max_pair_sum": max((b["pair_bound"] or 0 for b in bounds.values()), default=0),
            "max_acc_bound": max((b["acc_bound"] or 0 for b in bounds.values()), default=0),
            "warnings": warnings,
            "config_type": type(config).__name__,
            "config": to_dict(config),
            "source_run": {
                "path": str(loaded.path),
                "spec": loaded.spec.to_dict(),
                "classes": list(loaded.classes),
                "frame_length": loaded.frame_length,
                "sample_rate_hz": loaded.sample_rate_hz,
            },
            "data": frames.identity(),
            "calibration": {
                "split": "train",
                "frames": int(len(calib_pos)),
                "frames_per_class": dict(zip(frames.classes, per_class.tolist(), strict=True)),
                "method": config.method,
                "tensor_ranges": {k: list(v) for k, v in sorted(ranges.items())},
            },
            "learnables": rows,
            **parameter_memory(rows),
            "accuracy": {
                "split": "val",
                "frames": int(len(val_pos)),
                "fp32": fp32_acc,
                "int8": int8_acc,
                "drop_pt": 100.0 * (fp32_acc - int8_acc),
                "prediction_agreement": float(np.mean(fp32_pred == int8_pred)),
            },
            "onnxruntime": runtime,
            "layers": layers,
            "export": {
                "fp32_max_abs_diff_vs_torch": fp32_res.max_abs_diff,
                "frames_checked": fp32_res.frames_checked,
            },
            **extra,
            "files": {"int8": INT8_FILE, "fp32": FP32_FILE, "details": DETAILS_FILE},
        }
        if plot:
            from amrkit.quant.plot import plot_ranges

            plot_ranges(details, stage / PLOT_FILE)
            details["files"]["plot"] = PLOT_FILE
        write_json(stage / DETAILS_FILE, details)
        _swap_in(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return QuantResult(out, out / INT8_FILE, out / FP32_FILE, details)
