"""Open any supported dataset file as a :class:`FrameSet`, with the common filters.

Every command that reads data (``info``, ``train``, ``evaluate``, ``quantize``) calls
:func:`open_frames` with the same options: ``--format``, ``--classes``, ``--classes-file``,
``--snr-min``, ``--snr-max``. Files without a split get a deterministic stratified split
derived from ``split_seed``.

Formats (detected from the content; ``format=`` overrides):

=============== ================================================ ==========================
``amrkit``      amrkit HDF5 (attribute ``format="amrkit-frames"``) :mod:`amrkit.data.native`
``radioml2018`` HDF5 with ``X (N, L, 2)``, ``Y`` one-hot, ``Z`` SNR   :mod:`amrkit.data.radioml`
``radioml2016`` binary pickle ``{(mod, snr): (n, 2, L)}``           :mod:`amrkit.data.radioml`
``npz``         NumPy ``.npz`` with ``iq`` and ``label``             :mod:`amrkit.data.numpy_format`
=============== ================================================ ==========================

External frames are scaled on read to unit average power per frame, the convention of
amrkit's own frames (``normalize=False`` keeps the file's scale).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError

FORMATS = ("amrkit", "radioml2016", "radioml2018", "npz")
ALIASES = {
    "native": "amrkit",
    "amrkit-frames": "amrkit",
    "rml2016": "radioml2016",
    "radioml2016.10a": "radioml2016",
    "radioml2016.10b": "radioml2016",
    "rml2018": "radioml2018",
    "radioml2018.01a": "radioml2018",
    "numpy": "npz",
}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# frames whose float32 I/Q total at most this are checked for NaN/inf when the file is
# opened (so `info` and `train` fail before writing anything); larger selections are checked
# as their frames are read, without a second pass over a large file
CHECK_AT_OPEN_BYTES = 256 * 2**20
_CHECK_BATCH_BYTES = 2**18  # frames read at a time by those checks (bounded memory)


def parse_classes(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"BPSK,QPSK"`` → ("BPSK", "QPSK"); None stays None."""
    if text is None:
        return None
    items = [c.strip() for c in text.split(",")] if isinstance(text, str) else list(text)
    items = [c for c in items if c]
    if not items:
        raise AmrkitError("--classes is empty; give a comma list such as BPSK,QPSK")
    dupes = sorted({c for c in items if items.count(c) > 1})
    if dupes:
        raise AmrkitError(f"class(es) {', '.join(dupes)} listed twice in --classes; list each once")
    return tuple(items)


