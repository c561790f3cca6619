"""The zoo's index (``index.json``), the ``zoo:`` names, and the SHA-256 check of every file.

``index.json``::

    {"schema": "amrkit-zoo/1",
     "entries": {"optimized": {"files": {"run/model.pt": {"sha256": "…", "bytes": 210123}, …},
                               "spec": …, "classes": […], "frame_length": 1024,
                               "recipe": {…}, "metrics": {…}, "commands": {…},
                               "report_group": "paper" | "beyond" | null, …}}}

The index is the root of trust: every file an entry holds is listed there with its SHA-256
and size, and :func:`verify` compares them before any of the entry's files is used.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError
from amrkit.fileio import output_lock, read_json, staging_folder, write_json

PREFIX = "zoo:"
SCHEMA = "amrkit-zoo/1"
INDEX_FILE = "index.json"
ENV_DIR = "AMRKIT_ZOO_DIR"  # another zoo folder than the shipped one
RUN_DIR = "run"
INT8_FILE = "model_int8.onnx"
QUANT_FILE = "quantization.json"
CARD_FILE = "card.json"
# what each variant of a name opens: zoo:NAME (= zoo:NAME:fp32) the run, zoo:NAME:int8 the file
VARIANTS = {"fp32": RUN_DIR, "int8": INT8_FILE}
REQUIRED = (f"{RUN_DIR}/run.json", f"{RUN_DIR}/model.pt", INT8_FILE, QUANT_FILE, CARD_FILE)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,47}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FIX = "restore it (git checkout, or reinstall amrkit); 'amrkit zoo verify' checks every entry"


@dataclass(frozen=True)
class Entry:
    """One entry of the zoo: its folder and its index record."""

    name: str
    path: Path  # the entry's folder
    record: dict[str, Any]  # its index.json record

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.record["files"]

    def file(self, variant: str = "fp32") -> Path:
        """The run folder (``fp32``) or the INT8 ONNX file (``int8``); not verified."""
        return self.path / VARIANTS[variant]

    @property
    def ref(self) -> str:
        return f"{PREFIX}{self.name}"


def root() -> Path:
    """The zoo folder: ``$AMRKIT_ZOO_DIR`` when set, else this package's folder."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(__file__).resolve().parent


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AmrkitError(
            f"zoo entry name {name!r} is not allowed; use up to 48 letters, digits, '_' or '-', "
            "starting with a letter (e.g. optimized)"
        )
    return name


def _safe_rel(rel: Any, where: str) -> str:
    parts = rel.split("/") if isinstance(rel, str) else []
    if not parts or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise AmrkitError(f"{where}: file {rel!r} is not a relative path inside its entry")
    return rel


