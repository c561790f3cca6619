"""Fuzzing every supported input format through every command that reads it, in-process.

Hypothesis builds a small valid file of each format and damages it: missing or mistyped
attributes and members, wrong dtypes and shapes, NaN/inf samples, out-of-range labels, huge
declared sizes, links to other files, truncated and overwritten bytes. On each file the
reading commands run (``info``, ``evaluate``, ``train`` for datasets; ``classify`` for
SigMF/raw recordings) and the outcome must be success or a one-line ``error:`` with exit 1:
never another exception, never a partial output, and reading never allocates what a file
merely declares (tracemalloc peak while opening and reading everything).

CI runs a fixed, derandomized number of examples per format (:data:`EXAMPLES`, printed in
the test ids); ``AMRKIT_FUZZ_EXAMPLES=500`` runs more locally.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from amrkit.cli import main
from amrkit.data.native import FrameWriter
from amrkit.data.open import open_frames
from amrkit.data.radioml import RML2018_CLASSES
from amrkit.data.recording import iter_frames, open_recording
from amrkit.errors import AmrkitError

EXAMPLES = int(os.environ.get("AMRKIT_FUZZ_EXAMPLES", "25"))  # generated files per format
settings.register_profile(
    "amrkit-fuzz-ci",
    derandomize=True,  # the same files on every CI run
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # AMRKIT_FUZZ_SHRINK=0: report the first failures as found (shrinking can take minutes)
    phases=tuple(Phase)
    if os.environ.get("AMRKIT_FUZZ_SHRINK", "1") == "1"
    else (Phase.explicit, Phase.generate),
)
FUZZ = settings(settings.get_profile("amrkit-fuzz-ci"))
N, L = 60, 16  # 10 frames per (class, SNR) group: derived splits get val frames
CLASSES = ["A", "B", "C"]
PEAK_BYTES = 32 * 2**20  # far below any declared "huge" size (>= 10^12 elements)
TINY = ["--model", "4x4p", "--epochs", "1", "--batch-size", "4", "--threads", "1", "-q"]
RNG = np.random.default_rng(0)
IQ = RNG.standard_normal((N, 2, L)).astype(np.float32)
LABEL = np.arange(N) % 3
SPLIT = np.array([0, 0, 1, 2] * (N // 4), np.uint8)


# ---- valid files of each format ----------------------------------------------------------
def write_native(path: Path) -> None:
    with FrameWriter(path, N, L, CLASSES, {"sample_rate_hz": 1e6, "samples_per_symbol": 4}) as w:
        w.write(0, IQ, label=LABEL, snr_db=np.full(N, 10.0), split=SPLIT)


def write_rml2018(path: Path) -> None:
    y = np.zeros((N, len(RML2018_CLASSES)), np.int64)
    y[np.arange(N), LABEL] = 1
    with h5py.File(path, "w") as f:
        f["X"] = IQ.transpose(0, 2, 1)
        f["Y"] = y
        f["Z"] = np.full((N, 1), 10)


def rml2016_dict() -> dict:
    return {(m, s): IQ[i * 10 : i * 10 + 10].copy() for i, (m, s) in
            enumerate((m, s) for m in CLASSES for s in (0, 10))}  # fmt: skip


def npz_members() -> dict:
    return {"iq": IQ, "label": LABEL, "snr_db": np.full(N, 10.0), "classes": np.array(CLASSES),
            "sample_rate_hz": np.array(1e6)}  # fmt: skip


def write_npz(path: Path, members: dict, compress: bool = False) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, value in members.items():
            if isinstance(value, bytes):  # a hand-made .npy (lying header, pickled objects)
                z.writestr(f"{name}.npy", value)
                continue
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=True)
            z.writestr(f"{name}.npy", buf.getvalue())


def lying_npy(shape: tuple[int, ...]) -> bytes:
    """An .npy whose header declares ``shape`` float32 but that holds 64 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue() + bytes(64)


# ---- damage strategies ---------------------------------------------------------------------
DTYPES = ("float32", "float64", "float16", "int8", "int16", "int64", "uint8", "bool",
          "complex64", "S4")  # fmt: skip
