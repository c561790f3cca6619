"""The amrkit HDF5 frame format (``format="amrkit-frames"``, version 1): write and read.

Layout (see docs/data.md, "File format"):

- ``iq``     float32 (N, 2, L), each frame at unit average power
- ``label``  int16 (N,), index into the ``classes`` attribute
- ``snr_db`` float32 (N,), nominal SNR (``inf`` allowed)
- ``split``  uint8 (N,), 0 train / 1 validation / 2 test
- ``channel/<name>`` optional per-frame channel draws, first axis N; ``amrkit generate``
  writes ``offset`` (int16), and with ``--channel full`` also ``ppm``, ``freq_offset_hz``
  (float32) and ``path_gain`` (float32 (N, paths, 2): re, im at the frame's first sample)
- attrs: ``format``, ``format_version``, ``classes`` (JSON list), ``sample_rate_hz``,
  ``samples_per_symbol``, ``snr_convention``, ``config`` (JSON).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from amrkit.data.frames import FrameSet, input_error, one_line
from amrkit.data.hdf5 import hdf5_dataset, hdf5_open_error
from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path

FORMAT = "amrkit-frames"
FORMAT_VERSION = 1
_CHUNK_BYTES = 32 * 2**20  # contiguous read size


class FrameWriter:
    """Write N frames in batches to a temporary file; rename over ``path`` on ``commit``.

    Use as a context manager: leaving the block without an exception commits; an exception
    removes the temporary file, so no half-written dataset is ever visible.
    """

    def __init__(
        self,
        path: str | Path,
        num_frames: int,
        frame_length: int,
        classes: Sequence[str],
        attrs: Mapping[str, Any],
        extras: Mapping[str, tuple[np.dtype | str, tuple[int, ...]]] | None = None,
    ) -> None:
        self.path = Path(path)
        self.num_frames = int(num_frames)
        self.frame_length = int(frame_length)
        self._ctx = atomic_path(self.path, suffix=".h5")
        self._tmp = self._ctx.__enter__()
        self._file = h5py.File(self._tmp, "w")
        f = self._file
        chunk = (max(1, min(self.num_frames, 256)), 2, self.frame_length)
        f.create_dataset("iq", (self.num_frames, 2, self.frame_length), np.float32, chunks=chunk)
        f.create_dataset("label", (self.num_frames,), np.int16)
        f.create_dataset("snr_db", (self.num_frames,), np.float32)
        f.create_dataset("split", (self.num_frames,), np.uint8)
        for name, (dtype, shape) in (extras or {}).items():
            f.create_dataset(f"channel/{name}", (self.num_frames, *shape), dtype)
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["classes"] = json.dumps(list(classes))
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value

    def write(self, start: int, iq: np.ndarray, **columns: np.ndarray) -> None:
        """Frames ``start .. start+len(iq)``; ``columns``: label, snr_db, split, channel extras."""
        stop = start + len(iq)
        self._file["iq"][start:stop] = iq
        for name, values in columns.items():
            key = name if name in ("label", "snr_db", "split") else f"channel/{name}"
            self._file[key][start:stop] = values

    def set_column(self, name: str, values: np.ndarray) -> None:
        self._file[name][...] = values

    def commit(self) -> Path:
        self._file.close()
        self._ctx.__exit__(None, None, None)
        return self.path

    def abort(self, exc: BaseException | None = None) -> None:
        self._file.close()
        # atomic_path removes the temp file and re-raises; we only want the clean-up
        with contextlib.suppress(BaseException):
            self._ctx.__exit__(type(exc) if exc else RuntimeError, exc, None)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort(exc)


def is_native(path: str | Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return read_attr(f, "format") == FORMAT
    except (OSError, AmrkitError):
        return False


def read_attr(f: h5py.File, key: str, default: Any = None) -> Any:
    """File attribute ``key`` as a plain Python value (text decoded); one-line AmrkitError
    when it cannot be decoded."""
    try:
        value = f.attrs.get(key, default)
    except (OSError, TypeError, ValueError) as exc:  # an attribute HDF5 cannot decode
        raise input_error(
            f.filename,
            f"attribute {key}",
            f"unreadable ({exc})",
            "a plain value",
            "regenerate the file with amrkit generate",
        ) from None
    if isinstance(value, np.void):  # opaque bytes
        value = value.tobytes()
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            raise input_error(
                f.filename,
                f"attribute {key}",
                "bytes that are not UTF-8",
                "text",
                "regenerate the file with amrkit generate",
            ) from None
    if isinstance(value, np.generic):
        value = value.item()
    return value


def read_rows(dset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """Rows (sorted, unique) of a dataset, read as few large contiguous slices."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), *dset.shape[1:]), dtype=dset.dtype)
    if len(rows) == 0:
        return out
    row_bytes = int(np.prod(dset.shape[1:])) * dset.dtype.itemsize
    span = max(1, _CHUNK_BYTES // max(1, row_bytes))
    i = 0
    while i < len(rows):
        lo = rows[i]
        j = int(np.searchsorted(rows, lo + span, side="left"))  # rows[i:j] within [lo, lo+span)
        hi = rows[j - 1] + 1
        if j - i == hi - lo:  # dense run: read straight into place
            dset.read_direct(out, np.s_[lo:hi], np.s_[i:j])
        else:
            block = dset[lo:hi]
            out[i:j] = block[rows[i:j] - lo]
        i = j
    return out


_FIX = "regenerate the file with amrkit generate (or repair it)"


def open_native(path: str | Path) -> FrameSet:
    """Open an amrkit HDF5 file; I/Q stays on disk until read.

    Everything but the samples is checked here (attributes, dtypes, shapes, declared sizes,
    labels and splits); samples are checked for NaN/inf as they are read (FrameSet.read).
    """
    p = Path(path)
    where = str(p)
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise hdf5_open_error(p, exc) from None
    try:
        return _open(f, p)
    except AmrkitError:
        f.close()
        raise
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as exc:
        f.close()
        raise AmrkitError(f"{where!r} is a damaged amrkit frame file ({one_line(exc)})") from None


def _open(f: h5py.File, p: Path) -> FrameSet:
    where = str(p)
    attrs = _check_attrs(f, where)
    iq = hdf5_dataset(f, "iq", where, _FIX)
    if iq.dtype != np.float32:
        raise input_error(
            where,
            "iq dtype",
            iq.dtype,
            "float32 (amrkit-frames v1)",
            "convert iq to float32 or regenerate the file",
        )
    if iq.ndim != 3 or iq.shape[1] != 2 or iq.shape[2] < 1:
        hint = (
            "store it as (N, 2, L): transpose the last two axes"
            if iq.ndim == 3 and iq.shape[2] == 2
            else _FIX
        )
        raise input_error(where, "iq shape", tuple(iq.shape), "(N, 2, L) with L >= 1", hint)
    n = int(iq.shape[0])
    columns = {}
    for name, kinds, what in (
        ("label", "iu", "integers"), ("snr_db", "fiu", "numbers"), ("split", "iu", "integers")
    ):  # fmt: skip
        if name == "split" and name not in f:
            continue
        dset = hdf5_dataset(f, name, where, _FIX)
        if dset.dtype.kind not in kinds or dset.shape != (n,):
            raise input_error(
                where,
                name,
                f"{dset.dtype} {tuple(dset.shape)}",
                f"{what} of shape ({n},), one per frame of iq",
                _FIX,
            )
        columns[name] = dset[...]
    label = columns["label"].astype(np.int64)
    classes = attrs["classes"]
    if n and (label.min() < 0 or label.max() >= len(classes)):
        bad = int(np.flatnonzero((label < 0) | (label >= len(classes)))[0])
        raise input_error(
            where,
            "label",
            f"{label[bad]} at row {bad}",
            f"0..{len(classes) - 1} (indices into the {len(classes)} classes)",
            _FIX,
        )
    split = columns.get("split")
    if split is not None and n and split.max(initial=0) > 2:
        bad = int(np.flatnonzero(split > 2)[0])
        raise input_error(
            where, "split", f"{split[bad]} at row {bad}", "0 (train), 1 (val) or 2 (test)", _FIX
        )
    config_text = attrs["config_text"]
    return FrameSet(
        classes=classes,
        frame_length=int(iq.shape[2]),
        label=label,
        snr_db=columns["snr_db"].astype(np.float32),
        split=None if split is None else split.astype(np.uint8),
        reader=_row_reader(iq, where),
        rows=np.arange(n, dtype=np.int64),
        sample_rate_hz=attrs["sample_rate_hz"],
        samples_per_symbol=attrs["samples_per_symbol"],
        snr_convention=attrs["snr_convention"],
        source={
            "path": where,
            "format": FORMAT,
            "config_hash": hashlib.sha256((config_text or "").encode()).hexdigest()[:16],
        },
        config=attrs["config"],
        close=f.close,
    )


def _row_reader(iq: h5py.Dataset, where: str) -> Any:
    def reader(rows: np.ndarray) -> np.ndarray:
        try:
            return read_rows(iq, rows)
        except (OSError, ValueError, RuntimeError) as exc:
            raise AmrkitError(
                f"{where!r}: iq: cannot read frames ({one_line(exc)}); the file is damaged or "
                "truncated, copy or generate it again"
            ) from None

    return reader


def _check_attrs(f: h5py.File, where: str) -> dict[str, Any]:
    """The file attributes, each checked for presence and type."""
    fmt = read_attr(f, "format")
    if fmt != FORMAT:
        raise input_error(
            where,
            "attribute format",
            repr(fmt),
            repr(FORMAT),
            "this is not an amrkit frame file; give --format for another format",
        )
    version = read_attr(f, "format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise input_error(
            where,
            "attribute format_version",
            repr(version),
            str(FORMAT_VERSION),
            "this amrkit reads version 1 files; regenerate the file",
        )
    classes = _json_attr(f, "classes", where, required=True)
    if (
        not isinstance(classes, list)
        or not classes
        or not all(isinstance(c, str) and c.strip() for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise input_error(
            where,
            "attribute classes",
            repr(classes),
            'a JSON list of distinct class names, e.g. ["BPSK", "QPSK"]',
            _FIX,
        )
    config = _json_attr(f, "config", where, required=False)
    if config is not None and not isinstance(config, dict):
        raise input_error(where, "attribute config", type(config).__name__, "a JSON object", _FIX)
    out: dict[str, Any] = {"classes": tuple(classes), "config": config}
    out["config_text"] = read_attr(f, "config")
    for key, ok, expected in (
        ("sample_rate_hz", _positive_number, "a positive number of Hz"),
        ("samples_per_symbol", _positive_int, "a positive integer"),
        ("snr_convention", lambda v: isinstance(v, str), "text such as 'measured'"),
    ):  # fmt: skip
        value = read_attr(f, key)
        if value is not None and not ok(value):
            raise input_error(where, f"attribute {key}", repr(value), expected, _FIX)
        out[key] = value
    return out


def _positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _json_attr(f: h5py.File, key: str, where: str, required: bool) -> Any:
    text = read_attr(f, key)
    if text is None:
        if required:
            raise input_error(
                where,
                f"attribute {key}",
                "nothing (missing)",
                'a JSON list such as ["BPSK", "QPSK"]',
                _FIX,
            )
        return None
    if not isinstance(text, str):
        raise input_error(
            where, f"attribute {key}", f"{type(text).__name__} {text!r}", "JSON text", _FIX
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise input_error(
            where, f"attribute {key}", f"text that is not JSON ({exc.msg})", "JSON text", _FIX
        ) from None
