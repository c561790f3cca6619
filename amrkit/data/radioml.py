"""DeepSig RadioML files as :class:`FrameSet`: 2016.10a/10b pickles and the 2018.01a HDF5.

RadioML 2016.10a / 10b (``RML2016.10a_dict.pkl``, ``format="radioml2016"``)
    A Python 2 pickle of ``{(modulation, snr_db): float32 array (n, 2, 128)}``. It is read
    with :mod:`amrkit.data.safe_pickle` (an allow-list unpickler: nothing but arrays,
    dtypes, dicts, tuples, strings and numbers). Classes are the modulation names, sorted;
    the whole file is in memory (a pickle cannot be read lazily), but the arrays are not
    copied: frames are gathered from them on read.

RadioML 2018.01a (``GOLD_XYZ_OSC.0001_1024.hdf5``, ``format="radioml2018"``)
    ``X`` float32 ``(N, L, 2)``, ``Y`` one-hot ``(N, C)``, ``Z`` SNR ``(N, 1)``. ``X`` stays
    on disk and is read in chunks (transposed to ``(n, 2, L)``); the labels are the argmax of
    ``Y``, read in chunks too. The file does not name its classes. For ``C = 24`` amrkit uses
    :data:`RML2018_CLASSES`, the order that matches the one-hot columns (established by the
    community; the ``classes.txt`` shipped with the dataset lists the names in a different
    order that does *not* match the labels, so it is not used). Subsets with other class
    counts need ``--classes-file`` (a JSON list, one name per column of ``Y``).

Both are normalized on read to unit average power per frame, like amrkit's own frames
(``normalize=False`` keeps the file's scale).
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.data.frames import FrameSet, input_error
from amrkit.data.hdf5 import hdf5_dataset, hdf5_open_error
from amrkit.data.recording import normalize_power
from amrkit.errors import AmrkitError

RML2018_CLASSES: tuple[str, ...] = (
    "OOK",
    "4ASK",
    "8ASK",
    "BPSK",
    "QPSK",
    "8PSK",
    "16PSK",
    "32PSK",
    "16APSK",
    "32APSK",
    "64APSK",
    "128APSK",
    "16QAM",
    "32QAM",
    "64QAM",
    "128QAM",
    "256QAM",
    "AM-SSB-WC",
    "AM-SSB-SC",
    "AM-DSB-WC",
    "AM-DSB-SC",
    "FM",
    "GMSK",
    "OQPSK",
)
_LABEL_CHUNK = 1 << 16  # rows of Y read at once
_GATHER = 4096  # scattered rows per HDF5 point selection


def fingerprint(path: Path, edge: int = 1 << 20) -> str:
    """A cheap content id for run records: size + first and last MiB, SHA-256, 16 hex."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(edge))
        if size > edge:
            f.seek(max(edge, size - edge))
            h.update(f.read(edge))
    return h.hexdigest()[:16]


def _wrap_normalized(reader: Any, normalize: bool) -> Any:
    if not normalize:
        return reader
    return lambda rows: normalize_power(reader(rows))


