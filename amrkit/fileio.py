"""Write-then-rename helpers: no reader ever sees a half-written artifact."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import sys
import tempfile
import time
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


def staging_folder(target: str | Path, suffix: str = ".tmp") -> Path:
    """A new empty folder beside ``target`` (same file system), to be renamed onto it when
    complete; the parent is created. One-line error if it cannot be written."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=suffix, dir=parent))
    except OSError as exc:
        raise AmrkitError(
            f"cannot write {str(target)!r} ({exc.strerror}); choose a writable folder"
        ) from None


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


# ---- one writer per output folder ---------------------------------------------------------
LOCK_SUFFIX = ".amrkit.lock"


def lock_path(folder: str | Path) -> Path:
    """The lock of output folder ``folder``: ``.<name>.amrkit.lock`` beside it (inside, it
    would make a new folder non-empty). Symlinks and ``..`` are resolved first, so two
    spellings of one folder share one lock."""
    real = Path(os.path.realpath(folder))
    return real.parent / f".{real.name}{LOCK_SUFFIX}"


def _lock_owner(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing folders above ``folder`` (deepest last); returns the created ones."""
    missing = [a for a in folder.parents if not a.exists()][::-1]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AmrkitError(
            f"cannot create folder {str(folder.parent)!r} ({exc.strerror}); choose a writable "
            "location"
        ) from None
    return missing


def _acquire(lock: Path, folder: Path, option: str) -> int:
    for _ in range(8):  # retried only while another process releases (unlinks) the lock
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AmrkitError(
                f"{option} {str(folder)!r}: cannot create the lock {str(lock)!r} "
                f"({exc.strerror}); choose a writable location"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: name the owner
            owner = _lock_owner(fd)
            os.close(fd)
            raise AmrkitError(
                f"{option} {str(folder)!r} is being written by another amrkit process (pid "
                f"{owner.get('pid', '?')} on {owner.get('host', '?')}, since "
                f"{owner.get('started', '?')}; lock {str(lock)!r}); wait for it to finish or "
                "choose another folder"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file its previous owner unlinked while we waited for it
            return fd
        os.close(fd)
    raise AmrkitError(f"{option} {str(folder)!r}: could not take the lock {str(lock)!r}; retry")


@contextlib.contextmanager
def output_lock(folder: str | Path, option: str = "--out") -> Iterator[Path]:
    """Hold the lock of output folder ``folder`` for the block: one writer at a time.

    The lock file (:func:`lock_path`) records the owner's pid, host, start time and command
    line; a second process gets a one-line AmrkitError naming that pid. The lock is an
    ``flock`` on the file, which the kernel drops when its owner dies (even by SIGKILL), so a
    lock file left by a dead process is stale and simply taken over. Folders created above
    ``folder`` for the lock are removed again if they are still empty on exit.
    """
    folder = Path(folder)
    lock = lock_path(folder)
    created = _make_parents(lock.parent / "x")
    fd = _acquire(lock, folder, option)
    try:
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        yield lock
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # before unlocking: a waiter that opened this inode retries
        os.close(fd)
        for d in reversed(created):
            with contextlib.suppress(OSError):
                d.rmdir()  # only if empty
