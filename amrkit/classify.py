"""Classify a recording frame by frame: ``amrkit classify MODEL RECORDING``.

The recording is streamed (:mod:`amrkit.data.recording`): read in chunks, resampled to the
model's sample rate with a polyphase filter when the rates differ, cut into frames of the
model's length every ``hop`` samples (``hop`` counts samples at the model's rate; default =
frame length, i.e. back-to-back frames), normalized to unit average power, and run through
any predictor (:func:`amrkit.infer.load_predictor`: PyTorch run, ONNX FP32 or INT8) in
batches. Memory stays bounded by the chunk size; only a few numbers per frame are kept.

Each frame is reported at its start sample in the *recording's* own sample index (a frame
starting at resampled sample ``s`` starts at ``round(s · down / up)``), its time in seconds
(start / recording rate), the predicted class, its softmax confidence and the top-3.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amrkit import __version__
from amrkit.data.recording import (
    DEFAULT_CHUNK,
    SIGMF_DATA,
    SIGMF_META,
    Recording,
    frame_count,
    iter_frames,
    iter_resampled,
    rational_ratio,
    resampled_length,
)
from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path, check_writable

OUTPUT_SUFFIXES = (".csv", ".jsonl", ".ndjson")
MAX_RATE_ERROR = 1e-3  # relative error of the rational resampling ratio we accept


@dataclass
class Resampling:
    up: int = 1
    down: int = 1
    recording_rate_hz: float | None = None
    model_rate_hz: float | None = None

    @property
    def active(self) -> bool:
        return self.up != self.down

    def to_original(self, start: np.ndarray) -> np.ndarray:
        """Resampled sample index → nearest recording sample index."""
        s = np.asarray(start, dtype=np.int64)
        return (s * self.down + self.up // 2) // self.up

    def to_dict(self) -> dict[str, Any]:
        eff = self.recording_rate_hz * self.up / self.down if self.recording_rate_hz else None
        err = (
            (eff - self.model_rate_hz) / self.model_rate_hz
            if eff is not None and self.model_rate_hz
            else 0.0
        )
        return {
            "active": self.active,
            "up": self.up,
            "down": self.down,
            "recording_rate_hz": self.recording_rate_hz,
            "model_rate_hz": self.model_rate_hz,
            "effective_rate_hz": eff,
            "rate_error_ppm": err * 1e6,
        }


def plan_resampling(
    model_rate_hz: float | None,
    recording_rate_hz: float | None,
    resample: bool = True,
    max_denominator: int = 1000,
) -> Resampling:
    """``up/down`` taking the recording to the model's rate (1/1 when equal or unknown)."""
    plan = Resampling(1, 1, recording_rate_hz, model_rate_hz)
    if model_rate_hz is None or recording_rate_hz is None:
        return plan
    if math.isclose(model_rate_hz, recording_rate_hz, rel_tol=1e-9):
        return plan
    if not resample:
        raise AmrkitError(
            f"recording sample rate {recording_rate_hz:g} Hz differs from the model's "
            f"{model_rate_hz:g} Hz and --no-resample was given; drop --no-resample to resample, "
            "or use a recording made at the model's rate"
        )
    up, down = rational_ratio(model_rate_hz, recording_rate_hz, max_denominator)
    plan = Resampling(up, down, recording_rate_hz, model_rate_hz)
    err = abs(plan.to_dict()["rate_error_ppm"]) / 1e6
    if err > MAX_RATE_ERROR:
        raise AmrkitError(
            f"resampling {recording_rate_hz:g} Hz to {model_rate_hz:g} Hz as {up}/{down} is off "
            f"by {err:.2%}; the rates are too far apart for a polyphase ratio with denominator "
            f"<= {max_denominator}"
        )
    return plan


