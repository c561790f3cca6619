"""Measure a predictor (PyTorch run or ONNX file, FP32 or INT8) on a split of a FrameSet.

Every artifact goes through :func:`amrkit.infer.load_predictor`, so the numbers for the
FP32 model and its INT8 export come from one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.data.fields import field_key, read_frame_field
from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError
from amrkit.infer import Predictor, check_compatible
from amrkit.metrics.accuracy import accuracy_report, snr_band_report
from amrkit.metrics.by_field import accuracy_by, field_bins

SPLITS = ("train", "val", "test", "all")


def predict(
    predictor: Predictor,
    frames: FrameSet,
    positions: np.ndarray,
    batch_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, float]:
    """Top-1 predictions (N,) int64 for ``positions``, and the mean cross-entropy loss.

    ``progress(done, total)`` is called after each batch.
    """
    if batch_size < 1:
        raise AmrkitError(f"--batch-size {batch_size} must be >= 1")
    pred = np.empty(len(positions), dtype=np.int64)
    nll = 0.0
    done = 0
    for part, iq in frames.iter_batches(positions, batch_size):
        logits = np.asarray(predictor.logits(iq), dtype=np.float64)  # (n, C)
        if logits.shape != (len(part), len(frames.classes)):
            raise AmrkitError(
                f"model returned logits of shape {logits.shape} for {len(part)} frames of "
                f"{len(frames.classes)} classes; is it the right model?"
            )
        pred[done : done + len(part)] = logits.argmax(axis=1)
        # log-softmax, stable
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        nll -= float(logp[np.arange(len(part)), frames.label[part]].sum())
        done += len(part)
        if progress is not None:
            progress(done, len(positions))
    return pred, (nll / done if done else float("nan"))


def evaluate_predictor(
    predictor: Predictor,
    frames: FrameSet,
    split: str = "test",
    batch_size: int = 1024,
    top_confused: int = 5,
    progress: Callable[[int, int], None] | None = None,
    snr_bands: Sequence[float] | None = None,
    by: str | None = None,
    bins: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Accuracy report (see :func:`accuracy_report`) of ``predictor`` on ``frames[split]``.

    ``snr_bands``: band edges in dB; adds ``snr_bands`` (:func:`snr_band_report`).
    ``by``: a per-frame field of the file (``channel/delay_spread``), ``bins`` its bin edges
    (None: one row per distinct value); adds ``by`` (:func:`accuracy_by`), checked before
    the model runs.

    Adds ``split``, ``loss`` (mean cross-entropy), ``model`` (kind, classes, frame_length)
    and ``data`` (the FrameSet's identity). Raises AmrkitError when model and data disagree
    on classes or frame length, or when the split is empty.
    """
    if split not in SPLITS:
        raise AmrkitError(f"--split {split!r} is not one of {', '.join(SPLITS)}")
    check_compatible(predictor, tuple(frames.classes), frames.frame_length)
    positions = frames.indices(split)
    if len(positions) == 0:
        raise AmrkitError(
            f"split {split!r} of {frames.source.get('path', 'the data')!r} has no frames; "
            "choose another --split or relax the filters"
        )
    values = None
    if by is not None:
        by = field_key(by)
        values = read_frame_field(frames, by)[positions]  # (n,)
        field_bins(values, bins, by)  # refuse bad bins before the (long) predictions
    elif bins is not None:
        raise AmrkitError("--bins needs --by FIELD (e.g. --by channel/delay_spread)")
    pred, loss = predict(predictor, frames, positions, batch_size, progress)
    report = accuracy_report(
        frames.label[positions], pred, frames.snr_db[positions], frames.classes, top_confused
    )
    if snr_bands is not None:
        snr = frames.snr_db[positions]
        report["snr_bands"] = snr_band_report(frames.label[positions], pred, snr, snr_bands)
    if values is not None:
        report["by"] = accuracy_by(values, frames.label[positions], pred, bins, by)
    return {
        "split": split,
        **report,
        "loss": loss,
        "model": {
            "kind": predictor.kind,
            "classes": list(predictor.classes),
            "frame_length": int(predictor.frame_length),
        },
        "data": frames.identity(),
    }


def evaluate_path(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    batch_size: int = 1024,
    device: str | None = None,
    threads: int | None = None,
    top_confused: int = 5,
    progress: Callable[[int, int], None] | None = None,
    split_seed: int | None = None,
    runtime: str = "auto",
    snr_bands: Sequence[float] | None = None,
    by: str | None = None,
    bins: Sequence[float] | None = None,
    **open_options: Any,
) -> dict[str, Any]:
    """Load ``model`` (run dir or .onnx; ``runtime``: :data:`amrkit.infer.RUNTIMES`) and
    ``data`` (``open_frames`` options), evaluate.

    A file without a split gets the derived split of ``split_seed``; by default the one the
    model records (:func:`amrkit.data.split.resolve_split_seed`), so a run is not tested on
    the frames it was trained on.
    """
    from amrkit.data.open import open_frames
    from amrkit.data.split import resolve_split_seed
    from amrkit.infer import load_predictor

    if split not in SPLITS:
        raise AmrkitError(f"--split {split!r} is not one of {', '.join(SPLITS)}")
    predictor = load_predictor(model, device=device, threads=threads, runtime=runtime)
    seed = resolve_split_seed(split_seed, getattr(predictor, "info", None), repr(str(model)))
    with open_frames(data, split_seed=seed, **open_options) as frames:
        result = evaluate_predictor(
            predictor, frames, split, batch_size, top_confused, progress, snr_bands, by, bins
        )
    result["model"]["path"] = str(model)
    return result
