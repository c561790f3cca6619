"""RadioML readers: 2016 pickles (Python 2 style, restricted unpickler) and the 2018 HDF5."""

from __future__ import annotations

import json
import os
import pickle
import struct
import tracemalloc

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.data.open import open_frames
from amrkit.data.radioml import RML2018_CLASSES, open_radioml2016, read_sparse_rows
from amrkit.data.safe_pickle import ForbiddenPickle, safe_loads
from amrkit.errors import AmrkitError
from amrkit.models import build

MODS = ("QPSK", "8PSK", "AM-DSB")
SNRS = (-4, 0, 18)


# ---- a Python 2 cPickle writer (protocol 2), as RML2016.10a_dict.pkl was written ----------
class Py2Pickle:
    """Emit the opcodes Python 2.7 + numpy 1.x produce for ``cPickle.dump(d, f, 2)``.

    Python 2 ``str`` is written as SHORT_BINSTRING / BINSTRING (8-bit strings Python 3 only
    reads with an ``encoding``); arrays as ``numpy.core.multiarray._reconstruct`` + BUILD
    with the raw bytes; globals are memoized and re-used with BINGET, as cPickle does.
    """

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")
        self.memo: dict[str, int] = {}

    def global_(self, module: str, name: str) -> None:
        key = f"{module}.{name}"
        if key in self.memo:
            self.out += b"j" + struct.pack("<I", self.memo[key])  # LONG_BINGET
            return
        self.out += b"c" + f"{module}\n{name}\n".encode()
        slot = len(self.memo) + 1
        self.memo[key] = slot
        self.out += b"r" + struct.pack("<I", slot)

    def str8(self, data: bytes) -> None:
        if len(data) < 256:
            self.out += b"U" + bytes([len(data)]) + data
        else:
            self.out += b"T" + struct.pack("<i", len(data)) + data

    def int_(self, v: int) -> None:
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        else:
            self.out += b"J" + struct.pack("<i", v)

    def array(self, a: np.ndarray) -> None:
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.int_(0)
        self.out += b"\x85"  # TUPLE1 (0,)
        self.str8(b"b")
        self.out += b"\x87R"  # TUPLE3, REDUCE
        self.out += b"("  # MARK: state (1, shape, dtype, fortran, rawdata)
        self.int_(1)
        for d in a.shape:
            self.int_(d)
        self.out += b"\x87" if a.ndim == 3 else b"\x86"
        self.global_("numpy", "dtype")
        self.str8(b"f4")
        self.int_(0)
        self.int_(1)
        self.out += b"\x87R("  # dtype('f4', 0, 1), then its state
        self.int_(3)
        self.str8(b"<")
        self.out += b"NNN"
        self.int_(-1)
        self.int_(-1)
        self.int_(0)
        self.out += b"tb"  # TUPLE, BUILD
        self.out += b"\x89"  # NEWFALSE (C order)
        self.str8(np.ascontiguousarray(a, dtype="<f4").tobytes())
        self.out += b"tb"

    def dump_dict(self, d: dict) -> bytes:
        self.out += b"}("  # EMPTY_DICT, MARK
        for (mod, snr), arr in d.items():
            self.str8(mod.encode("latin1"))
            self.int_(snr)
            self.out += b"\x86"  # TUPLE2
            self.array(arr)
        self.out += b"u."  # SETITEMS, STOP
        return bytes(self.out)


def _rml2016_dict(n: int = 6, L: int = 128, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        (m, s): (rng.standard_normal((n, 2, L)) * 0.01 * (1 + i)).astype(np.float32)
        for i, m in enumerate(MODS)
        for s in SNRS
    }


@pytest.fixture
def rml2016(tmp_path):
    d = _rml2016_dict()
    path = tmp_path / "RML2016.10a_dict.pkl"
    path.write_bytes(Py2Pickle().dump_dict(d))
    return path, d


def test_py2_pickle_is_read_like_the_original(rml2016):
    path, d = rml2016
    assert path.read_bytes()[:2] == b"\x80\x02"
    fs = open_radioml2016(path, normalize=False)
    assert fs.classes == ("8PSK", "AM-DSB", "QPSK")  # sorted modulation names
    assert len(fs) == 6 * len(MODS) * len(SNRS) and fs.frame_length == 128
    assert fs.split is None and fs.source["format"] == "radioml2016"
    for (mod, snr), arr in d.items():
        pos = np.flatnonzero((fs.label == fs.classes.index(mod)) & (fs.snr_db == snr))
        np.testing.assert_array_equal(fs.read(pos), arr)  # exact bytes, in file order