# ---- RadioML 2016 -----------------------------------------------------------------------
def is_pickle(path: str | Path) -> bool:
    """A binary pickle (protocol 2-5) by its first two bytes."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _rml2016_entries(data: dict, where: str) -> tuple[list[tuple[str, float, Any]], int]:
    """(modulation, snr, frames (n, 2, L)) of each dict entry, checked; and L."""
    entries = []
    frame_length = None
    for key, value in data.items():
        ok_key = (
            isinstance(key, tuple)
            and len(key) == 2
            and isinstance(key[0], (str, bytes))
            and isinstance(key[1], numbers.Real)
        )
        if not ok_key:
            raise AmrkitError(
                f"{where!r} has key {key!r}; RadioML 2016 keys are (modulation, snr) tuples"
            )
        if not (
            isinstance(value, np.ndarray)
            and value.ndim == 3
            and value.shape[1] == 2
            and np.issubdtype(value.dtype, np.number)
            and not np.issubdtype(value.dtype, np.complexfloating)
        ):
            desc = (
                f"{value.dtype} {value.shape}"
                if isinstance(value, np.ndarray)
                else type(value).__name__
            )
            raise input_error(
                where,
                f"entry {key!r}",
                desc,
                "a real array (n, 2, L) of frames",
                "is it a RadioML 2016 file? (transpose (n, L, 2) entries)",
            )
        mod = key[0].decode("latin1") if isinstance(key[0], bytes) else key[0]
        if not mod.strip() or value.shape[2] < 1:
            raise input_error(
                where,
                f"entry {key!r}",
                f"modulation {mod!r}, frames {value.shape}",
                "a non-empty modulation name and frames of >= 1 sample",
                "is it a RadioML 2016 file?",
            )
        if frame_length is None:
            frame_length = value.shape[2]
        elif value.shape[2] != frame_length:
            raise AmrkitError(
                f"{where!r}: entry {key!r} has frames of {value.shape[2]} samples, others "
                f"{frame_length}; all frames must have one length"
            )
        entries.append((mod, float(key[1]), value))
    return entries, int(frame_length)


def open_radioml2016(
    path: str | Path,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
) -> FrameSet:
    """Open a RadioML 2016.10a/10b pickle; ``class_names``, if given, must match the file's."""
    from amrkit.data.safe_pickle import safe_load

    p = Path(path)
    where = str(p)
    data = safe_load(p)
    if not isinstance(data, dict) or not data:
        raise AmrkitError(
            f"{where!r} holds a {type(data).__name__}, not the RadioML 2016 dict "
            "{(modulation, snr): array (n, 2, L)}; is it a RadioML 2016 file?"
        )
    entries, frame_length = _rml2016_entries(data, where)
    entries.sort(key=lambda e: (e[0], e[1]))
    classes = tuple(sorted({e[0] for e in entries}))
    if class_names is not None and tuple(class_names) != classes:
        raise AmrkitError(
            f"{where!r} names its classes itself ({', '.join(classes)}); the classes file lists "
            f"{', '.join(class_names)}. Drop --classes-file (select with --classes)"
        )
    arrays = [e[2] for e in entries]
    sizes = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])  # (k+1,)
    label = np.repeat(np.array([classes.index(e[0]) for e in entries], dtype=np.int64), sizes)
    snr = np.repeat(np.array([e[1] for e in entries], dtype=np.float32), sizes)
    L = int(frame_length)

    def reader(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), 2, L), dtype=np.float32)
        which = np.searchsorted(offsets, rows, side="right") - 1  # (n,) entry of each row
        with np.errstate(over="ignore"):  # beyond float32: inf, reported by FrameSet.read
            for k in np.unique(which):
                sel = np.flatnonzero(which == k)
                out[sel] = arrays[k][rows[sel] - offsets[k]]
        return out

    return FrameSet(
        classes=classes,
        frame_length=L,
        label=label,
        snr_db=snr,
        split=None,
        reader=_wrap_normalized(reader, normalize),
        rows=np.arange(int(offsets[-1]), dtype=np.int64),
        snr_convention="radioml",
        source={
            "path": where,
            "format": "radioml2016",
            "normalized": bool(normalize),
            "fingerprint": fingerprint(p),
        },
    )


# ---- RadioML 2018 -----------------------------------------------------------------------
def read_sparse_rows(dset: Any, rows: np.ndarray, min_run: int = 8) -> np.ndarray:
    """Rows (sorted, unique) of an HDF5 dataset, reading only those rows.

    Consecutive runs of at least ``min_run`` rows are read as one slice; scattered rows are
    gathered with one point selection per ``_GATHER`` rows. Unlike reading whole spans, a
    random training batch over a 20 GB file then costs its own size in I/O, not the span's.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), *dset.shape[1:]), dtype=dset.dtype)
    if len(rows) == 0:
        return out
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    bounds = np.concatenate([[0], breaks, [len(rows)]])  # runs rows[bounds[k]:bounds[k+1]]
    scattered = []
    for i, j in zip(bounds[:-1], bounds[1:], strict=True):
        if j - i >= min_run:
            dset.read_direct(out, np.s_[rows[i] : rows[j - 1] + 1], np.s_[i:j])
        else:
            scattered.extend(range(i, j))
    pos = np.asarray(scattered, dtype=np.int64)
    for k in range(0, len(pos), _GATHER):
        part = pos[k : k + _GATHER]
        out[part] = dset[rows[part]]
    return out


def is_radioml2018(f: Any) -> bool:
    """An open h5py.File with X / Y / Z entries, RadioML 2018's names. Links are not
    followed (an external one would open another file); opening checks what they are."""
    return all(f.get(name, getlink=True) is not None for name in ("X", "Y", "Z"))


def open_radioml2018(
    path: str | Path,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
) -> FrameSet:
    """Open a RadioML 2018.01a-layout HDF5 file lazily (any N, any number of classes)."""
    import h5py

    p = Path(path)
    where = str(p)
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise hdf5_open_error(p, exc) from None
    try:
        fs = _radioml2018(f, p, class_names, normalize)
    except AmrkitError:
        f.close()
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        f.close()
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AmrkitError(f"{where!r} is a damaged RadioML 2018 file ({first})") from None
    return fs


_FIX2018 = "is it a RadioML 2018 file? (X (N, L, 2) float32, Y one-hot (N, C), Z (N, 1))"


def _check_2018_layout(X: Any, Y: Any, Z: Any, where: str) -> None:
    """Shapes and dtypes of RadioML 2018's X (N, L, 2), Y one-hot (N, C), Z (N, 1)."""
    if X.ndim != 3 or X.shape[2] != 2 or X.shape[1] < 1:
        hint = (
            "it looks like (N, 2, L): amrkit's own layout, not RadioML 2018's; transpose it "
            "or save it as .npz with iq"
            if X.ndim == 3 and X.shape[1] == 2
            else _FIX2018
        )
        raise input_error(where, "X shape", tuple(X.shape), "(N, L, 2) with L >= 1", hint)
    if X.dtype.kind != "f":
        raise input_error(
            where, "X dtype", X.dtype, "floating point (float32)", "convert X to float32"
        )
    for dset, kinds in ((Y, "biuf"), (Z, "iuf")):
        if dset.dtype.kind not in kinds:
            raise input_error(
                where, f"{dset.name.lstrip('/')} dtype", dset.dtype, "numbers", _FIX2018
            )
    n = int(X.shape[0])
    if Y.ndim != 2 or Y.shape[0] != n or Y.shape[1] < 1:
        raise AmrkitError(f"{where!r}: Y has shape {Y.shape}, expected one-hot (N={n}, classes)")
    if Z.shape not in ((n,), (n, 1)):
        raise AmrkitError(f"{where!r}: Z has shape {Z.shape}, expected SNRs (N={n}, 1)")