VALUES = st.sampled_from([np.nan, np.inf, -np.inf, -1, 3, 99, 2**31, 1e30])
ATTR_VALUES = st.one_of(
    st.none(),  # deleted
    st.integers(-3, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(min_size=1, max_size=8),
    st.sampled_from(
        [
            '["A", "B", "C"]',
            '["A", "A", "C"]',
            "[]",
            '{"a": 1}',
            "[1, 2]",
            "null",
            '["A", "B"]',
            "amrkit-frames",
            '["", "B", "C"]',
        ]
    ),  # fmt: skip
)
SHAPES = st.one_of(
    st.sampled_from(["n-1", "n+1", "zero", "transpose", "flat", "L0"]),
    st.lists(st.integers(0, 5), max_size=4).map(tuple),
)


def dataset_damage(names: tuple[str, ...]) -> st.SearchStrategy:
    name = st.sampled_from(names)
    return st.one_of(
        st.tuples(st.just("drop"), name),
        st.tuples(st.just("dtype"), name, st.sampled_from(DTYPES)),
        st.tuples(st.just("shape"), name, SHAPES),
        st.tuples(st.just("value"), name, st.integers(0, 10**6), VALUES),
        st.tuples(st.just("huge"), name),
        st.tuples(st.just("external"), name),
        st.tuples(st.just("virtual"), name),
    )


BYTE_DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("random"), st.integers(0, 4096)),
)


def damage_bytes(path: Path, how: tuple) -> None:
    data = path.read_bytes()
    if how[0] == "truncate":
        path.write_bytes(data[: int(how[1] * len(data))])
    elif how[0] == "overwrite":
        at = int(how[1] * len(data))
        path.write_bytes(data[:at] + how[2] + data[at + len(how[2]) :])
    else:
        path.write_bytes(np.random.default_rng(how[1]).bytes(how[1]))


def _reshaped(data: np.ndarray, shape: object) -> np.ndarray:
    data = data.reshape(1) if data.ndim == 0 else data
    n = data.shape[0]
    if shape == "n-1":
        return data[: max(0, n - 1)]
    if shape == "n+1":
        return np.concatenate([data, data[:1]]) if data.ndim else data
    if shape == "zero":
        return data[:0]
    if shape == "transpose":
        return data.T.copy() if data.ndim < 3 else data.transpose(0, 2, 1).copy()
    if shape == "flat":
        return data.reshape(-1)
    if shape == "L0":
        return data[..., :0]
    return np.resize(data, shape)


def _cast(data: np.ndarray, dtype: str) -> np.ndarray:
    """``data`` as ``dtype``; zeros of that dtype where the values do not convert."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(data).astype(dtype)
    except (ValueError, TypeError):
        return np.zeros(np.shape(data), dtype)


def _with_value(data: np.ndarray, index: int, value: float) -> np.ndarray:
    """``data`` with one element set to ``value`` (clipped into integer dtypes)."""
    out = np.array(data)
    flat = out.reshape(-1)
    if flat.size == 0:
        return out
    if out.dtype.kind in "iu":
        info = np.iinfo(out.dtype)
        value = 0 if np.isnan(value) else value
        value = min(info.max, max(info.min, int(min(max(value, -1e19), 1e19))))
    elif out.dtype.kind == "b":
        value = bool(value)
    elif out.dtype.kind not in "fc":
        return out
    with np.errstate(all="ignore"):
        flat[index % flat.size] = value
    return out


def damage_hdf5(path: Path, how: tuple) -> None:
    kind, name = how[0], how[1]
    with h5py.File(path, "r+") as f:
        if kind == "attr":
            if how[2] is None:
                f.attrs.pop(name, None)
            else:
                f.attrs[name] = np.void(how[2]) if isinstance(how[2], bytes) else how[2]
            return
        if kind == "drop":
            del f[name]
            return
        if f[name].size > 10**6:  # an earlier "huge": not read back here
            raise KeyError(name)
        data = f[name][...]
        del f[name]
        if kind == "dtype":
            f[name] = _cast(data, how[2])
        elif kind == "shape":
            f[name] = _reshaped(data, how[2])
        elif kind == "value":
            f[name] = _with_value(data, how[2], how[3])
        elif kind == "huge":
            f.create_dataset(name, (10**12, *data.shape[1:]), data.dtype, chunks=True)
        else:  # another file holds the data: an external link or a virtual dataset
            other = path.with_name("other.h5")
            with h5py.File(other, "a") as g:
                target = f"{name}{len(g)}"  # a new name per edit
                g[target] = data
            if kind == "external":
                f[name] = h5py.ExternalLink(other.name, target)
            else:
                layout = h5py.VirtualLayout(data.shape, data.dtype)
                layout[...] = h5py.VirtualSource(str(other), target, data.shape)
                f.create_virtual_dataset(name, layout)


NATIVE_DAMAGE = st.one_of(
    dataset_damage(("iq", "label", "snr_db", "split")),
    st.tuples(
        st.just("attr"),
        st.sampled_from(
            [
                "format",
                "format_version",
                "classes",
                "sample_rate_hz",
                "samples_per_symbol",
                "snr_convention",
                "config",
            ]
        ),
        ATTR_VALUES,
    ),  # fmt: skip
)
RML2018_DAMAGE = dataset_damage(("X", "Y", "Z"))


# ---- the commands and the outcome contract --------------------------------------------------
def invoke(capsys, args: list) -> tuple[int, str]:
    """Run the CLI in-process; any exception but SystemExit propagates (an escape)."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code or 0, capsys.readouterr().err


