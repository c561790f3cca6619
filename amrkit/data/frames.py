"""One dataset interface for every source: labels in memory, I/Q read on demand.

A :class:`FrameSet` is what ``train``, ``evaluate``, ``quantize`` and ``info`` consume,
whatever the file it came from (amrkit HDF5, RadioML, NumPy). Labels, SNRs and splits are
small and live in memory; the I/Q frames ``(N, 2, L)`` are read through a backend callable
in sorted, chunked reads so a 20 GB file never has to fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amrkit.data.split import SPLIT_NAMES, stratified_split
from amrkit.errors import AmrkitError

# reads rows (sorted, unique, int64 indices into the backing store) → (n, 2, L) float32
RowReader = Callable[[np.ndarray], np.ndarray]
NONFINITE_FIX = "repair the file, or pass --drop-nonfinite (train, evaluate) to skip such frames"


def one_line(value: object, limit: int = 120) -> str:
    """``value`` as text on one line, at most ``limit`` characters (for error messages)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def input_error(where: object, field: str, found: object, expected: str, fix: str) -> AmrkitError:
    """The one-line error of a bad input file: the file, the field, what was found, what was
    expected and the fix."""
    return AmrkitError(
        f"{str(where)!r}: {field}: found {one_line(found)}, expected {expected}; {fix}"
    )


def _frames_ok(iq: np.ndarray) -> np.ndarray:
    """(n,) bool: frames of ``iq`` (n, 2, L) whose samples are all finite."""
    return np.isfinite(iq).all(axis=tuple(range(1, iq.ndim)))