def _classes_2018(
    num_classes: int, class_names: Sequence[str] | None, where: str
) -> tuple[str, ...]:
    """The names of Y's columns: RadioML 2018's 24, or the classes file's."""
    if class_names is None:
        if num_classes != len(RML2018_CLASSES):
            raise AmrkitError(
                f"{where!r} has {num_classes} classes (columns of Y) and does not name them; "
                f"pass --classes-file with a JSON list of {num_classes} names"
            )
        return RML2018_CLASSES
    classes = tuple(class_names)
    if len(classes) != num_classes:
        raise AmrkitError(
            f"the classes file lists {len(classes)} classes but {where!r} has "
            f"{num_classes} (columns of Y); give one name per column, in column order"
        )
    return classes


def _labels_2018(Y: Any, n: int, where: str) -> np.ndarray:
    """(n,) int64 class indices of the one-hot rows of Y, read in chunks."""
    label = np.empty(n, dtype=np.int64)
    for start in range(0, n, _LABEL_CHUNK):
        y = Y[start : start + _LABEL_CHUNK]  # (c, C)
        hot = (y > 0).sum(axis=1) == 1  # (c,)
        if not (hot.all() and np.isfinite(y).all()):
            bad = int(np.flatnonzero(~(hot & np.isfinite(y).all(axis=1)))[0])
            raise input_error(
                where,
                "Y",
                f"row {start + bad} = {y[bad][:8].tolist()}",
                "one-hot rows (one positive entry each, all finite)",
                _FIX2018,
            )
        label[start : start + len(y)] = np.argmax(y, axis=1)
    return label


def _radioml2018(f: Any, p: Path, class_names: Sequence[str] | None, normalize: bool) -> FrameSet:
    where = str(p)
    if not is_radioml2018(f):
        raise AmrkitError(
            f"{where!r} has datasets {sorted(f.keys())}; RadioML 2018 needs X, Y and Z"
        )
    X, Y, Z = (hdf5_dataset(f, name, where, _FIX2018) for name in ("X", "Y", "Z"))
    _check_2018_layout(X, Y, Z, where)
    n, L = int(X.shape[0]), int(X.shape[1])
    classes = _classes_2018(int(Y.shape[1]), class_names, where)
    label = _labels_2018(Y, n, where)
    snr = np.asarray(Z[...], dtype=np.float32).reshape(n)

    def reader(rows: np.ndarray) -> np.ndarray:
        try:
            block = read_sparse_rows(X, rows)  # (n, L, 2)
        except (OSError, ValueError, RuntimeError) as exc:
            first = (str(exc).splitlines() or ["read error"])[0]
            raise AmrkitError(
                f"cannot read frames from {where!r} ({first}); is it complete?"
            ) from None
        with np.errstate(over="ignore"):  # beyond float32: inf, reported by FrameSet.read
            return np.ascontiguousarray(block.transpose(0, 2, 1), dtype=np.float32)  # (n, 2, L)

    return FrameSet(
        classes=classes,
        frame_length=L,
        label=label,
        snr_db=snr,
        split=None,
        reader=_wrap_normalized(reader, normalize),
        rows=np.arange(n, dtype=np.int64),
        snr_convention="radioml",
        source={
            "path": where,
            "format": "radioml2018",
            "normalized": bool(normalize),
            "fingerprint": fingerprint(p),
        },
        close=f.close,
    )
