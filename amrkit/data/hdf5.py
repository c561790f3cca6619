"""HDF5 inputs, shared by the readers of amrkit's own files (:mod:`amrkit.data.native`) and
RadioML 2018 (:mod:`amrkit.data.radioml`): one line for a file h5py cannot open, and datasets
read only from the file itself, never more than it stores."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.data.frames import input_error, one_line
from amrkit.errors import AmrkitError


def hdf5_open_error(path: Path, exc: BaseException) -> AmrkitError:
    """One line for an HDF5 file h5py cannot open; names truncation when HDF5 detects it."""
    text = str(exc)
    m = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if m:
        return AmrkitError(
            f"{str(path)!r} is truncated ({m.group(1)} of {m.group(2)} bytes); download or "
            "copy it again"
        )
    first = (text.splitlines() or [type(exc).__name__])[0]
    return AmrkitError(f"cannot open {str(path)!r} as HDF5 ({first}); is it a complete file?")


def hdf5_dataset(f: Any, name: str, where: str, fix: str) -> Any:
    """Dataset ``name`` of ``f``, refused when it would read another file (external link,
    virtual dataset, external raw storage) or declares more data than the file holds.

    ``f`` is an open ``h5py.File``; returns the ``h5py.Dataset``.
    """
    import h5py

    link = f.get(name, getlink=True)
    if link is None:
        raise input_error(where, name, "no such dataset", f"a dataset {name!r}", fix)
    if isinstance(link, h5py.ExternalLink):
        raise input_error(
            where,
            name,
            f"an external link to {link.filename!r}",
            "data stored in this file",
            "amrkit reads nothing outside its input file; copy the linked data into it "
            "(e.g. with h5copy)",
        )
    try:
        dset = f[name]
    except (KeyError, OSError) as exc:  # dangling soft link, damaged object header
        raise input_error(where, name, f"unreadable ({one_line(exc)})", "a dataset", fix) from None
    if not isinstance(dset, h5py.Dataset):
        raise input_error(where, name, type(dset).__name__.lower(), "a dataset", fix)
    if dset.is_virtual or dset.external:
        what = "a virtual dataset" if dset.is_virtual else "external raw storage"
        raise input_error(
            where,
            name,
            f"{what} (its data lives in other files)",
            "data stored in this file",
            "amrkit reads nothing outside its input file; store the array in it "
            "(e.g. h5repack -l CONTI makes a self-contained copy)",
        )
    _check_declared_size(dset, name, where)
    return dset


def _check_declared_size(dset: Any, name: str, where: str) -> None:
    """Never trust a declared shape: the file must store the data it declares.

    Uncompressed data needs ``storage >= logical`` bytes (unwritten chunks would read as
    zeros: a file of 10^12 "frames" can be a few KiB); compressed data at most deflate's
    ~1032:1 ratio. Contiguous data must end inside the file (truncated copies).
    """
    logical = int(np.prod(dset.shape, dtype=np.float64)) * dset.dtype.itemsize
    stored = int(dset.id.get_storage_size())
    filters = dset.id.get_create_plist().get_nfilters()
    limit = stored if filters == 0 else 1100 * stored + 2**20
    if logical > limit:
        raise input_error(
            where,
            name,
            f"shape {tuple(dset.shape)} ({logical:,} bytes) but {stored:,} bytes stored",
            "the declared data to be in the file",
            "the file is truncated or incomplete; copy or generate it again",
        )
    size = Path(where).stat().st_size
    offset = dset.id.get_offset() if dset.chunks is None else None
    end = (offset or 0) + stored if offset is not None else stored
    if end > size:
        raise input_error(
            where,
            name,
            f"data ending at byte {end:,} of a {size:,}-byte file",
            "data inside the file",
            "the file is truncated; copy or download it again",
        )