def check_outcome(
    code: int, err: str, output: Path | None, what: str, must_fail: bool = False
) -> None:
    """Success (with its output) or one ``error:`` line, exit 1 and no output. ``must_fail``:
    the damage certainly made the input invalid, so exit 0 is an escape too."""
    assert not (must_fail and code == 0), f"{what}: exit 0 on an invalid input"
    if code == 0:
        assert output is None or output.exists(), f"{what}: exit 0 without its output"
        return
    lines = err.strip().splitlines()
    assert code == 1, f"{what}: exit {code}: {err}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {err}"
    if output is not None:
        assert not output.exists(), f"{what}: failed but left {output}"
        leftovers = [p.name for p in output.parent.glob(f".{output.name}*")]
        assert not leftovers, f"{what}: left temporary files {leftovers}"


def read_everything(path: Path) -> None:
    """What the commands do to a dataset, under a memory bound: open it, read every frame."""
    tracemalloc.start()
    try:
        with open_frames(path) as frames:
            for _ in frames.iter_batches(None, 64):
                pass
    except AmrkitError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"reading {path.name} allocated {peak:,} bytes"


def dataset_commands(capsys, path: Path, run: Path, must_fail: bool) -> None:
    read_everything(path)
    out = path.parent / "out"
    out.mkdir(exist_ok=True)
    for name, args, output in (
        ("info", ["info", path, "--json"], None),
        ("evaluate", ["evaluate", run, path, "--split", "all", "--out", out / "r.json"],
         out / "r.json"),
        ("train", ["train", path, "--out", out / "run", *TINY], out / "run"),
    ):  # fmt: skip
        code, err = invoke(capsys, args)
        check_outcome(code, err, output, f"{name} on {path.name}", must_fail)
        shutil.rmtree(out / "run", ignore_errors=True)
        (out / "r.json").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny trained run per dataset format (the models ``evaluate`` applies)."""
    root = tmp_path_factory.mktemp("fuzzruns")
    files = {"amrkit": root / "n.h5", "radioml2018": root / "r.h5", "npz": root / "n.npz",
             "radioml2016": root / "r.pkl"}  # fmt: skip
    write_native(files["amrkit"])
    write_rml2018(files["radioml2018"])
    write_npz(files["npz"], npz_members())
    files["radioml2016"].write_bytes(pickle.dumps(rml2016_dict(), protocol=2))
    out = {}
    for fmt, path in files.items():
        with pytest.raises(SystemExit) as exc:
            main(["train", str(path), "--out", str(root / fmt), *TINY])
        assert exc.value.code in (0, None), fmt
        out[fmt] = root / fmt
    return out


# ---- the fuzz tests: one per format ----------------------------------------------------------
@FUZZ
@given(damage=st.lists(st.one_of(NATIVE_DAMAGE, BYTE_DAMAGE), min_size=1, max_size=3))
def test_fuzz_amrkit_hdf5(damage, runs, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.h5"
        write_native(path)
        applied = _apply(path, damage, damage_hdf5)
        dataset_commands(capsys, path, runs["amrkit"], _invalid(applied, NATIVE_INVALID))


@FUZZ
@given(damage=st.lists(st.one_of(RML2018_DAMAGE, BYTE_DAMAGE), min_size=1, max_size=3))
def test_fuzz_radioml2018_hdf5(damage, runs, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.h5"
        write_rml2018(path)
        applied = _apply(path, damage, damage_hdf5)
        dataset_commands(capsys, path, runs["radioml2018"], _invalid(applied, RML2018_INVALID))


def _apply(path: Path, damage: list, structural) -> list:
    """Apply the damage in order; returns what was applied (a structural edit of a file an
    earlier byte edit made unreadable is skipped)."""
    done = []
    for how in damage:
        if how[0] in ("truncate", "overwrite", "random"):
            damage_bytes(path, how)
        else:
            try:
                structural(path, how)
            except (OSError, KeyError):  # an earlier byte damage made it unwritable
                continue
        done.append(how)
    return done


BAD_LABELS = (3, 99)  # outside 0..2 in every integer dtype
NATIVE_INVALID = {
    "drop": {"iq", "label", "snr_db"},
    "attr-missing": {"format", "format_version", "classes"},
    "nonfinite": {"iq"},
    "bad-label": {"label"},
    "bad-split": set(),
}
RML2018_INVALID = {"drop": {"X", "Y", "Z"}, "attr-missing": set(), "nonfinite": {"X"},
                   "bad-label": set()}  # fmt: skip


def _invalid(applied: list, rules: dict) -> bool:
    """True when the applied damage certainly left the file invalid. Each structural edit
    rewrites its dataset or attribute whole, so the last one per name decides."""
    broken = False  # byte damage no later edit undoes
    links: dict[str, bool] = {}  # the dataset is refused as stored (link, VDS, huge, missing)
    values: dict[str, bool] = {}  # its values are certainly invalid (copied by later edits)
    for how in applied:
        kind = how[0]
        name = how[1] if kind != "attr" else "@" + how[1]
        if kind == "random" or (kind == "truncate" and how[1] < 0.999):
            broken = True
        elif kind in ("huge", "external", "virtual"):
            links[name] = True
        elif kind == "drop":
            links[name], values[name] = how[1] in rules["drop"], False
        elif kind == "attr":
            links[name] = how[2] is None and how[1] in rules["attr-missing"]
        elif kind == "value":
            nonfinite = how[1] in rules["nonfinite"] and not np.isfinite(how[3])
            label = how[1] in rules["bad-label"] and how[3] in BAD_LABELS
            links[name] = False
            values[name] = values.get(name, False) or nonfinite or label
        elif kind in ("dtype", "shape"):
            links[name], values[name] = False, False  # may stay valid or not: no claim
    return broken or any(links.values()) or any(values.values())


NPZ_DAMAGE = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(list(npz_members()))),
    st.tuples(st.just("dtype"), st.sampled_from(list(npz_members())), st.sampled_from(DTYPES)),
    st.tuples(st.just("shape"), st.sampled_from(list(npz_members())), SHAPES),
    st.tuples(
        st.just("value"),
        st.sampled_from(["iq", "label", "snr_db", "sample_rate_hz"]),
        st.integers(0, 10**6),
        VALUES,
    ),  # fmt: skip
    st.tuples(st.just("object"), st.sampled_from(list(npz_members()))),
    st.tuples(
        st.just("lying"),
        st.sampled_from(list(npz_members())),
        st.sampled_from([(10**12, 2, L), (N, 2, 10**9), (2**40,)]),
    ),  # fmt: skip
)


@FUZZ
@given(damage=st.lists(NPZ_DAMAGE, max_size=3), compress=st.booleans(),
       raw=st.lists(BYTE_DAMAGE, max_size=1))  # fmt: skip
def test_fuzz_npz(damage, compress, raw, runs, capsys):
    members = npz_members()
    broken = any(how[0] == "random" or (how[0] == "truncate" and how[1] < 0.999) for how in raw)
    bad: dict[str, bool] = {}  # member -> certainly invalid (the last edit of it decides)
    for how in damage:
        kind, name = how[0], how[1]
        if kind == "drop":
            bad[name] = name in ("iq", "label")
            members.pop(name, None)
        elif name not in members:
            continue
        elif kind == "object":
            members[name] = np.array([{"x": 1}, None], dtype=object)
            bad[name] = True
        elif kind == "lying":
            members[name] = lying_npy(how[2])
            bad[name] = True
        elif isinstance(members[name], bytes) or members[name].dtype.hasobject:
            continue  # already hand-made: leave it
        elif kind == "dtype":
            members[name] = _cast(members[name], how[2])
            bad[name] = False
        elif kind == "shape":
            members[name] = _reshaped(np.asarray(members[name]), how[2])
            bad[name] = False
        else:
            before = np.asarray(members[name])
            members[name] = _with_value(before, how[2], how[3])
            bad[name] = bad.get(name, False) or (
                (name == "iq" and before.dtype.kind == "f" and not np.isfinite(how[3]))
                or (name == "label" and before.dtype.kind == "i" and how[3] in BAD_LABELS)
            )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.npz"
        write_npz(path, members, compress)
        for how in raw:
            damage_bytes(path, how)
        dataset_commands(capsys, path, runs["npz"], broken or any(bad.values()))


FORBIDDEN = b"cos\nsystem\n(S'echo pwned'\ntR."
PICKLE_KEYS = st.one_of(
    st.tuples(st.sampled_from(["A", "B", "", b"C"]), st.sampled_from([0, 10, 1.5, float("nan")])),
    st.integers(), st.text(max_size=3), st.tuples(st.just("A")),
)  # fmt: skip
PICKLE_VALUES = st.one_of(
    st.tuples(st.sampled_from(DTYPES), SHAPES).map(lambda t: _reshaped(IQ[:2], t[1]).astype(t[0])),
    st.just([1, 2, 3]),
    st.just(np.full((2, 2, L), np.nan, np.float32)),
)


@FUZZ
@given(edits=st.lists(st.tuples(PICKLE_KEYS, PICKLE_VALUES), max_size=3),
       special=st.sampled_from([None, "forbidden", "huge", "list", "empty"]),
       raw=st.lists(BYTE_DAMAGE, max_size=1))  # fmt: skip
def test_fuzz_radioml2016_pickle(edits, special, raw, runs, capsys):
    data = rml2016_dict()
    must_fail = special is not None or any(
        isinstance(how[0], str) and how[0] == "random" for how in raw
    )
    for key, value in edits:
        data[key] = value
    must_fail |= any(
        isinstance(v, list)
        or (isinstance(v, np.ndarray) and v.dtype.kind == "f" and np.isnan(v).any())
        for v in data.values()
    )
    blob = pickle.dumps(data, protocol=2)
    if special == "forbidden":
        blob = b"\x80\x02" + FORBIDDEN
    elif special == "huge":  # a 2**40-byte string declared in a tiny file
        blob = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc."
    elif special == "list":
        blob = pickle.dumps([IQ], protocol=2)
    elif special == "empty":
        blob = pickle.dumps({}, protocol=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pkl"
        path.write_bytes(blob)
        for how in raw:
            damage_bytes(path, how)
        dataset_commands(capsys, path, runs["radioml2016"], must_fail)


# ---- SigMF / raw recordings through classify ------------------------------------------------
META_FIELDS = st.sampled_from(["core:datatype", "core:sample_rate", "core:num_channels",
                               "core:dataset", "core:trailing_bytes", "core:metadata_only",
                               "core:version"])  # fmt: skip
META_VALUES = st.one_of(
    st.none(), st.integers(-5, 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.booleans(),
    st.sampled_from(["cf32_le", "ci16_le", "ci8", "cu8", "rf32_le", "cf64_be", "../f.sigmf-data",
                     "/etc/hostname", "other.dat", "f.sigmf-data"]),
)  # fmt: skip


@FUZZ
@given(edits=st.lists(st.tuples(META_FIELDS, META_VALUES), max_size=3),
       header=st.one_of(st.none(), st.integers(-5, 10**6), st.text(max_size=3)),
       data_len=st.integers(0, 4 * 1024 + 7), nan_at=st.one_of(st.none(), st.integers(0, 1023)),
       raw_meta=st.one_of(st.none(), st.binary(max_size=40)))  # fmt: skip
def test_fuzz_sigmf(edits, header, data_len, nan_at, raw_meta, runs, capsys):
    meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6,
                       "core:version": "1.0.0"},
            "captures": [{"core:sample_start": 0}], "annotations": []}  # fmt: skip
    for key, value in edits:
        if value is None:
            meta["global"].pop(key, None)
        else:
            meta["global"][key] = value
    if header is not None:
        meta["captures"][0]["core:header_bytes"] = header
    samples = RNG.standard_normal(data_len // 4).astype(np.float32)
    if nan_at is not None and len(samples):
        samples[nan_at % len(samples)] = np.nan
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rec"
        folder.mkdir()
        (Path(tmp) / "f.sigmf-data").write_bytes(samples.tobytes())  # outside the folder
        (folder / "other.dat").write_bytes(samples.tobytes())
        (folder / "f.sigmf-data").write_bytes(samples.tobytes()[:data_len])
        text = raw_meta if raw_meta is not None else json.dumps(meta).encode()
        (folder / "f.sigmf-meta").write_bytes(text)
        try:
            rec = open_recording(folder / "f.sigmf-meta")
            for _ in iter_frames(rec.iter_chunks(256), 16, batch_size=8):
                pass
        except AmrkitError:
            pass
        out = folder / "p.jsonl"
        code, err = invoke(capsys, ["classify", runs["amrkit"], folder / "f.sigmf-meta",
                                    "--out", out, "--no-resample"])  # fmt: skip
        named = meta["global"].get("core:dataset")
        outside = named in ("../f.sigmf-data", "/etc/hostname")
        check_outcome(code, err, out, "classify", must_fail=outside and raw_meta is None)


def test_fuzz_counts_are_fixed():
    """CI runs this many generated files per format (the floor the issue asks to report)."""
    assert settings.get_profile("amrkit-fuzz-ci").max_examples == EXAMPLES
    assert settings.get_profile("amrkit-fuzz-ci").derandomize


# ---- the kinds of damage, applied deterministically to every other reader ------------
def _h5_edit(name, make):
    def damage(path):
        with h5py.File(path, "r+") as f:
            data = f[name][...]
            del f[name]
            if make is not None:
                f[name] = make(data)

    return damage


def _npz_edit(name, make):
    def build(path):
        members = npz_members()
        if make is None:
            members.pop(name)
        else:
            members[name] = make(members[name])
        write_npz(path, members)

    return build


def _nan_at(data):
    out = np.array(data, dtype=np.float32 if np.asarray(data).dtype.kind == "f" else None)
    out.reshape(-1)[5] = np.nan
    return out


def _pickle_edit(edit):
    def build(path):
        data = rml2016_dict()
        edit(data)
        path.write_bytes(pickle.dumps(data, protocol=2))

    return build


def _pickle_set(key, value):
    return _pickle_edit(lambda d: d.update({key: value}))


def _two_hot(y):
    y = y.copy()
    y[3, 7] = 1
    return y


BYTES = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "random_bytes": lambda p: p.write_bytes(np.random.default_rng(1).bytes(p.stat().st_size)),
    "empty_file": lambda p: p.write_bytes(b""),
}
READER_DAMAGE = {  # format -> kind -> (build or damage a good file, words the error names)
    "radioml2018": {
        "no_labels": (_h5_edit("Y", None), "Y"),
        "label_two_hot": (_h5_edit("Y", _two_hot), "Y"),
        "iq_transposed": (_h5_edit("X", lambda x: x.transpose(0, 2, 1).copy()), "X shape"),
        "iq_nan": (_h5_edit("X", _nan_at), "non-finite"),
        "iq_int8": (_h5_edit("X", lambda x: (x * 30).astype(np.int8)), "X dtype"),
    },
    "npz": {
        "no_labels": (_npz_edit("label", None), "label"),
        "label_99": (_npz_edit("label", lambda v: np.where(np.arange(N) == 4, 99, v)), "label"),
        "iq_transposed": (_npz_edit("iq", lambda v: v.transpose(0, 2, 1).copy()), "iq"),
        "iq_nan": (_npz_edit("iq", _nan_at), "non-finite"),
        "iq_bool": (_npz_edit("iq", lambda v: v > 0), "iq"),
        "classes_numbers": (_npz_edit("classes", lambda v: np.arange(3)), "classes"),
    },
    "radioml2016": {
        "not_a_dict": (lambda p: p.write_bytes(pickle.dumps([IQ], protocol=2)), "dict"),
        "bad_key": (_pickle_set(("A",), IQ[:2]), "key"),
        "iq_transposed": (_pickle_set(("A", 20), IQ[:2].transpose(0, 2, 1).copy()), "entry"),
        "iq_nan": (_pickle_set(("A", 20), _nan_at(IQ[:10])), "non-finite"),
        "iq_bool": (_pickle_set(("A", 20), IQ[:2] > 0), "entry"),
        "forbidden_global": (lambda p: p.write_bytes(b"\x80\x02" + FORBIDDEN), "os.system"),
    },
}
GOOD = {
    "radioml2018": write_rml2018,
    "npz": lambda p: write_npz(p, npz_members()),
    "radioml2016": lambda p: p.write_bytes(pickle.dumps(rml2016_dict(), protocol=2)),
}
CASES = [(fmt, kind) for fmt, kinds in READER_DAMAGE.items() for kind in [*kinds, *BYTES]]


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_same_damage_on_every_reader(fmt, kind, runs, capsys, tmp_path):
    """info, evaluate and train on each damaged file: one line naming file and field, exit 1."""
    path = tmp_path / f"damaged.{ {'npz': 'npz', 'radioml2016': 'pkl'}.get(fmt, 'h5') }"
    if kind in BYTES:
        GOOD[fmt](path)
        BYTES[kind](path)
        needle = ""
    else:
        build, needle = READER_DAMAGE[fmt][kind]
        if fmt == "radioml2018":
            GOOD[fmt](path)
        build(path)
    out = tmp_path / "out"
    for name, args, output in (
        ("info", ["info", path], None),
        ("evaluate", ["evaluate", runs[fmt], path, "--split", "all", "--out", out / "r.json"],
         out / "r.json"),
        ("train", ["train", path, "--out", out / "run", *TINY], out / "run"),
    ):  # fmt: skip
        code, err = invoke(capsys, args)
        check_outcome(code, err, output, f"{fmt}/{kind}/{name}", must_fail=True)
        assert path.name in err and needle in err, f"{fmt}/{kind}/{name}: {err}"


SIGMF_DAMAGE = {  # edit of (metadata, data bytes) -> words the error names
    "dataset_outside": (lambda m, d: m["global"].update({"core:dataset": "../f.sigmf-data"}),
                        "core:dataset"),
    "dataset_absolute": (lambda m, d: m["global"].update({"core:dataset": "/etc/hostname"}),
                         "core:dataset"),
    "real_samples": (lambda m, d: m["global"].update({"core:datatype": "rf32_le"}), "real"),
    "header_negative": (lambda m, d: m["captures"][0].update({"core:header_bytes": -4}),
                        "header_bytes"),
    "channels_text": (lambda m, d: m["global"].update({"core:num_channels": "two"}),
                      "num_channels"),
    "rate_zero": (lambda m, d: m["global"].update({"core:sample_rate": 0}), "sample_rate"),
    "nan_sample": (lambda m, d: d.__setitem__(100, np.nan), "samples"),
    "no_global": (lambda m, d: m.pop("global"), "global"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SIGMF_DAMAGE))
def test_same_damage_on_sigmf_recordings(kind, runs, capsys, tmp_path):
    meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6,
                       "core:version": "1.0.0"},
            "captures": [{"core:sample_start": 0}], "annotations": []}  # fmt: skip
    data = RNG.standard_normal(1024).astype(np.float32)
    edit, needle = SIGMF_DAMAGE[kind]
    edit(meta, data)
    (tmp_path / "f.sigmf-data").write_bytes(data.tobytes())  # outside the recording's folder
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "f.sigmf-data").write_bytes(data.tobytes())
    (folder / "f.sigmf-meta").write_text(json.dumps(meta))
    out = folder / "p.jsonl"
    code, err = invoke(capsys, ["classify", runs["amrkit"], folder / "f.sigmf-meta", "--out", out,
                                "--no-resample"])  # fmt: skip
    check_outcome(code, err, out, kind, must_fail=True)
    assert needle in err, err