@dataclass
class Classification:
    """Per-frame predictions of one recording (compact arrays) and run statistics."""

    classes: tuple[str, ...]
    start_sample: np.ndarray  # (n,) int64, recording sample index
    label: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) float32, softmax probability of label
    top_index: np.ndarray  # (n, k) int64, best first
    top_prob: np.ndarray  # (n, k) float32
    sample_count: int  # frame span in recording samples
    frame_length: int  # model samples per frame
    hop: int  # model samples between frame starts
    sample_rate_hz: float | None  # the recording's
    chunk: int = DEFAULT_CHUNK  # recording samples per processing block
    resampling: Resampling = field(default_factory=Resampling)
    wall_s: float = 0.0
    infer_s: float = 0.0  # of wall_s, inside predictor.logits (the rest: reading, resampling,
    # framing, softmax)
    recording: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.start_sample)

    @property
    def time_s(self) -> np.ndarray:
        rate = self.sample_rate_hz or float("nan")
        return self.start_sample.astype(np.float64) / rate

    def histogram(self) -> dict[str, int]:
        counts = np.bincount(self.label, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts, strict=True)}

    def summary(self) -> dict[str, Any]:
        duration = self.recording.get("duration_s")
        return {
            "frames": len(self),
            "histogram": self.histogram(),
            "frames_per_s": len(self) / self.wall_s if self.wall_s > 0 else None,
            "wall_s": self.wall_s,
            "inference_s": self.infer_s,
            "recording_duration_s": duration,
            # processing time / recording duration: < 1 is faster than real time
            "real_time_factor": self.wall_s / duration if duration else None,
            "times_real_time": duration / self.wall_s if duration and self.wall_s > 0 else None,
            "frame_length": self.frame_length,
            "hop": self.hop,
            "chunk": self.chunk,
            "sample_count": self.sample_count,
            "resampling": self.resampling.to_dict(),
            "recording": self.recording,
            "model": self.model,
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (n, C)."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def model_rate(predictor: Any, model_rate_hz: float | None) -> float | None:
    """The model's sample rate: its own, else ``model_rate_hz`` (which must agree with it)."""
    rate = predictor.sample_rate_hz
    if model_rate_hz is None:
        return rate
    if not (model_rate_hz > 0 and math.isfinite(model_rate_hz)):
        raise AmrkitError(f"--model-rate {model_rate_hz} must be a positive number of Hz")
    if rate is not None and not math.isclose(rate, model_rate_hz, rel_tol=1e-9):
        raise AmrkitError(
            f"--model-rate {model_rate_hz:g} contradicts the model's own {rate:g} Hz; "
            "drop --model-rate"
        )
    return float(model_rate_hz)


def _run_frames(
    predictor: Any,
    frames: Iterator[tuple[np.ndarray, np.ndarray]],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Logits of every frame: ``(starts (n,), logits (n, C) float32, seconds in the model)``."""
    starts, logits = [], []
    done, infer_s = 0, 0.0
    for s, iq in frames:
        t_in = time.perf_counter()
        out = np.asarray(predictor.logits(iq), dtype=np.float32)  # (b, C)
        infer_s += time.perf_counter() - t_in
        starts.append(s)
        logits.append(out)
        done += len(iq)
        if progress is not None:
            progress(done, total)
    return np.concatenate(starts), np.concatenate(logits), infer_s


def top_classes(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over all frames at once: ``(top_index (n, k) int64, top_prob (n, k) float32)``."""
    p = _softmax(logits)  # (n, C)
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]  # (n, k)
    return order.astype(np.int64), np.take_along_axis(p, order, axis=1).astype(np.float32)


def classify_recording(
    predictor: Any,
    recording: Recording,
    hop: int | None = None,
    batch_size: int = 256,
    resample: bool = True,
    top_k: int = 3,
    chunk: int = DEFAULT_CHUNK,
    max_denominator: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    model_rate_hz: float | None = None,
) -> Classification:
    """Classify every frame of ``recording`` with ``predictor`` (see the module docstring).

    ``model_rate_hz`` gives the rate of a model that records none (e.g. trained on RadioML
    files); without either, frames are cut at the recording's own rate.
    ``progress(frames_done, frames_total)`` is called after each batch.
    """
    L = int(predictor.frame_length)
    hop = L if hop is None else int(hop)
    if hop < 1:
        raise AmrkitError(f"--hop {hop} must be >= 1 (samples at the model's rate)")
    if batch_size < 1:
        raise AmrkitError(f"--batch-size {batch_size} must be >= 1")
    if chunk < 1:
        raise AmrkitError(f"--chunk {chunk} must be >= 1 (samples per processing block)")
    rate = model_rate(predictor, model_rate_hz)
    plan = plan_resampling(rate, recording.sample_rate_hz, resample, max_denominator)
    n_model = resampled_length(recording.num_samples, plan.up, plan.down)
    total = frame_count(n_model, L, hop)
    if total == 0:
        raise AmrkitError(
            f"recording {str(recording.data_path)!r} has {recording.num_samples} samples "
            f"({n_model} at the model's rate), fewer than one frame of {L}; nothing to classify"
        )
    t0 = time.perf_counter()
    chunks = iter_resampled(recording, plan.up, plan.down, block=chunk, stats=recording.stats)
    frames = iter_frames(chunks, L, hop, batch_size, normalize=True, stats=recording.stats)
    starts, logits, infer_s = _run_frames(predictor, frames, total, progress)
    top_index, top_prob = top_classes(logits, max(1, min(top_k, len(predictor.classes))))
    wall = time.perf_counter() - t0
    return Classification(
        classes=tuple(predictor.classes),
        start_sample=plan.to_original(starts),
        label=top_index[:, 0].copy(),
        confidence=top_prob[:, 0].copy(),
        top_index=top_index,
        top_prob=top_prob,
        sample_count=int(round(L * plan.down / plan.up)),
        frame_length=L,
        hop=hop,
        sample_rate_hz=recording.sample_rate_hz,
        chunk=chunk,
        resampling=plan,
        wall_s=wall,
        infer_s=infer_s,
        recording=_recording_info(recording),
        model=model_info(predictor, rate),
    )


def model_info(predictor: Any, rate: float | None) -> dict[str, Any]:
    return {
        "kind": predictor.kind,
        "runtime": getattr(predictor, "runtime", None),
        "classes": list(predictor.classes),
        "frame_length": int(predictor.frame_length),
        "sample_rate_hz": rate,
    }


def _recording_info(recording: Recording) -> dict[str, Any]:
    return {
        "path": str(recording.meta_path or recording.data_path),
        "kind": recording.kind,
        "datatype": recording.fmt.name,
        "sample_rate_hz": recording.sample_rate_hz,
        "samples": recording.num_samples,
        "duration_s": recording.duration_s,
        "ignored_bytes": recording.ignored_bytes,
    }


# ---- outputs ----------------------------------------------------------------------------
def check_output_path(path: str | Path) -> Path:
    """``--out`` must end in .csv or .jsonl (.ndjson) and be writable."""
    p = Path(path)
    if p.suffix.lower() not in OUTPUT_SUFFIXES:
        raise AmrkitError(
            f"--out {str(p)!r} has suffix {p.suffix or '(none)'!r}; use .csv or .jsonl"
        )
    return check_writable(p)


def csv_header(k: int) -> list[str]:
    """Columns of the CSV predictions with a top-``k``."""
    header = ["start_sample", "sample_count", "time_s", "label", "confidence"]
    for j in range(1, k + 1):
        header += [f"top{j}", f"top{j}_p"]
    return header


def prediction_rows(
    classes: tuple[str, ...],
    start_sample: np.ndarray,
    sample_count: int,
    sample_rate_hz: float | None,
    top_index: np.ndarray,
    top_prob: np.ndarray,
    as_json: bool,
) -> Iterator[Any]:
    """One CSV row (list of str) or JSON record (dict) per frame: ``start_sample`` (n,) in the
    input's sample index, ``top_index`` / ``top_prob`` (n, k) best first. Files and streams
    (:mod:`amrkit.stream`) write the same bytes for the same frames."""
    rate = sample_rate_hz or float("nan")
    for s, idx, prob in zip(start_sample.tolist(), top_index, top_prob, strict=True):
        t = s / rate
        top = [(classes[j], float(q)) for j, q in zip(idx.tolist(), prob, strict=True)]
        label, confidence = top[0]
        if as_json:
            yield {
                "start_sample": s,
                "sample_count": sample_count,
                "time_s": t if math.isfinite(t) else None,
                "label": label,
                "confidence": round(confidence, 6),
                "top": [{"label": name, "p": round(q, 6)} for name, q in top],
            }
            continue
        row = [s, sample_count, f"{t:.9g}", label, f"{confidence:.6f}"]
        for name, q in top:
            row += [name, f"{q:.6f}"]
        yield row


def write_predictions(result: Classification, path: str | Path) -> Path:
    """Per-frame predictions as CSV or JSON lines (by suffix), written atomically."""
    p = check_output_path(path)
    as_json = p.suffix.lower() != ".csv"
    rows = prediction_rows(
        result.classes,
        result.start_sample,
        result.sample_count,
        result.sample_rate_hz,
        result.top_index,
        result.top_prob,
        as_json,
    )
    with atomic_path(p) as tmp, open(tmp, "w", newline="") as f:
        if as_json:
            f.writelines(json.dumps(rec) + "\n" for rec in rows)
        else:
            w = csv.writer(f)
            w.writerow(csv_header(result.top_index.shape[1]))
            w.writerows(rows)
    return p


def default_annotation_path(recording: Recording) -> Path:
    """``<name>.amrkit.sigmf-meta`` next to the data file."""
    name = recording.data_path.name
    stem = name[: -len(SIGMF_DATA)] if name.endswith(SIGMF_DATA) else recording.data_path.stem
    return recording.data_path.with_name(f"{stem}.amrkit{SIGMF_META}")


def annotation_metadata(
    result: Classification, recording: Recording, meta_path: Path
) -> dict[str, Any]:
    """SigMF metadata: the recording's (or a new one for raw data) plus one annotation per frame.

    The new file is not named after the data file, so ``core:dataset`` points at it
    (relative to the new metadata's folder).
    """
    import sigmf

    if recording.metadata is not None:
        meta = copy.deepcopy(recording.metadata)
    else:
        meta = {
            "global": {
                "core:datatype": recording.fmt.name,
                "core:sample_rate": recording.sample_rate_hz,
                "core:version": sigmf.__specification__,
            },
            "captures": [{"core:sample_start": 0}],
            "annotations": [],
        }
    g = meta.setdefault("global", {})
    g.setdefault("core:version", sigmf.__specification__)
    g["core:dataset"] = os.path.relpath(recording.data_path.resolve(), meta_path.resolve().parent)
    exts = g.setdefault("core:extensions", [])
    if not any(e.get("name") == "amrkit" for e in exts):
        exts.append({"name": "amrkit", "version": __version__, "optional": True})
    generator = f"amrkit {__version__} ({result.model.get('kind', 'model')})"
    new = [
        {
            "core:sample_start": int(s),
            "core:sample_count": int(result.sample_count),
            "core:label": result.classes[int(lab)],
            "core:generator": generator,
            "amrkit:confidence": round(float(c), 6),
        }
        for s, lab, c in zip(result.start_sample, result.label, result.confidence, strict=True)
    ]
    annotations = list(meta.get("annotations") or []) + new
    annotations.sort(key=lambda a: a.get("core:sample_start", 0))  # SigMF: sorted by start
    meta["annotations"] = annotations
    return meta


def check_annotation_path(recording: Recording, path: str | Path | None = None) -> Path:
    """Where annotations go: a writable ``.sigmf-meta`` that is not the recording itself."""
    target = Path(path) if path is not None else default_annotation_path(recording)
    if not target.name.endswith(SIGMF_META):
        raise AmrkitError(
            f"--annotate-out {str(target)!r} must end in {SIGMF_META}, e.g. "
            f"{default_annotation_path(recording).name}"
        )
    protected = {recording.data_path.resolve()}
    if recording.meta_path is not None:
        protected.add(recording.meta_path.resolve())
    if target.resolve() in protected:
        raise AmrkitError(
            f"--annotate-out {str(target)!r} is the recording itself; amrkit never modifies the "
            "original, choose another name"
        )
    data_folder = recording.data_path.resolve().parent
    if target.absolute().parent.resolve() != data_folder:
        raise AmrkitError(
            f"--annotate-out {str(target)!r} is not in the folder of the data file "
            f"{str(recording.data_path)!r}; readers (amrkit included) refuse metadata that names "
            f"data outside its own folder, so write it into {str(data_folder)!r}"
        )
    return check_writable(target)


def write_annotations(
    result: Classification, recording: Recording, path: str | Path | None = None
) -> Path:
    """Write the predictions as SigMF annotations into a NEW ``.sigmf-meta`` (atomic)."""
    target = check_annotation_path(recording, path)
    meta = annotation_metadata(result, recording, target)
    with atomic_path(target, suffix=".sigmf-meta") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return target
