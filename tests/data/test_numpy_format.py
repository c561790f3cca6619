"""Plain NumPy .npz datasets: layouts, class names, laziness, malformed members."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from amrkit.data.numpy_format import open_npz
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError

RNG = np.random.default_rng(3)
CLASSES = np.array(["BPSK", "QPSK", "16QAM"])


def _frames(n=30, L=32):
    iq = (RNG.standard_normal((n, 2, L)) * 3).astype(np.float32)
    label = np.arange(n) % 3
    snr = np.tile([0.0, 10.0], n // 2).astype(np.float32)
    return iq, label, snr


def test_real_layout_with_classes_and_snr(tmp_path):
    iq, label, snr = _frames()
    path = tmp_path / "d.npz"
    np.savez(path, iq=iq, label=label, snr_db=snr, classes=CLASSES, sample_rate_hz=1e6)
    fs = open_npz(path, normalize=False)
    assert fs.classes == ("BPSK", "QPSK", "16QAM") and fs.frame_length == 32
    assert fs.sample_rate_hz == 1e6 and fs.source["format"] == "npz"
    np.testing.assert_array_equal(fs.label, label)
    np.testing.assert_array_equal(fs.snr_db, snr)
    np.testing.assert_array_equal(fs.read([4, 1, 29]), iq[[4, 1, 29]])
    normed = open_frames(path).read(np.arange(30))
    np.testing.assert_allclose((normed**2).sum(axis=1).mean(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("compressed", [False, True])
def test_complex_layout(tmp_path, compressed):
    iq, label, _ = _frames()
    z = (iq[:, 0] + 1j * iq[:, 1]).astype(np.complex64)  # (N, L) complex
    path = tmp_path / "c.npz"
    (np.savez_compressed if compressed else np.savez)(path, iq=z, label=label, classes=CLASSES)
    fs = open_frames(path, normalize=False)
    assert fs.snr_db.shape == (30,) and np.isnan(fs.snr_db).all()
    np.testing.assert_allclose(fs.read(np.arange(30)), iq, rtol=1e-6)


def test_string_labels_and_classes_file(tmp_path):
    iq, label, _ = _frames()
    path = tmp_path / "s.npz"
    np.savez(path, iq=iq, label=CLASSES[label])
    fs = open_frames(path)
    assert fs.classes == ("16QAM", "BPSK", "QPSK")  # sorted distinct labels
    np.testing.assert_array_equal(np.array(fs.classes)[fs.label], CLASSES[label])
    order = tmp_path / "order.json"
    order.write_text(json.dumps(["BPSK", "QPSK", "16QAM"]))
    fs2 = open_frames(path, classes_file=order)
    np.testing.assert_array_equal(fs2.label, label)
    # integer labels without names need the classes file
    ints = tmp_path / "i.npz"
    np.savez(ints, iq=iq, label=label)
    with pytest.raises(AmrkitError, match="no class names.*--classes-file"):
        open_frames(ints)
    assert open_frames(ints, classes_file=order).classes == ("BPSK", "QPSK", "16QAM")


def test_uncompressed_iq_is_memory_mapped(tmp_path):
    n, L = 4000, 1024
    path = tmp_path / "big.npz"
    np.savez(path, iq=np.ones((n, 2, L), np.float32), label=np.zeros(n, np.int64), classes=["A"])
    tracemalloc.start()
    try:
        fs = open_frames(path)
        got = fs.read(np.arange(0, n, 50))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.shape == (80, 2, L)
    assert peak < n * 2 * L * 4 / 8, peak  # far below the 32 MB array


@pytest.mark.parametrize(
    ("members", "pattern"),
    [({"iq": np.zeros((4, 2, 8), np.float32)}, "lacks member\\(s\\) label"),
     ({"iq": np.zeros((4, 3, 8), np.float32), "label": np.zeros(4, int), "classes": ["A"]},
      "iq: found float32 \\(4, 3, 8\\), expected real numbers \\(N, 2, L\\) or complex"),
     ({"iq": np.zeros((4, 2, 8), np.float32), "label": np.array([0, 1, 2, 5]),
       "classes": ["A", "B", "C"]}, "label: found 5 at row 3, expected 0..2"),
     ({"iq": np.zeros((4, 2, 8), np.float32), "label": np.zeros(3, int), "classes": ["A"]},
      "label: found shape \\(3,\\), expected \\(4,\\)"),
     ({"iq": np.zeros((4, 2, 8), np.float32), "label": np.zeros(4, int), "classes": ["A"],
       "snr_db": np.zeros(2)}, "snr_db: found float64 \\(2,\\), expected 4 numbers"),
     ({"iq": np.zeros((4, 2, 8), np.float32), "label": np.array([None] * 4, dtype=object)},
      "label: found dtype object")],
)  # fmt: skip
def test_malformed_npz(tmp_path, members, pattern):
    path = tmp_path / "bad.npz"
    np.savez(path, **members)
    with pytest.raises(AmrkitError, match=pattern) as exc:
        open_frames(path, format="npz")
    assert "\n" not in str(exc.value)


def test_truncated_npz(tmp_path):
    iq, label, _ = _frames()
    path = tmp_path / "t.npz"
    np.savez(path, iq=iq, label=label, classes=CLASSES)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AmrkitError) as exc:
        open_frames(cut, format="npz")
    assert "\n" not in str(exc.value)
