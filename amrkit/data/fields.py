"""Per-frame fields recorded in amrkit frame files: the synthesizer's draws, by name.

``amrkit generate`` stores each frame's randomized parameters next to its I/Q as datasets
of first axis N: ``channel/delay_spread``, ``channel/k_factor``, the signal-range draws,
``snr_db``, ... (:mod:`amrkit.data.native`). :func:`read_frame_field` reads one of them for
the frames of a :class:`FrameSet` (after its filters and subsets), so a metric can group
frames by it (``amrkit evaluate --by``). Other formats (RadioML, ``.npz``) record none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amrkit.data.frames import FrameSet, one_line
from amrkit.data.hdf5 import hdf5_dataset
from amrkit.errors import AmrkitError

_LIST = 8  # fields named in an error message


def per_frame_fields(f: object, n: int) -> list[str]:
    """Names of the numeric datasets of open ``h5py.File`` ``f`` with one value per frame:
    shape ``(n,)`` (``iq`` and per-frame arrays such as ``channel/taps`` excluded)."""
    import h5py

    names: list[str] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and obj.shape == (n,) and obj.dtype.kind in "biuf":
            names.append(name)

    f.visititems(visit)  # type: ignore[attr-defined]
    return sorted(names)


def field_key(name: str) -> str:
    """The dataset path of field ``name`` (``"/channel/k_factor"`` → ``"channel/k_factor"``)."""
    return name.strip().strip("/")


def _exists(f: object, key: str) -> bool:
    try:
        return bool(key) and f.get(key, getlink=True) is not None  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, RuntimeError):  # a path through a dataset
        return False


def read_frame_field(frames: FrameSet, name: str) -> np.ndarray:
    """Field ``name`` (e.g. ``"channel/delay_spread"``) of every frame of ``frames``, in the
    set's order: (len(frames),) in the file's dtype.

    One-line AmrkitError when ``frames`` is not an amrkit frame file, when the file has no
    such field (the message lists fields it has) or when the field is not one number per
    frame.
    """
    where = str(frames.source.get("path", "dataset"))
    fmt = frames.source.get("format")
    if fmt != "amrkit-frames":
        raise AmrkitError(
            f"--by {name!r}: {where!r} is a {fmt or 'in-memory'} dataset, which records no "
            "per-frame fields; only amrkit HDF5 files (amrkit generate) do: drop --by or "
            "evaluate on such a file"
        )
    import h5py

    key = field_key(name)
    try:
        f = h5py.File(Path(where), "r")
    except OSError as exc:
        raise AmrkitError(f"--by {name!r}: cannot reopen {where!r} ({one_line(exc)})") from None
    with f:
        n = int(f["iq"].shape[0])
        fields = per_frame_fields(f, n)
        example = fields[0] if fields else "snr_db"
        if not _exists(f, key):
            shown = ", ".join(fields[:_LIST]) + (", ..." if len(fields) > _LIST else "")
            raise AmrkitError(
                f"--by {name!r}: {where!r} has no such field; per-frame fields there: "
                f"{shown or 'none'}; give one of them (e.g. --by {example})"
            )
        try:
            dset = hdf5_dataset(f, key, where, f"give a per-frame field such as {example}")
        except AmrkitError as exc:  # a group, a link outside the file
            raise AmrkitError(f"--by {name!r}: {exc}") from None
        if dset.shape != (n,) or dset.dtype.kind not in "biuf":
            raise AmrkitError(
                f"--by {name!r}: {where!r} stores it as {dset.dtype} {tuple(dset.shape)}, not one "
                f"number per frame ({n},); give a scalar field such as "
                f"{', '.join(fields[:3]) or 'snr_db'}"
            )
        values = dset[...]  # (N,) whole column: small next to the I/Q
    return values[frames.rows]