def test_py2_pickle_frames_are_normalized_by_default(rml2016):
    path, d = rml2016
    fs = open_frames(path)
    assert fs.source["normalized"] is True and fs.split is not None
    iq = fs.read(np.arange(len(fs)))
    np.testing.assert_allclose((iq**2).sum(axis=1).mean(axis=1), 1.0, rtol=1e-5)
    raw = open_frames(path, normalize=False).read(np.arange(len(fs)))
    assert np.abs((raw**2).sum(axis=1).mean(axis=1) - 1).min() > 0.5  # the file is not unit power


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_pickles_of_numpy2_arrays_also_load(tmp_path, protocol):
    """Re-saved files (numpy._core globals, _codecs.encode at protocol 2, _frombuffer at 5)."""
    d = _rml2016_dict(n=3)
    path = tmp_path / f"p{protocol}.pkl"
    path.write_bytes(pickle.dumps(d, protocol=protocol))
    fs = open_radioml2016(path, normalize=False)
    pos = np.flatnonzero((fs.label == fs.classes.index("QPSK")) & (fs.snr_db == 18))
    np.testing.assert_array_equal(fs.read(pos), d[("QPSK", 18)])


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("evil_cls", [_Evil, _EvalEvil])
def test_forbidden_global_is_refused_and_nothing_runs(tmp_path, evil_cls):
    marker = tmp_path / "pwned"
    d = _rml2016_dict(n=2)
    d[("QPSK", 0)] = evil_cls(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(ForbiddenPickle) as exc:
        open_frames(path)
    assert not marker.exists()
    msg = str(exc.value)
    assert "\n" not in msg and ("system" in msg or "eval" in msg) and "nothing was executed" in msg
    pickle.loads(path.read_bytes())  # the same bytes, loaded blindly, do execute
    assert marker.exists()


def test_object_dtype_and_persistent_ids_are_refused():
    obj = pickle.dumps({("A", 0): np.array([1, "x"], dtype=object)}, protocol=2)
    with pytest.raises(AmrkitError, match="Python objects|not a readable"):
        safe_loads(obj)
    with pytest.raises(ForbiddenPickle, match="persistent id"):
        safe_loads(b"\x80\x02U\x01xQ.")  # BINPERSID
    with pytest.raises(ForbiddenPickle, match="bytearray"):
        safe_loads(pickle.dumps(bytearray(b"ab"), protocol=2))
    # _codecs.encode is allowed only in the form Python 3 uses for bytes (latin1)
    rot13 = b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x06\x00\x00\x00rot_13\x86R."
    with pytest.raises(AmrkitError, match="encode\\(str, 'latin1'\\)"):
        safe_loads(rot13)
    latin1 = rot13.replace(b"X\x06\x00\x00\x00rot_13", b"X\x06\x00\x00\x00latin1")
    assert safe_loads(latin1) == b"ab"


@pytest.mark.parametrize(
    ("payload", "pattern"),
    [([1, 2, 3], "not the RadioML 2016 dict"),
     ({"QPSK": np.zeros((2, 2, 8), np.float32)}, "keys are \\(modulation, snr\\)"),
     ({("QPSK", 0): np.zeros((2, 3, 8), np.float32)}, "expected a real array \\(n, 2, L\\)"),
     ({("A", 0): np.zeros((2, 2, 8), np.float32), ("B", 0): np.zeros((2, 2, 16), np.float32)},
      "one length")],
)  # fmt: skip
def test_wrong_structure_is_one_line_error(tmp_path, payload, pattern):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(AmrkitError, match=pattern) as exc:
        open_frames(path, format="radioml2016")
    assert "\n" not in str(exc.value)


def test_truncated_pickle(rml2016, tmp_path):
    path, _ = rml2016
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AmrkitError, match="not a readable data pickle") as exc:
        open_frames(cut)
    assert "\n" not in str(exc.value)


def test_filters_and_model_adapts_to_128_samples(rml2016):
    path, _ = rml2016
    fs = open_frames(path, classes="QPSK,8PSK", snr_min=0)
    assert fs.classes == ("QPSK", "8PSK") and set(fs.snr_db.tolist()) == {0.0, 18.0}
    assert len(fs) == 2 * 2 * 6 and fs.frame_length == 128
    model = build("8x4p,16x4p,16x2", num_classes=fs.num_classes).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(fs.read(np.arange(5))))
    assert out.shape == (5, 2)


def test_classes_file_must_match_named_classes(rml2016, tmp_path):
    path, _ = rml2016
    good = tmp_path / "good.json"
    good.write_text(json.dumps(["8PSK", "AM-DSB", "QPSK"]))
    assert open_frames(path, classes_file=good).classes == ("8PSK", "AM-DSB", "QPSK")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(["QPSK", "8PSK", "AM-DSB"]))
    with pytest.raises(AmrkitError, match="names its classes itself"):
        open_frames(path, classes_file=bad)


