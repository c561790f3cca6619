"""Accuracy grouped by a per-frame value (a recorded synthesis draw): pure NumPy.

``amrkit evaluate --by channel/delay_spread --bins 0,1,2,3,4,5`` reports, per bin of the
frames' values, how many frames fall in it and the top-1 accuracy there. Bins are
``[lo, hi)`` except the last, ``[lo, hi]``; values outside the edges (and NaN) are in no
bin and are counted in ``outside``. Without edges every distinct value is its own row
(``lo == hi``), for at most :data:`MAX_DISTINCT` values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

MAX_DISTINCT = 20  # rows without --bins
EXAMPLE_BINS = "0,1,2,3,4,5"


def parse_bin_edges(text: str) -> tuple[float, ...]:
    """``"0,1,2"`` -> (0.0, 1.0, 2.0): at least two finite, strictly increasing edges."""
    try:
        edges = tuple(float(t) for t in text.split(","))
    except ValueError:
        edges = ()
    check_edges(edges, text)
    return edges


def check_edges(edges: Sequence[float], text: str | None = None) -> None:
    """AmrkitError unless ``edges`` are at least two finite, strictly increasing numbers."""
    shown = text if text is not None else ",".join(f"{e:g}" for e in edges)
    ok = len(edges) >= 2 and all(math.isfinite(e) for e in edges)
    if not ok or any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=False)):
        raise AmrkitError(
            f"--bins {shown!r} is invalid; give at least two strictly increasing numbers "
            f"separated by commas, e.g. {EXAMPLE_BINS} for [0, 1), [1, 2), ..., [4, 5]"
        )


def _plain(value: np.generic) -> float | int:
    """A value of the field as a JSON number, as it was stored (float32 0.35 → 0.35)."""
    if value.dtype.kind in "biu":
        return int(value)
    return float(str(value))  # the shortest text that round-trips in the stored dtype


def field_bins(
    values: np.ndarray, edges: Sequence[float] | None = None, field: str = "the field"
) -> list[tuple[float, float]]:
    """The rows ``(lo, hi)`` of :func:`accuracy_by`: consecutive edges, or each distinct
    non-NaN value of ``values`` (N,) as ``(v, v)`` when ``edges`` is None.

    Raises AmrkitError for bad edges, or for more than :data:`MAX_DISTINCT` distinct values
    without edges (so the check can run before a long evaluation).
    """
    if edges is not None:
        check_edges(edges)
        return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=False)]
    v = np.asarray(values).reshape(-1)
    known = v[~np.isnan(v)] if v.dtype.kind == "f" else v
    distinct = np.unique(known)
    if len(distinct) > MAX_DISTINCT:
        lo, hi = _plain(distinct[0]), _plain(distinct[-1])
        raise AmrkitError(
            f"--by {field}: {len(distinct)} distinct values ({lo:g} .. {hi:g}), more than "
            f"{MAX_DISTINCT} rows; give bin edges, e.g. --bins {_edges_hint(lo, hi)}"
        )
    return [(_plain(x), _plain(x)) for x in distinct]


def _edges_hint(lo: float, hi: float) -> str:
    """Five equal bins covering [lo, hi] (widened to whole numbers for a span >= 1), as text."""
    if hi - lo >= 1:
        lo, hi = math.floor(lo), math.ceil(hi)
    edges = np.linspace(lo, hi, 6)
    return ",".join(f"{e:.3g}" for e in edges)


def bin_index(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """(N,) int64: bin of each value, ``[e_k, e_k+1)`` (the last ``[e_-2, e_-1]``), -1 for a
    value outside the edges or NaN.

    Float values are compared in their own dtype (edges rounded to it), so a float32 0.7
    stored by the synthesizer is in the bin that starts at edge 0.7.
    """
    v = np.asarray(values).reshape(-1)
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    e = np.asarray(edges, dtype=v.dtype)
    idx = np.searchsorted(e, v, side="right") - 1  # e[idx] <= v < e[idx + 1]
    idx[v == e[-1]] = len(e) - 2  # the last bin is closed
    idx[(idx < 0) | (idx >= len(e) - 1) | np.isnan(v)] = -1
    return idx.astype(np.int64)


def accuracy_by(
    values: np.ndarray,
    label: np.ndarray,
    pred: np.ndarray,
    edges: Sequence[float] | None = None,
    field: str = "value",
) -> dict[str, Any]:
    """Frames and top-1 accuracy per bin of ``values``.

    ``values``, ``label``, ``pred``: (N,) (one value, true and predicted class per frame);
    ``edges``: bin edges (:func:`field_bins`), None for one row per distinct value.
    Returns ``{"field", "frames" (N), "outside", "bins": [{"lo", "hi", "frames", "correct",
    "accuracy_pct"}]}``; ``accuracy_pct`` is None for a bin without frames. The bins'
    frames add up to N - outside.
    """
    v = np.asarray(values).reshape(-1)
    label, pred = np.asarray(label).reshape(-1), np.asarray(pred).reshape(-1)
    if not len(v) == len(label) == len(pred):
        raise AmrkitError(
            f"{len(v)} values, {len(label)} labels and {len(pred)} predictions; they must "
            "match one to one"
        )
    if v.dtype.kind not in "biuf":
        raise AmrkitError(f"--by {field}: values of dtype {v.dtype} are not numbers")
    rows = field_bins(v, edges, field)
    hit = label == pred
    if edges is not None:
        idx = bin_index(v, edges)
    else:  # exact match on the stored values, in their own dtype
        idx = np.full(len(v), -1, np.int64)
        for k, (x, _) in enumerate(rows):
            idx[v == np.asarray(x, dtype=v.dtype)] = k
    frames = np.bincount(idx[idx >= 0], minlength=len(rows))
    correct = np.bincount(idx[(idx >= 0) & hit], minlength=len(rows))
    bins = [
        {
            "lo": lo,
            "hi": hi,
            "frames": int(frames[k]),
            "correct": int(correct[k]),
            "accuracy_pct": 100 * int(correct[k]) / int(frames[k]) if frames[k] else None,
        }
        for k, (lo, hi) in enumerate(rows)
    ]
    return {
        "field": field,
        "frames": len(v),
        "outside": int((idx < 0).sum()),
        "bins": bins,
    }


def bin_name(row: dict[str, Any], last: bool) -> str:
    """``[0, 1)``, the last bin ``[4, 5]``, a distinct value ``0.35``."""
    lo, hi = row["lo"], row["hi"]
    if lo == hi:
        return f"{lo:g}"
    return f"[{lo:g}, {hi:g}{']' if last else ')'}"
