"""SNR lists: the ``--snr`` grammar, parsed once, and the check of a list of values.

``parse_snrs`` turns text (``"30"``, ``"0,10,20"``, ``"-10:30:2"``, ``"inf"``, a mix) into a
tuple of dB values; ``check_snrs`` validates values that are already numbers (a config's
``snrs``) without going through text again. Both give the same tuple for the same values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from amrkit.errors import AmrkitError

MAX_RANGE_VALUES = 10_000


def _snr_value(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AmrkitError(
            f"SNR {text!r} in {whole!r} is not a number; use e.g. 30, 0,10,20, -10:30:2 or inf"
        ) from None
    return _allowed(value, text, whole)


def _allowed(value: float, text: str, whole: str) -> float:
    """``value`` as a float with −0.0 folded to 0.0; NaN and −inf are errors."""
    if math.isnan(value) or value == -math.inf:
        raise AmrkitError(f"SNR {text!r} in {whole!r} is not allowed; use a finite dB value or inf")
    return value + 0.0


def _expand_range(part: str, whole: str) -> list[float]:
    """``start:stop:step``, inclusive of ``stop`` when it lies on the grid."""
    fields = part.split(":")
    if len(fields) != 3:
        raise AmrkitError(f"SNR range {part!r} must be start:stop:step (inclusive), e.g. -10:30:2")
    start, stop, step = (_snr_value(f.strip(), whole) for f in fields)
    if not all(math.isfinite(v) for v in (start, stop, step)) or step == 0:
        raise AmrkitError(
            f"SNR range {part!r} needs finite start, stop and a non-zero step, e.g. -10:30:2"
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count < 1:
        raise AmrkitError(
            f"SNR range {part!r} is empty (step {step:g} never reaches {stop:g} from "
            f"{start:g}); swap start and stop or flip the step's sign"
        )
    if count > MAX_RANGE_VALUES:
        raise AmrkitError(
            f"SNR range {part!r} has {count} values; at most {MAX_RANGE_VALUES} allowed"
        )
    return [round(start + k * step, 9) + 0.0 for k in range(count)]


def _unique(values: list[float], whole: str) -> tuple[float, ...]:
    seen: set[float] = set()
    for v in values:
        if v in seen:
            raise AmrkitError(f"SNR {v:g} is listed twice in {whole!r}; list each SNR once")
        seen.add(v)
    return tuple(values)


def check_snrs(values: Sequence[float]) -> tuple[float, ...]:
    """Numbers (dB, ``inf`` allowed) → a tuple of floats; NaN, −inf and duplicates are errors."""
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        raise AmrkitError(f"SNR list {values!r} must hold numbers (dB) or inf") from None
    whole = ",".join(map(repr, floats))
    return _unique([_allowed(v, repr(v), whole) for v in floats], whole)


def parse_snrs(text: str | float | Sequence[float]) -> tuple[float, ...]:
    """``"30"``, ``"0,10,20"``, ``"-10:30:2"`` (inclusive), ``"inf"`` or a mix → SNRs in dB.

    Ranges ``start:stop:step`` include ``stop`` when it lies on the grid. Duplicates, empty
    ranges, NaN and −inf are errors. Numbers (one or a sequence) are checked, not re-parsed.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return check_snrs([text])
    if not isinstance(text, str):
        return check_snrs(text)
    values: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise AmrkitError(f"SNR list {text!r} has an empty item; use e.g. 0,10,20")
        if ":" in part:
            values.extend(_expand_range(part, text))
        else:
            values.append(_snr_value(part, text))
    return _unique(values, text)