@dataclass
class FrameSet:
    """Frames of one dataset.

    ``rows`` maps this set's frame ``i`` to row ``rows[i]`` of the backing store, so subsets
    and filters are views that never copy I/Q.
    """

    classes: tuple[str, ...]
    frame_length: int
    label: np.ndarray  # (N,) int64, index into classes
    snr_db: np.ndarray  # (N,) float32; nan where unknown, inf for noiseless
    split: np.ndarray | None  # (N,) uint8: 0 train, 1 val, 2 test; None: file has no split
    reader: RowReader
    rows: np.ndarray  # (N,) int64
    sample_rate_hz: float | None = None
    samples_per_symbol: int | None = None
    snr_convention: str | None = None
    source: dict[str, Any] = field(default_factory=dict)  # path, format, config_hash, ...
    config: dict[str, Any] | None = None  # the generating config, when known
    close: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        n = len(self.rows)
        for name in ("label", "snr_db"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, expected {n}")
        if self.split is not None and len(self.split) != n:
            raise ValueError(f"split has {len(self.split)} entries, expected {n}")

    def __len__(self) -> int:
        return len(self.rows)

    def __enter__(self) -> FrameSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # ---- reading -------------------------------------------------------------------------
    def read(self, index: np.ndarray | Sequence[int] | slice | None = None) -> np.ndarray:
        """I/Q of the selected frames, in the order given: (n, 2, L) float32."""
        idx = self._index(index)
        if len(idx) == 0:
            return np.empty((0, 2, self.frame_length), dtype=np.float32)
        rows = self.rows[idx]
        order = np.argsort(rows, kind="stable")
        uniq, inverse = np.unique(rows[order], return_inverse=True)
        data = self._read_rows(uniq)  # (u, 2, L)
        # NaN/inf propagate through a float64 sum (float32 values cannot overflow it): one
        # cheap pass over what was read anyway, no boolean temporary for finite batches
        if not np.isfinite(np.add.reduce(data, axis=None, dtype=np.float64)):
            bad = uniq[~_frames_ok(data)]
            raise input_error(
                self.source.get("path", "dataset"),
                "iq",
                f"non-finite samples (NaN or inf, or beyond float32 range) in {len(bad)} of the "
                f"{len(uniq)} frames "
                f"read, the first at row {int(bad[0])}",
                "finite samples",
                NONFINITE_FIX,
            )
        out = np.empty((len(idx), 2, self.frame_length), dtype=np.float32)
        out[order] = data[inverse]
        return out

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        data = self.reader(rows)
        if data.shape != (len(rows), 2, self.frame_length):  # a reader bug or a lying file
            raise AmrkitError(
                f"{self.source.get('path', 'dataset')!r}: read {data.shape} for {len(rows)} "
                f"frames of {self.frame_length} samples; the file is inconsistent"
            )
        return data

    def nonfinite_positions(self, batch_size: int = 4096) -> np.ndarray:
        """Positions of the frames holding NaN or inf samples (one pass over the frames)."""
        bad = []
        for start in range(0, len(self), batch_size):
            pos = np.arange(start, min(len(self), start + batch_size), dtype=np.int64)
            rows = self.rows[pos]
            order = np.argsort(rows, kind="stable")
            uniq, inverse = np.unique(rows[order], return_inverse=True)
            ok = _frames_ok(self._read_rows(uniq))[inverse]  # (len(pos),) in sorted order
            bad.append(pos[order][~ok])
        return np.sort(np.concatenate(bad)) if bad else np.empty(0, np.int64)

    def check_values(self, batch_size: int = 4096) -> None:
        """Read every frame once; raises AmrkitError at the first non-finite one."""
        for _ in self.iter_batches(None, batch_size):
            pass

    def drop_nonfinite(self, batch_size: int = 4096) -> FrameSet:
        """This set without frames holding NaN or inf; ``source["dropped_nonfinite"]`` counts
        them (reported by the commands, recorded by runs)."""
        bad = self.nonfinite_positions(batch_size)
        keep = np.setdiff1d(np.arange(len(self), dtype=np.int64), bad, assume_unique=True)
        out = self.subset(keep)
        out.source = {**self.source, "dropped_nonfinite": int(len(bad))}
        return out

    def iter_batches(
        self, index: np.ndarray | None = None, batch_size: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(positions, iq)`` batches over ``index`` (all frames by default)."""
        idx = self._index(index)
        for start in range(0, len(idx), batch_size):
            part = idx[start : start + batch_size]
            yield part, self.read(part)

    def _index(self, index: Any) -> np.ndarray:
        if index is None:
            return np.arange(len(self), dtype=np.int64)
        if isinstance(index, slice):
            return np.arange(len(self), dtype=np.int64)[index]
        arr = np.asarray(index)
        if arr.dtype == bool:
            raise TypeError("FrameSet positions must be integers; use np.flatnonzero(mask)")
        return arr.astype(np.int64).reshape(-1)

    # ---- selection -----------------------------------------------------------------------
    def indices(self, split: str | int | None) -> np.ndarray:
        """Positions of the frames in ``split`` ("train", "val", "test", "all" or 0/1/2)."""
        if split is None or split == "all":
            return np.arange(len(self), dtype=np.int64)
        code = SPLIT_NAMES.get(split, split) if isinstance(split, str) else split
        if code not in (0, 1, 2):
            raise AmrkitError(f"split {split!r} is not one of train, val, test, all")
        if self.split is None:
            raise AmrkitError(
                f"{self.source.get('path', 'this dataset')!r} has no train/val/test split; "
                "derive one with with_derived_split(seed) or use --split all"
            )
        return np.flatnonzero(self.split == code)

    def subset(self, positions: np.ndarray) -> FrameSet:
        """A view on the frames at ``positions`` (same classes)."""
        pos = np.asarray(positions, dtype=np.int64)
        return _replace(
            self,
            label=self.label[pos],
            snr_db=self.snr_db[pos],
            split=None if self.split is None else self.split[pos],
            rows=self.rows[pos],
        )

    def filter(
        self,
        classes: Sequence[str] | None = None,
        snr_min: float | None = None,
        snr_max: float | None = None,
    ) -> FrameSet:
        """Keep the named classes (relabelled in the given order) and SNRs in [min, max]."""
        keep = np.ones(len(self), dtype=bool)
        if snr_min is not None:
            keep &= self.snr_db >= snr_min
        if snr_max is not None:
            keep &= self.snr_db <= snr_max
        out = self.subset(np.flatnonzero(keep))
        if classes is None:
            return out
        if len(set(classes)) != len(classes):
            raise AmrkitError(f"--classes {','.join(classes)} lists a class twice; list each once")
        unknown = [c for c in classes if c not in self.classes]
        if unknown:
            raise AmrkitError(
                f"class(es) {', '.join(unknown)} not in this dataset; "
                f"available: {', '.join(self.classes)}"
            )
        old_to_new = np.full(len(self.classes), -1, dtype=np.int64)
        for new, name in enumerate(classes):
            old_to_new[self.classes.index(name)] = new
        mapped = old_to_new[out.label]
        sel = np.flatnonzero(mapped >= 0)
        out = out.subset(sel)
        return _replace(out, classes=tuple(classes), label=mapped[sel])

    def with_derived_split(
        self, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    ) -> FrameSet:
        """A deterministic stratified split (for files that carry none)."""
        split = stratified_split(self.label, self.snr_db, fractions, np.random.default_rng(seed))
        out = _replace(self, split=split)
        out.source = {**self.source, "derived_split": {"seed": seed, "fractions": list(fractions)}}
        return out

    def identity(self) -> dict[str, Any]:
        """What a run records about its data: path, format, config hash, sizes."""
        return {
            **self.source,
            "num_frames": len(self),
            "classes": list(self.classes),
            "frame_length": self.frame_length,
        }


def _replace(fs: FrameSet, **changes: Any) -> FrameSet:
    fields = {k: getattr(fs, k) for k in fs.__dataclass_fields__}
    fields.update(changes)
    return FrameSet(**fields)


def array_frameset(
    iq: np.ndarray,
    label: np.ndarray,
    classes: Sequence[str],
    snr_db: np.ndarray | None = None,
    split: np.ndarray | None = None,
    **meta: Any,
) -> FrameSet:
    """A FrameSet over in-memory arrays (tests, NumPy files, synthetic batches)."""
    iq = np.ascontiguousarray(iq, dtype=np.float32)
    if iq.ndim != 3 or iq.shape[1] != 2:
        raise AmrkitError(f"iq must have shape (N, 2, L), got {iq.shape}")
    n = iq.shape[0]
    return FrameSet(
        classes=tuple(classes),
        frame_length=iq.shape[2],
        label=np.asarray(label, dtype=np.int64),
        snr_db=(
            np.full(n, np.nan, np.float32)
            if snr_db is None
            else np.asarray(snr_db, dtype=np.float32)
        ),
        split=None if split is None else np.asarray(split, dtype=np.uint8),
        reader=lambda rows: iq[rows],
        rows=np.arange(n, dtype=np.int64),
        **meta,
    )


def summarize(frames: FrameSet) -> dict[str, Any]:
    """What ``amrkit info`` shows: sizes, classes, SNRs, counts per split and class, config.

    ``counts`` maps "train"/"val"/"test"/"all" (only "all" without a split) to
    ``{class: frames}``; ``snr_db`` lists the distinct SNRs (``inf`` kept, NaN = unknown).
    """
    snr = np.asarray(frames.snr_db, dtype=np.float64)
    known = snr[~np.isnan(snr)]
    values = [float(v) for v in np.unique(known)]
    counts: dict[str, dict[str, int]] = {}
    names = [("train", 0), ("val", 1), ("test", 2)] if frames.split is not None else []
    per = np.bincount(frames.label, minlength=frames.num_classes)
    for name, code in names:
        sel = frames.label[frames.split == code]
        c = np.bincount(sel, minlength=frames.num_classes)
        counts[name] = {cls: int(c[i]) for i, cls in enumerate(frames.classes)}
    counts["all"] = {cls: int(per[i]) for i, cls in enumerate(frames.classes)}
    snr_text = format_snrs(values) if values else "unknown"
    if values and np.isnan(snr).any():
        snr_text += " (some unknown)"
    return {
        "path": frames.source.get("path"),
        "format": frames.source.get("format"),
        "num_frames": len(frames),
        "classes": list(frames.classes),
        "frame_length": frames.frame_length,
        "sample_rate_hz": frames.sample_rate_hz,
        "samples_per_symbol": frames.samples_per_symbol,
        "snr_convention": frames.snr_convention,
        "snr_db": values,
        "snr_text": snr_text,
        "split_derived": "derived_split" in frames.source,
        "counts": counts,
        "config_hash": frames.source.get("config_hash"),
        "config": frames.config,
    }


def format_snrs(snrs: Sequence[float]) -> str:
    """Compact text for an SNR list: ``-10:30:2`` for an even grid, else a comma list."""
    vals = [float(v) for v in snrs]
    if len(vals) >= 3 and all(np.isfinite(vals)):
        steps = np.diff(vals)
        if steps[0] != 0 and np.allclose(steps, steps[0]):
            return f"{vals[0]:g}:{vals[-1]:g}:{steps[0]:g}"
    return ",".join("inf" if np.isinf(v) else f"{v:g}" for v in vals)
