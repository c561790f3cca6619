"""Write-then-rename helpers: no reader ever sees a half-written artifact."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError


def check_writable(path: str | Path, create: bool = True) -> Path:
    """Resolve ``path`` and make sure its folder exists (created if needed) and is writable.

    ``create=False`` creates nothing: the nearest existing folder above ``path`` must be a
    writable folder (a check before long work whose output is written later).
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not create:
        existing = next(a for a in (parent, *parent.absolute().parents) if a.exists())
        if not existing.is_dir():
            raise AmrkitError(
                f"cannot create folder {str(parent)!r} for {str(p)!r}: {str(existing)!r} is a "
                "file; choose a writable location"
            )
        parent = existing
    else:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AmrkitError(
                f"cannot create folder {str(parent)!r} for {str(p)!r} ({exc.strerror}); "
                "choose a writable location"
            ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AmrkitError(f"folder {str(parent)!r} is not writable; choose a writable location")
    if p.is_dir():
        raise AmrkitError(f"{str(p)!r} is a folder; give a file path")
    return p


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` only on success."""
    target = check_writable(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent or "."
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():  # mkstemp makes 0600; give the artifact normal permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_safe(value: Any) -> Any:
    """Replace non-finite floats by the strings "inf", "-inf", "nan" (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return json_safe(value.tolist())
        if isinstance(value, np.floating):
            return json_safe(float(value))
        if isinstance(value, np.integer):
            return int(value)
    except ImportError:  # pragma: no cover
        pass
    return value


def dumps_json(data: Any) -> str:
    return json.dumps(json_safe(data), indent=2, sort_keys=False, default=_json_default) + "\n"


def write_json(path: str | Path, data: Any) -> Path:
    """Write strict JSON atomically (non-finite floats become strings)."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(dumps_json(data))
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise AmrkitError(f"{str(p)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise AmrkitError(
            f"{str(p)!r} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
