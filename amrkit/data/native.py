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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from amrkit.data.frames import FrameSet
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
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def _attr(f: h5py.File, key: str, default: Any = None) -> Any:
    value = f.attrs.get(key, default)
    if isinstance(value, bytes):
        value = value.decode()
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


def open_native(path: str | Path) -> FrameSet:
    """Open an amrkit HDF5 file; I/Q stays on disk until read."""
    p = Path(path)
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise AmrkitError(
            f"cannot open {str(p)!r} as HDF5 ({exc}); is it a complete file?"
        ) from None
    if _attr(f, "format") != FORMAT:
        f.close()
        raise AmrkitError(
            f"{str(p)!r} is not an amrkit frame file (attribute format != {FORMAT!r})"
        )
    version = _attr(f, "format_version")
    if version != FORMAT_VERSION:
        f.close()
        raise AmrkitError(
            f"{str(p)!r} has format_version {version}; this amrkit reads {FORMAT_VERSION}"
        )
    try:
        classes = tuple(json.loads(_attr(f, "classes")))
        iq = f["iq"]
        config_text = _attr(f, "config")
        config = json.loads(config_text) if config_text else None
        n = iq.shape[0]
        fs = FrameSet(
            classes=classes,
            frame_length=int(iq.shape[2]),
            label=f["label"][...].astype(np.int64),
            snr_db=f["snr_db"][...].astype(np.float32),
            split=f["split"][...].astype(np.uint8) if "split" in f else None,
            reader=lambda rows: read_rows(iq, rows),
            rows=np.arange(n, dtype=np.int64),
            sample_rate_hz=_attr(f, "sample_rate_hz"),
            samples_per_symbol=_attr(f, "samples_per_symbol"),
            snr_convention=_attr(f, "snr_convention"),
            source={
                "path": str(p),
                "format": FORMAT,
                "config_hash": hashlib.sha256((config_text or "").encode()).hexdigest()[:16],
            },
            config=config,
            close=f.close,
        )
    except (KeyError, ValueError, OSError) as exc:
        f.close()
        raise AmrkitError(f"{str(p)!r} is a damaged amrkit frame file ({exc})") from None
    return fs
