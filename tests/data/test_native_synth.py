"""FrameWriter / open_native: atomic writes and the format checks."""

import h5py
import numpy as np
import pytest

from amrkit.data.native import FrameWriter, is_native, open_native
from amrkit.errors import AmrkitError


def _write(path, n=5, length=16):
    iq = np.arange(n * 2 * length, dtype=np.float32).reshape(n, 2, length)
    with FrameWriter(
        path,
        n,
        length,
        ["A", "B"],
        {"sample_rate_hz": 1.0, "config": "{}"},
        extras={"ppm": ("float32", ())},
    ) as w:
        w.set_column("label", np.array([0, 1, 0, 1, 0]))
        w.set_column("snr_db", np.full(n, 3.0))
        w.set_column("split", np.zeros(n))
        w.write(0, iq[:3], ppm=np.ones(3))
        w.write(3, iq[3:], ppm=np.ones(2))
    return iq


def test_round_trip(tmp_path):
    p = tmp_path / "f.h5"
    iq = _write(p)
    assert is_native(p)
    with open_native(p) as fs:
        assert fs.classes == ("A", "B") and len(fs) == 5
        assert np.array_equal(fs.read([4, 0, 2]), iq[[4, 0, 2]])
    with h5py.File(p) as f:
        assert np.array_equal(f["channel/ppm"][...], np.ones(5))


def test_writer_error_leaves_nothing(tmp_path):
    p = tmp_path / "g.h5"
    with pytest.raises(RuntimeError), FrameWriter(p, 2, 4, ["A"], {}) as w:
        w.write(0, np.zeros((1, 2, 4), np.float32))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_target(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AmrkitError, match="cannot create folder"):
        FrameWriter(blocker / "out.h5", 1, 4, ["A"], {})


def test_not_native(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["x"] = 1
    assert not is_native(p)
    with pytest.raises(AmrkitError, match="not an amrkit frame file"):
        open_native(p)
