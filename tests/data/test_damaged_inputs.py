"""Hand-damaged copies of a good ``amrkit generate`` file through ``info``, ``evaluate`` and
``train`` (the case matrix of issue 18): every case must end in one ``error:`` line naming
the file and the damaged field, exit 1, and leave no output behind. A control proves the
undamaged copy passes all three commands."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from amrkit.cli import main
from amrkit.data.synth import SynthConfig, synthesize

TINY = ["--model", "8x8p,8x8p", "--epochs", "1", "--batch-size", "32", "--threads", "1", "-q"]


def cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A good generated file (3 classes x 30 frames, L = 128) and a run trained on it."""
    root = tmp_path_factory.mktemp("damaged")
    cfg = SynthConfig(classes=("BPSK", "QPSK", "GFSK"), frames_per_class=30,
                      snrs=(10.0, 20.0), seed=3, frame_length=128, block_size=16)  # fmt: skip
    path = root / "good.h5"
    synthesize(cfg, path, workers=1)
    with pytest.raises(SystemExit) as exc:
        main(["train", str(path), "--out", str(root / "run"), *TINY])
    assert exc.value.code in (0, None)
    return path, root / "run"


# ---- the damage: each function edits a copy of the good file in place ------------------------
def _rewrite(name, values, **kw):
    def damage(path):
        with h5py.File(path, "r+") as f:
            data = values(f) if callable(values) else values
            del f[name]
            f.create_dataset(name, data=data, **kw)

    return damage


def _attrs(**changes):
    def damage(path):
        with h5py.File(path, "r+") as f:
            for key, value in changes.items():
                if value is None:
                    del f.attrs[key]
                else:
                    f.attrs[key] = value

    return damage


def _set(name, index, value):
    def damage(path):
        with h5py.File(path, "r+") as f:
            data = f[name][...]
            data[index] = value
            f[name][...] = data

    return damage


def _bytes(edit):
    def damage(path):
        path.write_bytes(edit(path.read_bytes()))

    return damage


def _iq(f):
    return f["iq"][...]


def _external(path):
    other = path.with_name(path.stem + "_other.h5")
    with h5py.File(path, "r+") as f:
        with h5py.File(other, "w") as g:
            g["iq"] = f["iq"][...]
        del f["iq"]
        f["iq"] = h5py.ExternalLink(other.name, "iq")


def _huge(path):  # declares 10^12 frames in a few KiB: chunks never written
    with h5py.File(path, "r+") as f:
        for name in ("iq", "label", "snr_db", "split"):
            del f[name]
        n = 10**12
        f.create_dataset("iq", (n, 2, 128), np.float32, chunks=(1, 2, 128))
        f.create_dataset("label", (n,), np.int16, chunks=(1024,))
        f.create_dataset("snr_db", (n,), np.float32, chunks=(1024,))
        f.create_dataset("split", (n,), np.uint8, chunks=(1024,))