def _check_record(name: str, record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        raise AmrkitError(f"{where}: entry {name!r} has no 'files' table; reinstall amrkit")
    for rel, meta in record["files"].items():
        _safe_rel(rel, where)
        ok = isinstance(meta, dict) and isinstance(meta.get("sha256"), str)
        if not ok or not _SHA.match(meta["sha256"]) or not isinstance(meta.get("bytes"), int):
            raise AmrkitError(
                f"{where}: entry {name!r} lists {rel!r} without a SHA-256 and size; "
                "reinstall amrkit"
            )
    missing = [r for r in REQUIRED if r not in record["files"]]
    if missing:
        raise AmrkitError(f"{where}: entry {name!r} lacks {', '.join(missing)}; reinstall amrkit")
    return record


def read_index(folder: str | Path | None = None) -> dict[str, Any]:
    """``index.json`` of the zoo at ``folder`` (default :func:`root`), checked; a zoo
    without one is empty."""
    path = Path(folder if folder is not None else root()) / INDEX_FILE
    if not path.is_file():
        return {"schema": SCHEMA, "entries": {}}
    index = read_json(path)
    where = str(path)
    if not isinstance(index, dict) or index.get("schema") != SCHEMA:
        found = index.get("schema") if isinstance(index, dict) else type(index).__name__
        raise AmrkitError(
            f"{where!r}: schema {found!r} is not {SCHEMA!r}; use the amrkit that wrote it or "
            "reinstall amrkit"
        )
    if not isinstance(index.get("entries"), dict):
        raise AmrkitError(f"{where!r} has no 'entries' table; reinstall amrkit")
    for name, record in index["entries"].items():
        check_name(name)
        _check_record(name, record, where)
    return index


def names(folder: str | Path | None = None) -> list[str]:
    return sorted(read_index(folder)["entries"])


def entries(folder: str | Path | None = None) -> list[Entry]:
    base = Path(folder if folder is not None else root())
    index = read_index(base)
    return [Entry(n, base / n, index["entries"][n]) for n in sorted(index["entries"])]


def _unknown(name: str, base: Path, known: list[str]) -> AmrkitError:
    if not known:
        return AmrkitError(
            f"unknown zoo entry {name!r}: the zoo at {str(base)!r} holds no entry yet; build one "
            "with 'amrkit zoo add' or give a trained run folder or .onnx file"
        )
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
    return AmrkitError(
        f"unknown zoo entry {name!r}{hint}; entries: {', '.join(known)} ('amrkit zoo list')"
    )


def entry(name: str, folder: str | Path | None = None) -> Entry:
    """The index record of entry ``name`` (files not checked: :func:`verify` does)."""
    base = Path(folder if folder is not None else root())
    index = read_index(base)
    if name not in index["entries"]:
        raise _unknown(name, base, sorted(index["entries"]))
    return Entry(name, base / name, index["entries"][name])


def parse_ref(text: Any) -> tuple[str, str] | None:
    """``zoo:NAME`` → (NAME, "fp32"), ``zoo:NAME:int8`` → (NAME, "int8"); anything not
    starting with ``zoo:`` → None. A malformed ``zoo:`` name is an error."""
    s = os.fspath(text) if isinstance(text, (str, os.PathLike)) else None
    if not isinstance(s, str) or not s.startswith(PREFIX):
        return None
    name, _, variant = s[len(PREFIX) :].partition(":")
    if not name:
        raise AmrkitError(
            f"{s!r} names no zoo entry; give zoo:NAME (the trained run) or zoo:NAME:int8 (the "
            "INT8 ONNX file), e.g. zoo:optimized"
        )
    variant = variant or "fp32"
    if variant not in VARIANTS:
        raise AmrkitError(
            f"{s!r}: variant {variant!r} is not one of {', '.join(VARIANTS)}; e.g. "
            f"{PREFIX}{name} or {PREFIX}{name}:int8"
        )
    return check_name(name), variant


def is_ref(text: Any) -> bool:
    s = os.fspath(text) if isinstance(text, (str, os.PathLike)) else None
    return isinstance(s, str) and s.startswith(PREFIX)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _damage(e: Entry, rel: str, meta: dict[str, Any]) -> str | None:
    """What is wrong with file ``rel`` of ``e`` (None: it is the indexed file)."""
    p = e.path / rel
    if p.is_symlink():
        return "is a link, not the shipped file"
    if not p.is_file():
        return "is missing"
    size = p.stat().st_size
    if size != meta["bytes"]:
        return f"has {size:,} bytes, the index says {meta['bytes']:,} (modified)"
    digest = file_sha256(p)
    if digest != meta["sha256"]:
        return f"was modified (SHA-256 {digest[:12]}…, the index says {meta['sha256'][:12]}…)"
    return None


def verify(name: str | Entry, folder: str | Path | None = None) -> Entry:
    """Every file of the entry against its SHA-256 and size in the index: a missing,
    modified or linked file is a one-line error naming it and the fix."""
    e = name if isinstance(name, Entry) else entry(check_name(name), folder)
    if e.path.is_symlink() or not e.path.is_dir():
        raise AmrkitError(
            f"zoo entry {e.name!r}: folder {str(e.path)!r} is missing or a link; {_FIX}"
        )
    for rel, meta in e.files.items():
        problem = _damage(e, rel, meta)
        if problem:
            raise AmrkitError(f"zoo entry {e.name!r}: {str(e.path / rel)!r} {problem}; {_FIX}")
    return e


def resolve(ref: str | os.PathLike) -> Path:
    """``zoo:NAME`` → the entry's run folder, ``zoo:NAME:int8`` → its INT8 ONNX file, after
    :func:`verify`."""
    parsed = parse_ref(ref)
    if parsed is None:
        raise AmrkitError(f"{os.fspath(ref)!r} is not a zoo name; give zoo:NAME or zoo:NAME:int8")
    name, variant = parsed
    return verify(name).file(variant)


# ---- writing (amrkit zoo add) -----------------------------------------------------------------
def hash_files(folder: Path) -> dict[str, dict[str, Any]]:
    """Every regular file under ``folder`` → its SHA-256 and size (relative POSIX paths)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() or (not p.is_file() and not p.is_dir()):
            raise AmrkitError(f"{str(p)!r} is not a regular file; an entry holds plain files only")
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = {
                "sha256": file_sha256(p),
                "bytes": p.stat().st_size,
            }
    return out


def install_entry(
    staged: str | Path,
    name: str,
    record: dict[str, Any],
    folder: str | Path | None = None,
    force: bool = False,
) -> Entry:
    """Move the complete entry folder ``staged`` to ``<zoo>/<name>`` and add ``record``
    (with the SHA-256 of every staged file) to the index; ``force`` replaces an entry."""
    check_name(name)
    staged, base = Path(staged), Path(folder if folder is not None else root())
    files = hash_files(staged)
    full = _check_record(name, {**record, "files": files}, str(staged))
    with output_lock(base, "zoo"):
        index = read_index(base)
        if name in index["entries"] and not force:
            raise AmrkitError(
                f"the zoo at {str(base)!r} already has entry {name!r}; pass --force to replace "
                "it or choose another --name"
            )
        target, old = base / name, None
        if target.exists() or target.is_symlink():  # replaced, or left by an interrupted add
            old = staging_folder(target, ".old")
            os.replace(target, old)
        os.replace(staged, target)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(target, 0o777 & ~mask)  # the staging folder was private (mkdtemp)
        index["entries"][name] = full
        index["entries"] = dict(sorted(index["entries"].items()))
        write_json(base / INDEX_FILE, index)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return Entry(name, target, full)


def remove_entry(name: str, folder: str | Path | None = None) -> None:
    base = Path(folder if folder is not None else root())
    with output_lock(base, "zoo"):
        index = read_index(base)
        if name not in index["entries"]:
            raise _unknown(name, base, sorted(index["entries"]))
        del index["entries"][name]
        write_json(base / INDEX_FILE, index)
        shutil.rmtree(base / name, ignore_errors=True)
