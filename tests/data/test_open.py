"""open_frames: format detection, dispatch, filters, derived splits, classes files, CLI errors."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest

from amrkit.data.native import FrameWriter
from amrkit.data.open import detect_format, load_classes_file, open_frames
from amrkit.errors import AmrkitError

RNG = np.random.default_rng(11)


def _native(path, n=40, L=16):
    classes = ["BPSK", "QPSK"]
    with FrameWriter(path, n, L, classes, {"sample_rate_hz": 1e6}) as w:
        iq = RNG.standard_normal((n, 2, L)).astype(np.float32)
        w.write(
            0, iq, label=np.arange(n) % 2, snr_db=np.full(n, 10.0),
            split=np.array([0, 0, 0, 1, 2] * (n // 5)),
        )  # fmt: skip
    return path


def _rml2018(path, n=48, classes=24, L=16):
    label = np.arange(n) % classes
    y = np.zeros((n, classes), np.int64)
    y[np.arange(n), label] = 1
    with h5py.File(path, "w") as f:
        f["X"] = RNG.standard_normal((n, L, 2)).astype(np.float32)
        f["Y"] = y
        f["Z"] = (np.arange(n) % 4 * 10 - 10).reshape(n, 1)
    return path


def _rml2016(path, n=10, L=16):
    d = {(m, s): RNG.standard_normal((n, 2, L)).astype(np.float32)
         for m in ("BPSK", "QPSK", "WBFM") for s in (-10, 0, 10, 20)}  # fmt: skip
    path.write_bytes(pickle.dumps(d, protocol=2))
    return path


def _npz(path, n=40, L=16):
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a path
        np.savez(f, iq=RNG.standard_normal((n, 2, L)).astype(np.float32),
                 label=np.arange(n) % 4, snr_db=np.repeat([0.0, 10.0], n // 2),
                 classes=["A", "B", "C", "D"])  # fmt: skip
    return path


@pytest.fixture
def files(tmp_path):
    # deliberately misleading suffixes: detection must use the content
    return {
        "amrkit": _native(tmp_path / "native.dat"),
        "radioml2018": _rml2018(tmp_path / "rml18.bin"),
        "radioml2016": _rml2016(tmp_path / "rml16.h5"),
        "npz": _npz(tmp_path / "plain.pkl"),
    }


def test_format_detected_from_content(files):
    for fmt, path in files.items():
        assert detect_format(path) == fmt
        fs = open_frames(path)
        assert fs.source["format"] in (fmt, "amrkit-frames")
        assert fs.split is not None and len(fs) > 0
        fs.close()


def test_format_override_and_aliases(files):
    assert open_frames(files["radioml2016"], format="rml2016").source["format"] == "radioml2016"
    assert open_frames(files["npz"], format="NumPy").source["format"] == "npz"
    with pytest.raises(AmrkitError, match="not one of amrkit, radioml2016, radioml2018, npz"):
        open_frames(files["npz"], format="matlab")
    with pytest.raises(AmrkitError):  # a wrong override fails in the reader, one line
        open_frames(files["npz"], format="radioml2016")


def test_unrecognised_and_missing_files(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not a dataset")
    with pytest.raises(AmrkitError, match="not a recognised dataset file"):
        open_frames(junk)
    with pytest.raises(AmrkitError, match="does not exist"):
        open_frames(tmp_path / "nope.h5")
    with pytest.raises(AmrkitError, match="is a folder"):
        open_frames(tmp_path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(AmrkitError, match="neither an amrkit frame file nor RadioML 2018"):
        open_frames(other)


def test_truncated_native_file(files, tmp_path):
    data = files["amrkit"].read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AmrkitError, match="truncated") as exc:
        open_frames(cut)
    assert "\n" not in str(exc.value)


def test_native_keeps_its_split(files):
    fs = open_frames(files["amrkit"])
    assert "derived_split" not in fs.source
    np.testing.assert_array_equal(fs.split, np.array([0, 0, 0, 1, 2] * 8))


def test_derived_split_is_deterministic_stratified_and_filter_independent(files):
    path = files["radioml2016"]
    a = open_frames(path, split_seed=5)
    b = open_frames(path, split_seed=5)
    c = open_frames(path, split_seed=6)
    np.testing.assert_array_equal(a.split, b.split)
    assert not np.array_equal(a.split, c.split)
    assert a.source["derived_split"]["seed"] == 5
    # every (class, snr) group of 10 frames gives 8 / 1 / 1
    for k in range(a.num_classes):
        for s in (-10, 0, 10, 20):
            g = a.split[(a.label == k) & (a.snr_db == s)]
            assert np.bincount(g, minlength=3).tolist() == [8, 1, 1]
    # a frame keeps its split whatever the filters: no train frame leaks into a test set
    f = open_frames(path, split_seed=5, classes="WBFM,BPSK", snr_min=0)
    full_rows = {int(r): int(s) for r, s in zip(a.rows, a.split, strict=True)}
    assert all(full_rows[int(r)] == int(s) for r, s in zip(f.rows, f.split, strict=True))
    assert len(f.indices("all")) == len(f) == 2 * 3 * 10


def test_filters_relabel_and_empty_result(files):
    fs = open_frames(files["npz"], classes=["D", "A"], snr_max=5)
    assert fs.classes == ("D", "A") and set(fs.label.tolist()) == {0, 1}
    assert np.all(fs.snr_db <= 5)
    with pytest.raises(AmrkitError, match="no frames left"):
        open_frames(files["npz"], snr_min=50)
    with pytest.raises(AmrkitError, match="not in this dataset"):
        open_frames(files["npz"], classes="Z")


def test_classes_file_validation(files, tmp_path):
    cf = tmp_path / "c.json"
    bad = [("{", "not JSON"), ("[]", "non-empty JSON list"), ('["A", "A"]', "repeats A"),
           ('{"a": 1}', "non-empty JSON list")]  # fmt: skip
    for text, pattern in bad:
        cf.write_text(text)
        with pytest.raises(AmrkitError, match=pattern):
            load_classes_file(cf)
    with pytest.raises(AmrkitError, match="does not exist"):
        open_frames(files["npz"], classes_file=tmp_path / "none.json")
    cf.write_text(json.dumps(["QPSK", "BPSK"]))
    with pytest.raises(AmrkitError, match="names its classes itself"):
        open_frames(files["amrkit"], classes_file=cf)
    cf.write_text(json.dumps(["BPSK", "QPSK"]))
    assert open_frames(files["amrkit"], classes_file=cf).classes == ("BPSK", "QPSK")


def test_normalize_option(files):
    raw = open_frames(files["npz"], normalize=False).read(np.arange(4))
    normed = open_frames(files["npz"]).read(np.arange(4))
    power = (normed**2).sum(axis=1).mean(axis=1)
    np.testing.assert_allclose(power, 1.0, rtol=1e-5)
    ratio = normed / raw
    np.testing.assert_allclose(ratio / ratio[:, :1, :1], 1.0, rtol=1e-4)  # one scale per frame


# ---- through the CLI (the `info` command) -------------------------------------------------
def _info_cli(capsys, path):
    from amrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["info", str(path)])
    return exc.value.code, capsys.readouterr().err


def test_cli_malformed_datasets_exit_1_with_one_line(tmp_path, capsys):
    evil = tmp_path / "evil.pkl"
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    evil.write_bytes(pickle.dumps({("A", 0): Evil()}, protocol=2))
    swapped = tmp_path / "swapped.h5"
    with h5py.File(swapped, "w") as f:
        f["X"] = np.zeros((4, 2, 16), np.float32)
        f["Y"] = np.eye(4, dtype=np.int64)
        f["Z"] = np.zeros((4, 1), np.int64)
    good = _rml2018(tmp_path / "g.h5")
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[:2000])
    for path in (evil, swapped, cut):
        code, err = _info_cli(capsys, path)
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not marker.exists()