RNG = np.random.default_rng(5)
DAMAGE = {  # kind -> (damage, words the error must contain)
    # the five kinds the issue found not clean
    "no_classes_attr": (_attrs(classes=None), "classes"),
    "label_99": (_set("label", 4, 99), "label"),
    "iq_transposed": (_rewrite("iq", lambda f: _iq(f).transpose(0, 2, 1).copy()), "iq shape"),
    "iq_nan": (_set("iq", (7, 0, 3), np.nan), "non-finite"),
    "iq_int8": (_rewrite("iq", lambda f: (_iq(f) * 30).astype(np.int8)), "iq dtype"),
    # ten more kinds of damage
    "truncated": (_bytes(lambda b: b[: len(b) // 2]), "truncated"),
    "random_bytes": (_bytes(lambda b: RNG.integers(0, 256, len(b), np.uint8).tobytes()), "not"),
    "empty_file": (_bytes(lambda b: b""), "not"),
    "no_iq": (lambda p: _del(p, "iq"), "iq"),
    "classes_not_json": (_attrs(classes="BPSK,QPSK,GFSK"), "classes"),
    "label_short": (_rewrite("label", lambda f: f["label"][:-1]), "label"),
    "split_7": (_set("split", 2, 7), "split"),
    "iq_inf": (_set("iq", (0, 1, 0), np.inf), "non-finite"),
    "label_negative": (_set("label", 0, -1), "label"),
    "format_version_2": (_attrs(format_version=2), "format_version"),
    # and the input-safety kinds
    "external_link": (_external, "external link"),
    "huge_declared": (_huge, "stored"),
    "classes_duplicate": (_attrs(classes=json.dumps(["BPSK", "BPSK", "GFSK"])), "classes"),
    "sample_rate_text": (_attrs(sample_rate_hz="fast"), "sample_rate_hz"),
    "label_float": (_rewrite("label", lambda f: f["label"][...].astype(np.float32)), "label"),
}


def _del(path, name):
    with h5py.File(path, "r+") as f:
        del f[name]


def _commands(path, run, out):
    return {
        "info": (["info", path], None),
        "evaluate": (
            ["evaluate", run, path, "--split", "all", "--out", out / "r.json"],
            out / "r.json",
        ),  # fmt: skip
        "train": (["train", path, "--out", out / "run", *TINY], out / "run"),
    }


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_file_is_one_line_error_everywhere(kind, good, tmp_path, capsys):
    src, run = good
    path = tmp_path / "damaged.h5"
    shutil.copy(src, path)
    damage, needle = DAMAGE[kind]
    damage(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, (args, output) in _commands(path, run, tmp_path).items():
        code, out, err = cli(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 1, f"{kind}/{name}: exit {code}\n{out}\n{err}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{kind}/{name}: {err}"
        assert "damaged.h5" in lines[0] and needle in lines[0], f"{kind}/{name}: {lines[0]}"
        assert output is None or not output.exists(), f"{kind}/{name} left {output}"
        assert sorted(p.name for p in tmp_path.iterdir()) == before, f"{kind}/{name}"


def test_undamaged_copy_passes_every_command(good, tmp_path, capsys):
    """The control: the same commands on an intact copy succeed and write their outputs."""
    src, run = good
    path = tmp_path / "intact.h5"
    shutil.copy(src, path)
    for name, (args, output) in _commands(path, run, tmp_path).items():
        code, out, err = cli(capsys, *args)
        assert code == 0, f"{name}: {err}"
        assert output is None or output.exists(), name


def test_drop_nonfinite_skips_and_reports(good, tmp_path, capsys):
    """--drop-nonfinite: the damaged frames are skipped, counted in the report and on stderr;
    without it the same file is an error (the control)."""
    src, run = good
    path = tmp_path / "nan.h5"
    shutil.copy(src, path)
    with h5py.File(path, "r+") as f:
        iq = f["iq"][...]
        iq[[7, 40], 1, 5] = [np.nan, -np.inf]
        f["iq"][...] = iq
    report = tmp_path / "r.json"
    args = ["evaluate", run, path, "--split", "all", "--out", report]
    code, _, err = cli(capsys, *args)
    assert code == 1 and "non-finite" in err and not report.exists()
    code, _, err = cli(capsys, *args, "--drop-nonfinite")
    assert code == 0, err
    assert "skipped 2 frame(s) with NaN or inf samples" in err
    result = json.loads(report.read_text())
    assert result["data"]["dropped_nonfinite"] == 2 and result["num_frames"] == 90 - 2


def test_open_frames_drop_nonfinite_keeps_the_finite_frames(good, tmp_path):
    from amrkit.data.open import open_frames

    path = tmp_path / "nan.h5"
    shutil.copy(good[0], path)
    with h5py.File(path, "r+") as f:
        iq = f["iq"][...]
        iq[3, 0, 0] = np.nan
        f["iq"][...] = iq
        label = f["label"][...]
    with open_frames(path, drop_nonfinite=True) as frames:
        assert len(frames) == 89 and frames.source["dropped_nonfinite"] == 1
        np.testing.assert_array_equal(frames.label, np.delete(label, 3))
        np.testing.assert_array_equal(frames.read(np.arange(3, 6)), iq[4:7])
    with open_frames(good[0], drop_nonfinite=True) as frames:  # nothing to drop: all kept
        assert len(frames) == 90 and frames.source["dropped_nonfinite"] == 0


def test_info_reads_every_frame_of_a_large_file(good, tmp_path, capsys, monkeypatch):
    """Files too large to check when opened (here: every file, by lowering the threshold) are
    still read whole by ``info``: NaN is an error, --drop-nonfinite counts it. Control: the
    intact copy passes."""
    import amrkit.data.open as open_module

    monkeypatch.setattr(open_module, "CHECK_AT_OPEN_BYTES", 0)
    src, _ = good
    code, _, err = cli(capsys, "info", src, "--json")
    assert code == 0, err
    path = tmp_path / "nan.h5"
    shutil.copy(src, path)
    with h5py.File(path, "r+") as f:
        iq = f["iq"][...]
        iq[33, 0, 9] = np.nan
        f["iq"][...] = iq
    code, _, err = cli(capsys, "info", path)
    assert code == 1 and "non-finite" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(capsys, "info", path, "--json", "--drop-nonfinite")
    assert code == 0, err
    assert json.loads(out)["dropped_nonfinite"] == 1