# ---- RadioML 2018 -----------------------------------------------------------------------
def _write_rml2018(path, n=48, L=64, classes=24, seed=0, chunks=None, x_layout="NL2"):
    rng = np.random.default_rng(seed)
    label = np.arange(n) % classes
    rng.shuffle(label)
    x = (rng.standard_normal((n, L, 2)) * 0.05).astype(np.float32)
    x[:, :, 0] += label[:, None] * 0.001  # tie content to the label for checks
    y = np.zeros((n, classes), dtype=np.int64)
    y[np.arange(n), label] = 1
    z = rng.choice(np.arange(-20, 31, 2), size=(n, 1)).astype(np.int64)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=x if x_layout == "NL2" else x.transpose(0, 2, 1), chunks=chunks)
        f.create_dataset("Y", data=y)
        f.create_dataset("Z", data=z)
    return x, label, z[:, 0]


def test_rml2018_layout_default_classes_and_transpose(tmp_path):
    path = tmp_path / "GOLD_XYZ_OSC.0001_1024.hdf5"
    x, label, z = _write_rml2018(path)
    fs = open_frames(path, normalize=False)
    assert fs.source["format"] == "radioml2018"
    assert fs.classes == RML2018_CLASSES and fs.classes[0] == "OOK" and fs.classes[-1] == "OQPSK"
    np.testing.assert_array_equal(fs.label, label)
    np.testing.assert_array_equal(fs.snr_db, z.astype(np.float32))
    rows = np.array([5, 0, 17])
    np.testing.assert_array_equal(fs.read(rows), x[rows].transpose(0, 2, 1))
    normed = open_frames(path).read(rows)
    np.testing.assert_allclose((normed**2).sum(axis=1).mean(axis=1), 1.0, rtol=1e-5)
    fs.close()


def test_rml2018_subset_needs_classes_file(tmp_path):
    path = tmp_path / "subset.h5"
    _, label, _ = _write_rml2018(path, n=30, classes=5, chunks=(4, 64, 2))
    with pytest.raises(AmrkitError, match="5 classes.*--classes-file") as exc:
        open_frames(path)
    assert "\n" not in str(exc.value)
    names = tmp_path / "names.json"
    names.write_text(json.dumps(["OOK", "4ASK", "BPSK", "QPSK", "FM"]))
    fs = open_frames(path, classes_file=names, classes="FM,BPSK")
    assert fs.classes == ("FM", "BPSK")
    assert len(fs) == int(np.sum(label == 4) + np.sum(label == 2))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(["A", "B"]))
    with pytest.raises(AmrkitError, match="lists 2 classes but .* has 5"):
        open_frames(path, classes_file=wrong)


def test_rml2018_wrong_axis_order(tmp_path):
    path = tmp_path / "swapped.h5"
    _write_rml2018(path, x_layout="N2L")
    with pytest.raises(AmrkitError, match=r"X shape: found \(48, 2, 64\), expected \(N, L, 2\)"):
        open_frames(path)


def test_rml2018_truncated_file(tmp_path):
    path = tmp_path / "full.h5"
    _write_rml2018(path, n=400, L=128)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(AmrkitError, match=r"is truncated \(\d+ of \d+ bytes\)") as exc:
        open_frames(cut)
    assert "\n" not in str(exc.value)


def test_rml2018_bad_one_hot(tmp_path):
    path = tmp_path / "zeros.h5"
    _write_rml2018(path, n=10)
    with h5py.File(path, "r+") as f:
        f["Y"][3] = 0
    with pytest.raises(AmrkitError, match="Y: found row 3 = "):
        open_frames(path)


def test_rml2018_is_read_lazily(tmp_path, monkeypatch):
    """Opening and reading a batch never materializes X (labels are read in chunks)."""
    import amrkit.data.radioml as rml

    path = tmp_path / "big.h5"
    n, L = 12_000, 512
    _write_rml2018(path, n=n, L=L, classes=24)
    x_bytes = n * L * 2 * 4  # 49 MB
    monkeypatch.setattr(rml, "_LABEL_CHUNK", 1000)
    tracemalloc.start()
    try:
        fs = open_frames(path)
        fs.read(np.arange(0, n, 97))  # 124 frames spread over the file
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    fs.close()
    assert peak < x_bytes / 8, peak


@pytest.fixture(scope="module")
def small_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("sparse") / "rows.h5"
    data = np.arange(300 * 3 * 2, dtype=np.float32).reshape(300, 3, 2)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=data)
    f = h5py.File(path, "r")
    yield f["X"], data
    f.close()


@given(rows=st.sets(st.integers(0, 299), max_size=120), min_run=st.integers(1, 20))
@settings(max_examples=60, deadline=None)
def test_read_sparse_rows_equals_fancy_indexing(small_h5, rows, min_run):
    dset, data = small_h5
    r = np.array(sorted(rows), dtype=np.int64)
    np.testing.assert_array_equal(read_sparse_rows(dset, r, min_run=min_run), data[r])
