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

import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.data.frames import FrameSet
from amrkit.data.radioml import _wrap_normalized, fingerprint
from amrkit.errors import AmrkitError

REQUIRED = ("iq", "label")


def is_npz(path: str | Path) -> bool:
    """A zip archive with an ``iq.npy`` member."""
    try:
        with zipfile.ZipFile(path) as z:
            return "iq.npy" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _memmap_member(path: Path, z: zipfile.ZipFile, name: str) -> np.ndarray | None:
    """Memory-map an uncompressed ``.npy`` member; None when it must be loaded instead."""
    info = z.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with z.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:  # pragma: no cover - future npy versions
            return None
        header_len = member.tell()
    if fortran or dtype.hasobject:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
    sig, *_, name_len, extra_len = struct.unpack("<4s5H3L2H", local)
    if sig != b"PK\x03\x04":
        return None
    data_start = info.header_offset + 30 + name_len + extra_len + header_len
    if int(np.prod(shape)) == 0:
        return np.empty(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=data_start, shape=tuple(shape))


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
    except (zipfile.BadZipFile, OSError) as exc:
        raise AmrkitError(f"{where!r} is not a readable .npz ({exc}); is it complete?") from None
    with z:
        names = {n[:-4] for n in z.namelist() if n.endswith(".npy")}
        missing = [m for m in REQUIRED if m not in names]
        if missing:
            raise AmrkitError(
                f"{where!r} lacks member(s) {', '.join(missing)}; an amrkit .npz needs iq "
                "(N,2,L) or (N,L) complex and label (N,), optionally snr_db and classes"
            )
        try:
            iq = _memmap_member(p, z, "iq.npy")
        except (ValueError, OSError, struct.error) as exc:
            raise AmrkitError(f"{where!r}: member iq is damaged ({exc})") from None
    try:
        with np.load(p, allow_pickle=False) as npz:
            if iq is None:
                iq = npz["iq"]
            small = {
                k: npz[k] for k in ("label", "snr_db", "classes", "sample_rate_hz") if k in names
            }
    except ValueError as exc:
        msg = str(exc).splitlines()[0]
        raise AmrkitError(
            f"{where!r} holds a member amrkit will not load ({msg}); save plain arrays "
            "(no object dtype)"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
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
    if complex_iq and iq.ndim == 2:
        n, L = iq.shape
    elif (
        not complex_iq and iq.ndim == 3 and iq.shape[1] == 2 and np.issubdtype(iq.dtype, np.number)
    ):
        n, L = iq.shape[0], iq.shape[2]
    else:
        raise AmrkitError(
            f"{where!r}: iq is {iq.dtype} {iq.shape}; expected real (N, 2, L) or complex (N, L)"
        )
    label_raw = np.asarray(small["label"])
    if label_raw.shape != (n,):
        raise AmrkitError(f"{where!r}: label has shape {label_raw.shape}, expected ({n},)")
    file_classes = (
        tuple(str(c) for c in np.asarray(small["classes"]).reshape(-1))
        if "classes" in small
        else None
    )
    if file_classes is not None and class_names is not None and tuple(class_names) != file_classes:
        raise AmrkitError(
            f"{where!r} names its classes ({', '.join(file_classes)}); the classes file lists "
            f"{', '.join(class_names)}. Drop --classes-file (select with --classes)"
        )
    classes = file_classes or (tuple(class_names) if class_names is not None else None)
    if label_raw.dtype.kind in "US":
        text = label_raw.astype(str)
        if classes is None:
            classes = tuple(sorted(set(text.tolist())))
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(text.tolist()) - set(lookup))
        if unknown:
            raise AmrkitError(
                f"{where!r}: label(s) {', '.join(unknown[:5])} are not among the classes "
                f"{', '.join(classes)}"
            )
        label = np.array([lookup[t] for t in text.tolist()], dtype=np.int64)
    elif label_raw.dtype.kind in "iu":
        if classes is None:
            raise AmrkitError(
                f"{where!r} has integer labels but no class names; add a 'classes' member or "
                "pass --classes-file with a JSON list of names"
            )
        label = label_raw.astype(np.int64)
        if n and (label.min() < 0 or label.max() >= len(classes)):
            raise AmrkitError(
                f"{where!r}: labels span {label.min()}..{label.max()}, but there are "
                f"{len(classes)} classes (0..{len(classes) - 1})"
            )
    else:
        raise AmrkitError(f"{where!r}: label has dtype {label_raw.dtype}; use integers or strings")
    if len(set(classes)) != len(classes) or len(classes) < 1:
        raise AmrkitError(f"{where!r}: class names {list(classes)} must be distinct and non-empty")
    if "snr_db" in small:
        snr = np.asarray(small["snr_db"], dtype=np.float32).reshape(-1)
        if snr.shape != (n,):
            raise AmrkitError(f"{where!r}: snr_db has {snr.size} entries, expected {n}")
    else:
        snr = np.full(n, np.nan, dtype=np.float32)
    rate = None
    if "sample_rate_hz" in small:
        rate = float(np.asarray(small["sample_rate_hz"]).reshape(-1)[0])

    def reader(rows: np.ndarray) -> np.ndarray:
        block = np.asarray(iq[np.asarray(rows, dtype=np.int64)])
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
