"""A restricted unpickler for data-only pickles (RadioML 2016 ``*_dict.pkl``).

A pickle is a program: loading one with :func:`pickle.load` can call any importable
function. RadioML 2016 files hold nothing but a dict of tuples, strings, ints and numpy
arrays, so :func:`safe_load` resolves only an exact allow-list of ``(module, name)``
globals: numpy's array / dtype / scalar reconstructors (under both ``numpy.core`` — numpy 1
and Python 2 files — and ``numpy._core`` — numpy 2) and ``_codecs.encode`` restricted to the
latin-1 form that Python 3's protocol-2 pickler uses for ``bytes``. Any other global
(``os.system``, ``builtins.eval``, ...) and any persistent id stop loading *before* the
object is resolved, so nothing outside the allow-list ever runs.

Python 2 ``str`` objects are decoded as latin-1, which is how numpy's ``ndarray.__setstate__``
expects raw array bytes from Python 2 pickles.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from amrkit.errors import AmrkitError


def _dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
    dt = np.dtype(obj, align=bool(align), copy=bool(copy))
    if dt.hasobject:
        raise pickle.UnpicklingError(f"dtype {dt} holds Python objects; only plain data is allowed")
    return dt


def _codecs_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(str, "latin1")
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only as encode(str, 'latin1')")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric

    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
        ("_codecs", "encode"): _codecs_encode,
    }
    for pkg in ("numpy.core", "numpy._core"):
        table[(f"{pkg}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{pkg}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{pkg}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(_allowed())


class ForbiddenPickle(AmrkitError):
    """The pickle asks for something outside the allow-list; nothing was executed."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, where: str) -> None:
        super().__init__(file, encoding="latin1", fix_imports=False)
        self._where = where
        self._table = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._table[(module, name)]
        except KeyError:
            raise ForbiddenPickle(
                f"{self._where!r} asks to load the global {module}.{name}, which a data-only "
                "pickle never needs; refused and nothing was executed. Only numpy arrays, dicts, "
                "tuples, strings and numbers are allowed; convert the file with trusted code if "
                "you know its origin"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise ForbiddenPickle(
            f"{self._where!r} contains a persistent id, which a data-only pickle never needs; "
            "refused and nothing was executed"
        )


def safe_loads(data: bytes, where: str = "<bytes>") -> Any:
    """Unpickle ``data`` allowing only plain data (see the module docstring)."""
    return _load(io.BytesIO(data), where)


class _Bounded:
    """A file for the unpickler that refuses reads past its end before allocating them: a
    pickle declaring a 2**40-byte string in a 1 KiB file fails at once, not in malloc."""

    def __init__(self, f: BinaryIO, size: int, where: str) -> None:
        self._f, self._size, self._where = f, size, where

    def read(self, n: int = -1) -> bytes:
        left = self._size - self._f.tell()
        if n is not None and n > left:
            raise pickle.UnpicklingError(
                f"the pickle asks for {n:,} bytes but {max(0, left):,} remain in the file"
            )
        return self._f.read(n)

    def readline(self) -> bytes:
        return self._f.readline()


def safe_load(path: str | Path) -> Any:
    """Unpickle the file at ``path`` allowing only plain data (see the module docstring)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return _load(_Bounded(f, os.fstat(f.fileno()).st_size, str(p)), str(p))
    except OSError as exc:
        raise AmrkitError(f"cannot read {str(p)!r} ({exc.strerror})") from None


def _load(f: BinaryIO, where: str) -> Any:
    try:
        return _RestrictedUnpickler(f, where).load()
    except ForbiddenPickle:
        raise
    except MemoryError:
        raise AmrkitError(
            f"{where!r} declares an object larger than this machine's memory; the file is "
            "damaged, or too large to unpickle here"
        ) from None
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt pickles raise many types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AmrkitError(
            f"{where!r} is not a readable data pickle ({type(exc).__name__}: {first}); "
            "is the file complete?"
        ) from None