def load_classes_file(path: str | Path) -> tuple[str, ...]:
    """A JSON list of distinct class names (in label order), e.g. ``["OOK", "4ASK", ...]``."""
    p = Path(path)
    if not p.is_file():
        raise AmrkitError(f"--classes-file {str(p)!r} does not exist; give a JSON list of names")
    try:
        names = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AmrkitError(
            f'--classes-file {str(p)!r} is not JSON ({exc}); write a list like ["BPSK", "QPSK"]'
        ) from None
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise AmrkitError(
            f"--classes-file {str(p)!r} must hold a non-empty JSON list of names, "
            'e.g. ["BPSK", "QPSK"]'
        )
    names = [n.strip() for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise AmrkitError(
            f"--classes-file {str(p)!r} repeats {', '.join(dupes)}; names must be distinct"
        )
    return tuple(names)


def canonical_format(format: str) -> str:
    name = ALIASES.get(format.strip().lower(), format.strip().lower())
    if name not in FORMATS:
        raise AmrkitError(
            f"--format {format!r} is not one of {', '.join(FORMATS)}; omit it to detect the format"
        )
    return name


def detect_format(path: str | Path) -> str:
    """The dataset format of ``path`` from its content (magic bytes, HDF5 datasets)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise AmrkitError(f"cannot read dataset {str(p)!r} ({exc.strerror}); check it") from None
    if head == _HDF5_MAGIC or _is_hdf5(p):
        import h5py

        from amrkit.data.native import FORMAT, read_attr
        from amrkit.data.radioml import hdf5_open_error, is_radioml2018

        try:
            with h5py.File(p, "r") as f:
                if read_attr(f, "format") == FORMAT:
                    return "amrkit"
                if is_radioml2018(f):
                    return "radioml2018"
                found = sorted(f.keys())
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise hdf5_open_error(p, exc) from None
        raise AmrkitError(
            f"HDF5 file {str(p)!r} is neither an amrkit frame file nor RadioML 2018 "
            f"(datasets {found}; RadioML 2018 needs X, Y, Z)"
        )
    if head[:4] == b"PK\x03\x04":
        from amrkit.data.numpy_format import is_npz

        if is_npz(p):
            return "npz"
        raise AmrkitError(f"{str(p)!r} is a zip archive without iq.npy; not an amrkit .npz")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "radioml2016"
    raise AmrkitError(
        f"{str(p)!r} is not a recognised dataset file (looked for HDF5, .npz, binary pickle); "
        f"formats: {', '.join(FORMATS)}; give --format if detection is wrong"
    )


def _is_hdf5(p: Path) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(p))
    except OSError:
        return False


def open_frames(
    path: str | Path,
    format: str | None = None,
    classes: str | Sequence[str] | None = None,
    classes_file: str | Path | None = None,
    snr_min: float | None = None,
    snr_max: float | None = None,
    split_seed: int = 0,
    *,
    normalize: bool = True,
    drop_nonfinite: bool = False,
) -> FrameSet:
    """Open ``path`` (format detected from content unless given) and apply the filters.

    ``classes_file`` names the classes of files that do not (RadioML 2018, ``.npz`` without
    ``classes``); for files that do, it must list the same names in the same order.
    ``normalize`` scales external frames to unit average power per frame on read.

    Every reader checks metadata, dtypes, shapes, declared sizes and labels on open. Frames
    holding NaN or inf are an error (:data:`CHECK_AT_OPEN_BYTES`: checked here for small
    selections, as they are read for large ones) unless ``drop_nonfinite``, which skips
    them (one pass over the selected frames) and counts them in
    ``source["dropped_nonfinite"]``.
    """
    p = Path(path)
    if not p.exists():
        raise AmrkitError(f"dataset {str(p)!r} does not exist; check the path")
    if p.is_dir():
        raise AmrkitError(f"dataset {str(p)!r} is a folder; give a dataset file")
    fmt = canonical_format(format) if format is not None else detect_format(p)
    names = load_classes_file(classes_file) if classes_file is not None else None
    if fmt == "amrkit":
        from amrkit.data.native import open_native

        frames = open_native(p)
        if names is not None and names != frames.classes:
            frames.close()
            raise AmrkitError(
                f"{str(p)!r} names its classes itself ({', '.join(frames.classes)}); the classes "
                f"file lists {', '.join(names)}. Drop --classes-file (select with --classes)"
            )
    elif fmt == "radioml2016":
        from amrkit.data.radioml import open_radioml2016

        frames = open_radioml2016(p, names, normalize=normalize)
    elif fmt == "radioml2018":
        from amrkit.data.radioml import open_radioml2018

        frames = open_radioml2018(p, names, normalize=normalize)
    else:
        from amrkit.data.numpy_format import open_npz

        frames = open_npz(p, names, normalize=normalize)
    try:
        # derive the split on the whole file, before filtering: a frame's split then depends
        # only on the file and the seed, so `train --snr-min 0` and a later unfiltered
        # `evaluate` with the same seed never put a training frame in the test set
        if frames.split is None:
            frames = frames.with_derived_split(split_seed)
        wanted = parse_classes(classes)
        if wanted is not None or snr_min is not None or snr_max is not None:
            frames = frames.filter(wanted, snr_min, snr_max)
        if len(frames) == 0:
            raise AmrkitError(f"no frames left in {str(p)!r} after filtering; relax the filters")
        batch = max(1, _CHECK_BATCH_BYTES // (8 * frames.frame_length))
        if drop_nonfinite:
            frames = frames.drop_nonfinite(batch)
            if len(frames) == 0:
                raise AmrkitError(
                    f"every selected frame of {str(p)!r} holds NaN or inf samples; "
                    "nothing is left to use"
                )
        elif len(frames) * 8 * frames.frame_length <= CHECK_AT_OPEN_BYTES:
            frames.check_values(batch)
    except BaseException:
        frames.close()
        raise
    return frames
