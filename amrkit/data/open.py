"""Open any supported dataset file as a :class:`FrameSet`, with the common filters.

Every command that reads data (``info``, ``train``, ``evaluate``, ``quantize``) calls
:func:`open_frames` with the same options: ``--format``, ``--classes``, ``--classes-file``,
``--snr-min``, ``--snr-max``. Files without a split get a deterministic stratified split
derived from ``split_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from amrkit.data.frames import FrameSet
from amrkit.data.native import is_native, open_native
from amrkit.errors import AmrkitError

FORMATS = ("amrkit",)


def parse_classes(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"BPSK,QPSK"`` → ("BPSK", "QPSK"); None stays None."""
    if text is None:
        return None
    items = [c.strip() for c in text.split(",")] if isinstance(text, str) else list(text)
    items = [c for c in items if c]
    if not items:
        raise AmrkitError("--classes is empty; give a comma list such as BPSK,QPSK")
    return tuple(items)


def open_frames(
    path: str | Path,
    format: str | None = None,
    classes: str | Sequence[str] | None = None,
    classes_file: str | Path | None = None,
    snr_min: float | None = None,
    snr_max: float | None = None,
    split_seed: int = 0,
) -> FrameSet:
    """Open ``path`` (format detected from content unless given) and apply the filters."""
    p = Path(path)
    if not p.exists():
        raise AmrkitError(f"dataset {str(p)!r} does not exist; check the path")
    if format not in (None, *FORMATS):
        raise AmrkitError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    if classes_file is not None:
        raise AmrkitError("--classes-file is only used by external formats (RadioML)")
    if format == "amrkit" or (format is None and is_native(p)):
        frames = open_native(p)
    else:
        raise AmrkitError(
            f"{str(p)!r} is not a recognised dataset file; formats: {', '.join(FORMATS)}"
        )
    wanted = parse_classes(classes)
    if wanted is not None or snr_min is not None or snr_max is not None:
        frames = frames.filter(wanted, snr_min, snr_max)
    if frames.split is None:
        frames = frames.with_derived_split(split_seed)
    if len(frames) == 0:
        raise AmrkitError(f"no frames left in {str(p)!r} after filtering; relax the filters")
    return frames
