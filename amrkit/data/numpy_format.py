"""Plain NumPy datasets (``format="npz"``): an ``.npz`` made with ``np.savez``.

Members:

- ``iq``      ``(N, 2, L)`` real (float or int) or ``(N, L)`` complex
- ``label``   ``(N,)`` integers indexing ``classes`` — or strings (the class names)
- ``snr_db``  optional ``(N,)`` numbers (NaN where unknown)
- ``classes`` optional ``(C,)`` strings; otherwise ``--classes-file`` (JSON list), or, with
  string labels, the sorted distinct labels
- ``sample_rate_hz`` optional scalar

``iq`` saved uncompressed (``np.savez``) is memory-mapped and read on demand; a compressed
member (``np.savez_compressed``) has to be loaded whole. Pickled (object) members are
refused. Frames are normalized on read to unit average power (``normalize=False`` keeps the
file's scale).
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.data.frames import FrameSet, input_error
from amrkit.data.radioml import _wrap_normalized, fingerprint
from amrkit.errors import AmrkitError

REQUIRED = ("iq", "label")
_FIX = "save the arrays again with np.savez (see amrkit.data.numpy_format)"


def is_npz(path: str | Path) -> bool:
    """A zip archive with an ``iq.npy`` member."""
    try:
        with zipfile.ZipFile(path) as z:
            return "iq.npy" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _member_header(
    path: Path, z: zipfile.ZipFile, name: str
) -> tuple[zipfile.ZipInfo, tuple[int, ...], bool, np.dtype, int]:
    """(zip entry, shape, fortran, dtype, header length) of ``.npy`` member ``name``, after
    checking that the member stores exactly the bytes its header declares (never trust a
    declared shape: a header may claim 10^12 elements in a 1 KiB file)."""
    where, field = str(path), name[:-4]
    info = z.getinfo(name)
    try:
        with z.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            header_len = member.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise input_error(where, field, f"a damaged .npy member ({exc})",
                          "a NumPy array saved with np.savez", _FIX) from None  # fmt: skip
    if dtype.hasobject:
        raise input_error(
            where,
            field,
            f"dtype {dtype} (Python objects, i.e. a pickle)",
            "plain numbers or strings",
            "save plain arrays (no object dtype)",
        )
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    ratio_ok = info.compress_type == zipfile.ZIP_STORED or info.file_size <= (
        1100 * info.compress_size + 2**20
    )  # deflate expands at most ~1032:1
    if header_len + declared != info.file_size or not ratio_ok:
        raise input_error(
            where,
            field,
            f"shape {shape} {dtype} ({declared:,} bytes) in a member of "
            f"{info.file_size - header_len:,} data bytes",
            "the bytes its header declares",
            "the file is damaged or truncated; save it again",
        )
    if info.header_offset + info.compress_size > path.stat().st_size:
        raise input_error(
            where,
            field,
            "a member that ends beyond the end of the file",
            "a complete .npz",
            "the file is truncated; copy it again",
        )
    return info, tuple(shape), fortran, dtype, header_len


def _memmap_member(path: Path, z: zipfile.ZipFile, name: str) -> np.ndarray | None:
    """Memory-map an uncompressed ``.npy`` member; None when it must be loaded instead."""
    info, shape, fortran, dtype, header_len = _member_header(path, z, name)
    if info.compress_type != zipfile.ZIP_STORED or fortran:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    if len(local) < 30:
        return None
    sig, *_, name_len, extra_len = struct.unpack("<4s5H3L2H", local)
    if sig != b"PK\x03\x04":
        return None
    data_start = info.header_offset + 30 + name_len + extra_len + header_len
    if int(np.prod(shape)) == 0:
        return np.empty(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=data_start, shape=shape)


def _iq_shape(where: str, iq: np.ndarray) -> tuple[int, int]:
    """(N, L) of ``iq``: real (N, 2, L) or complex (N, L), L >= 1."""
    kind = iq.dtype.kind
    if kind == "c" and iq.ndim == 2 and iq.shape[1] >= 1:
        return int(iq.shape[0]), int(iq.shape[1])
    if kind in "iuf" and iq.ndim == 3 and iq.shape[1] == 2 and iq.shape[2] >= 1:
        return int(iq.shape[0]), int(iq.shape[2])
    hint = (
        "store it as (N, 2, L): transpose the last two axes"
        if kind in "iuf" and iq.ndim == 3 and iq.shape[2] == 2
        else _FIX
    )
    raise input_error(
        where,
        "iq",
        f"{iq.dtype} {iq.shape}",
        "real numbers (N, 2, L) or complex (N, L), L >= 1",
        hint,
    )


def _labels(
    where: str, small: dict[str, np.ndarray], n: int, class_names: Sequence[str] | None
) -> tuple[tuple[str, ...], np.ndarray]:
    """(classes, label (n,) int64) from the label and classes members (or the classes file)."""
    label_raw = np.asarray(small["label"])
    if label_raw.shape != (n,):
        raise input_error(
            where, "label", f"shape {label_raw.shape}", f"({n},), one per frame", _FIX
        )
    file_classes = None
    if "classes" in small:
        raw = np.asarray(small["classes"])
        if raw.dtype.kind not in "US":
            raise input_error(
                where, "classes", f"{raw.dtype} {raw.shape}", "strings (the class names)", _FIX
            )
        file_classes = tuple(_text(where, "classes", raw.reshape(-1)))
    if file_classes is not None and class_names is not None and tuple(class_names) != file_classes:
        raise AmrkitError(
            f"{where!r} names its classes ({', '.join(file_classes)}); the classes file lists "
            f"{', '.join(class_names)}. Drop --classes-file (select with --classes)"
        )
    classes = file_classes or (tuple(class_names) if class_names is not None else None)
    if label_raw.dtype.kind in "US":
        text = _text(where, "label", label_raw)
        if classes is None:
            classes = tuple(sorted(set(text)))
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(text) - set(lookup))
        if unknown:
            raise input_error(
                where,
                "label",
                f"{', '.join(unknown[:5])}",
                f"one of the classes {', '.join(classes)}",
                _FIX,
            )
        label = np.array([lookup[t] for t in text], dtype=np.int64)
    elif label_raw.dtype.kind in "iu":
        if classes is None:
            raise AmrkitError(
                f"{where!r} has integer labels but no class names; add a 'classes' member or "
                "pass --classes-file with a JSON list of names"
            )
        label = label_raw.astype(np.int64)
        if n and (label.min() < 0 or label.max() >= len(classes)):
            bad = int(np.flatnonzero((label < 0) | (label >= len(classes)))[0])
            raise input_error(
                where,
                "label",
                f"{label[bad]} at row {bad}",
                f"0..{len(classes) - 1} (indices into {len(classes)} classes)",
                _FIX,
            )
    else:
        raise input_error(where, "label", f"dtype {label_raw.dtype}", "integers or strings", _FIX)
    if len(classes) < 1 or len(set(classes)) != len(classes) or not all(c.strip() for c in classes):
        raise input_error(
            where, "classes", list(classes)[:8], "distinct, non-empty class names", _FIX
        )
    return tuple(classes), label


def _text(where: str, field: str, raw: np.ndarray) -> list[str]:
    try:
        return raw.astype(str).tolist()
    except UnicodeDecodeError:
        raise input_error(where, field, "bytes that are not text", "strings", _FIX) from None


def open_npz(
    path: str | Path,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
) -> FrameSet:
    """Open an ``.npz`` dataset (see the module docstring for its members)."""
    p = Path(path)
    where = str(p)
    try:
        z = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise AmrkitError(f"{where!r} is not a readable .npz ({exc}); is it complete?") from None
    with z:
        names = {n[:-4] for n in z.namelist() if n.endswith(".npy")}
        missing = [m for m in REQUIRED if m not in names]
        if missing:
            raise AmrkitError(
                f"{where!r} lacks member(s) {', '.join(missing)}; an amrkit .npz needs iq "
                "(N,2,L) or (N,L) complex and label (N,), optionally snr_db and classes"
            )
        wanted = [k for k in ("label", "snr_db", "classes", "sample_rate_hz") if k in names]
        for key in wanted:
            _member_header(p, z, f"{key}.npy")
        try:
            iq = _memmap_member(p, z, "iq.npy")
        except (ValueError, OSError, struct.error) as exc:
            raise AmrkitError(f"{where!r}: member iq is damaged ({exc})") from None
    try:
        with np.load(p, allow_pickle=False) as npz:
            if iq is None:
                iq = npz["iq"]
            small = {k: npz[k] for k in wanted}
    except ValueError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AmrkitError(
            f"{where!r} holds a member amrkit will not load ({msg}); save plain arrays "
            "(no object dtype)"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise AmrkitError(f"{where!r} is a damaged .npz ({exc})") from None
    return _frameset(p, iq, small, class_names, normalize)


def _frameset(
    p: Path,
    iq: np.ndarray,
    small: dict[str, np.ndarray],
    class_names: Sequence[str] | None,
    normalize: bool,
) -> FrameSet:
    where = str(p)
    complex_iq = np.iscomplexobj(iq)
    n, L = _iq_shape(where, iq)
    classes, label = _labels(where, small, n, class_names)
    snr = np.full(n, np.nan, dtype=np.float32)
    if "snr_db" in small:
        raw = np.asarray(small["snr_db"])
        if raw.dtype.kind not in "iuf" or raw.size != n:
            raise input_error(
                where,
                "snr_db",
                f"{raw.dtype} {raw.shape}",
                f"{n} numbers (dB; NaN where unknown)",
                _FIX,
            )
        snr = raw.astype(np.float32).reshape(n)
    rate = None
    if "sample_rate_hz" in small:
        raw = np.asarray(small["sample_rate_hz"])
        ok = raw.dtype.kind in "iuf" and raw.size == 1
        rate = float(raw.reshape(-1)[0]) if ok else None
        if rate is None or not (math.isfinite(rate) and rate > 0):
            raise input_error(
                where,
                "sample_rate_hz",
                f"{raw.dtype} {raw.reshape(-1)[:3]}",
                "one positive number of Hz",
                _FIX,
            )

    def reader(rows: np.ndarray) -> np.ndarray:
        block = np.asarray(iq[np.asarray(rows, dtype=np.int64)])
        with np.errstate(over="ignore"):  # beyond float32 range: inf, reported by FrameSet.read
            if complex_iq:  # (n, L) complex → (n, 2, L)
                return np.stack([block.real, block.imag], axis=1).astype(np.float32)
            return block.astype(np.float32)

    source: dict[str, Any] = {
        "path": where,
        "format": "npz",
        "normalized": bool(normalize),
        "fingerprint": fingerprint(p),
    }
    return FrameSet(
        classes=tuple(classes),
        frame_length=int(L),
        label=label,
        snr_db=snr,
        split=None,
        reader=_wrap_normalized(reader, normalize),
        rows=np.arange(n, dtype=np.int64),
        sample_rate_hz=rate,
        source=source,
    )
