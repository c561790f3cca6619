"""Top-1 accuracy, per SNR, per class, confusion matrix: pure NumPy, no model involved.

:func:`accuracy_report` is what ``amrkit evaluate``, the trainer and the report share. Its
result is plain JSON types (after :func:`amrkit.fileio.json_safe`): SNR keys are strings
(``"30"``, ``"-2.5"``, ``"inf"``, ``"unknown"`` for NaN), classes keep their order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError


def snr_key(value: float) -> str:
    """30.0 → "30", -2.5 → "-2.5", inf → "inf", nan → "unknown"."""
    v = float(value)
    if math.isnan(v):
        return "unknown"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer():
        return str(int(v))
    return np.format_float_positional(np.float32(v), trim="-")


def snr_value(key: str) -> float:
    """Inverse of :func:`snr_key` ("unknown" → nan)."""
    return math.nan if key == "unknown" else float(key)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _checked(
    label: np.ndarray, pred: np.ndarray, snr_db: np.ndarray | None, c: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) int64 labels and predictions, (N,) float64 SNRs (NaN when unknown), validated."""
    label, pred = np.asarray(label).reshape(-1), np.asarray(pred).reshape(-1)
    n = len(label)
    if c < 1:
        raise AmrkitError("accuracy_report needs at least one class name")
    if len(pred) != n:
        raise AmrkitError(f"{len(pred)} predictions for {n} labels; they must match one to one")
    for what, arr in (("label", label), ("prediction", pred)) if n else ():
        if arr.dtype.kind not in "iu" and not np.all(np.mod(arr, 1) == 0):
            raise AmrkitError(f"{what}s must be integer class indices, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= c:
            raise AmrkitError(
                f"{what} index {int(arr.min() if arr.min() < 0 else arr.max())} is outside "
                f"0..{c - 1} ({c} classes)"
            )
    snr = np.full(n, np.nan) if snr_db is None else np.asarray(snr_db, np.float64).reshape(-1)
    if len(snr) != n:
        raise AmrkitError(f"{len(snr)} SNR values for {n} labels; they must match one to one")
    return label.astype(np.int64), pred.astype(np.int64), snr


def _per_snr(label, pred, snr, classes: list[str]) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    c, hit = len(classes), label == pred
    nan_mask = np.isnan(snr)
    groups = [(snr_key(v), snr == v) for v in np.unique(snr[~nan_mask])]  # sorted, -inf … inf
    if nan_mask.any():
        groups.append(("unknown", nan_mask))
    out = {}
    for key, mask in groups:
        frames, ok = int(mask.sum()), int(hit[mask].sum())
        seen = np.bincount(label[mask], minlength=c)
        right = np.bincount(label[mask & hit], minlength=c)
        class_acc = {name: _ratio(int(right[i]), int(seen[i])) for i, name in enumerate(classes)}
        out[key] = {
            "frames": frames,
            "correct": ok,
            "accuracy": ok / frames,
            "per_class": class_acc,
        }
    return out


def _most_confused(confusion: np.ndarray, classes: list[str], top: int) -> list[dict[str, Any]]:
    c, support = len(classes), confusion.sum(axis=1)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    cells = [(int(off[i, j]), i, j) for i in range(c) for j in range(c) if off[i, j] > 0]
    cells.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [
        {
            "true": classes[i],
            "predicted": classes[j],
            "count": cnt,
            "fraction_of_true": cnt / int(support[i]),
        }
        for cnt, i, j in cells[: max(0, int(top))]
    ]


def accuracy_report(
    label: np.ndarray,
    pred: np.ndarray,
    snr_db: np.ndarray | None,
    classes: Sequence[str],
    top_confused: int = 5,
) -> dict[str, Any]:
    """Accuracy overall / per SNR / per class, confusion counts and the most-confused pairs.

    ``label``, ``pred``: (N,) class indices into ``classes``; ``snr_db``: (N,) or None.
    The confusion matrix has true classes as rows, predictions as columns. Per-class
    ``accuracy`` is the recall of that class (None when it has no frames), ``precision`` the
    fraction of frames predicted as it that really are it (None when never predicted).
    ``most_confused``: the ``top_confused`` largest off-diagonal cells, largest first (ties
    by true then predicted index). No frames: ``accuracy`` is None, ``per_snr`` empty.
    """
    classes = [str(c) for c in classes]
    c = len(classes)
    label, pred, snr = _checked(label, pred, snr_db, c)
    confusion = np.bincount(label * c + pred, minlength=c * c).reshape(c, c)
    correct = int(np.trace(confusion))
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    per_class = {
        name: {
            "frames": int(support[i]),
            "correct": int(confusion[i, i]),
            "accuracy": _ratio(int(confusion[i, i]), int(support[i])),
            "precision": _ratio(int(confusion[i, i]), int(predicted[i])),
        }
        for i, name in enumerate(classes)
    }
    return {
        "num_frames": len(label),
        "correct": correct,
        "accuracy": _ratio(correct, len(label)),
        "classes": classes,
        "per_snr": _per_snr(label, pred, snr, classes),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "most_confused": _most_confused(confusion, classes, top_confused),
    }


DEFAULT_SNR_BANDS = "0,10,20"


def parse_snr_bands(text: str) -> tuple[float, ...]:
    """``"0,10,20"`` -> (0.0, 10.0, 20.0): the edges between SNR bands, strictly increasing."""
    try:
        edges = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        edges = ()
    if not edges or not all(map(math.isfinite, edges)) or list(edges) != sorted(set(edges)):
        raise AmrkitError(
            f"--snr-bands {text!r} is invalid; give increasing dB edges separated by commas, "
            f"e.g. {DEFAULT_SNR_BANDS} for < 0, 0-10, 10-20 and >= 20 dB"
        )
    return edges


def _band_name(lo: float | None, hi: float | None) -> str:
    if lo is None:
        return f"< {hi:g} dB"
    if hi is None:
        return f">= {lo:g} dB"
    return f"{lo:g} to < {hi:g} dB"


def snr_band_report(
    label: np.ndarray, pred: np.ndarray, snr_db: np.ndarray, edges: Sequence[float]
) -> list[dict[str, Any]]:
    """Accuracy per SNR band [edge_k, edge_k+1) (open below the first edge and from the last).

    ``label``, ``pred``, ``snr_db``: (N,). Frames of unknown SNR (NaN) are in no band; a band
    without frames has ``accuracy`` None.
    """
    label, pred, snr = np.asarray(label), np.asarray(pred), np.asarray(snr_db, dtype=np.float64)
    bounds = [None, *edges, None]
    rows = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        mask = ~np.isnan(snr)
        if lo is not None:
            mask &= snr >= lo
        if hi is not None:
            mask &= snr < hi
        frames, correct = int(mask.sum()), int((label[mask] == pred[mask]).sum())
        rows.append(
            {
                "band": _band_name(lo, hi),
                "min_db": lo,
                "max_db": hi,
                "frames": frames,
                "correct": correct,
                "accuracy": _ratio(correct, frames),
            }
        )
    return rows
