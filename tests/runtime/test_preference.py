"""The measured runtime preference behind ``--runtime auto``: written by the benchmark, read
for this CPU only, INT8 files on the CPU only, ONNX Runtime otherwise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from amrkit.errors import AmrkitError
from amrkit.runtime import preference
from amrkit.runtime.preference import (
    choose,
    preferred_runtime,
    read_preference,
    write_preference,
)

MEASURED = {"optimized/b1": {"ort": 18_000.0, "c": 45_000.0},
            "optimized/b256": {"ort": 29_000.0, "c": 70_000.0}}  # fmt: skip


def test_choose_is_the_fastest_exact_runtime_over_all_cases():
    assert choose(MEASURED) == "c"
    assert choose({"a": {"ort": 2.0, "c": 1.0}, "b": {"ort": 1.0, "c": 1.5}}) == "ort"  # 2 > 1.5
    assert choose({"a": {"ort": 1.0, "c": 1.0}}) == "ort"  # a tie keeps ort
    assert choose({"a": {"ort": 1.0, "c": 9.0}, "b": {"ort": 1.0}}) == "ort"  # c not in every case
    assert choose({}) == "ort"


def test_written_preference_is_read_back_for_int8_on_this_cpu(tmp_path, monkeypatch):
    path = tmp_path / "deep" / "pref.json"
    monkeypatch.setenv(preference.ENV, str(path))
    assert preferred_runtime("int8") == "ort"  # no file yet
    entry = write_preference(MEASURED, source="test")
    assert entry["int8"] == "c" and entry["path"] == str(path) and path.is_file()
    assert read_preference()["frames_per_s"] == MEASURED
    if shutil.which("cc"):
        assert preferred_runtime("int8") == "c"
    assert preferred_runtime("fp32") == "ort"  # c runs INT8 files only
    assert preferred_runtime("int8", device="cuda") == "ort"
    monkeypatch.setattr(preference.shutil, "which", lambda _: None)
    assert preferred_runtime("int8") == "ort"  # no compiler here: c cannot run


def test_another_cpu_or_version_is_ignored(tmp_path):
    path = tmp_path / "pref.json"
    write_preference(MEASURED, source="test", path=path)
    entry = json.loads(path.read_text())
    assert read_preference(path) is not None
    for change in ({"machine": {"cpu": "Some Other CPU", "isa": []}}, {"version": 99}):
        path.write_text(json.dumps({**entry, **change}))
        assert read_preference(path) is None
        assert preferred_runtime("int8", path=path) == "ort"


def test_bad_files_are_one_line_errors(tmp_path):
    path = tmp_path / "pref.json"
    path.write_text("{not json")
    with pytest.raises(AmrkitError, match="not readable JSON") as err:
        read_preference(path)
    assert "\n" not in str(err.value)
    write_preference(MEASURED, source="test", path=path)
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "int8": "openvino"}))  # not exact: never preferred
    with pytest.raises(AmrkitError, match="allowed: ort, c"):
        preferred_runtime("int8", path=path)
    with pytest.raises(AmrkitError, match="cannot be preferred"):
        write_preference({"a": {"openvino": 9.0}}, source="test", path=Path(tmp_path / "x.json"))
