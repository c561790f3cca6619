"""benchmarks/generalization_card.py: bench_generalization.py results as zoo card sections."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from amrkit.errors import AmrkitError
from amrkit.fileio import write_json
from amrkit.zoo.build import _read_extra
from amrkit.zoo.cards import _extra_part

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location(
    "generalization_card", BENCH / "generalization_card.py"
)
card = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(card)

COMMAND = ".venv/bin/python benchmarks/bench_generalization.py --runs r=runs/r --out runs/gen-r"
BANDS = ("< 0 dB", "0 to < 10 dB", "10 to < 20 dB", ">= 20 dB")


def _scores(bands: tuple, ge10: float | None, at30: float | None, frames: int) -> dict[str, Any]:
    return {"overall": 50.0, "bands": dict(zip(BANDS, bands, strict=True)), "ge10": ge10,
            "at30": at30, "frames": frames}  # fmt: skip


def _doc() -> dict[str, Any]:
    """A hand-written generalization.json: reference sets, three moved settings, own split."""
    none2 = (None, None)
    res = {
        "reference": {"fp32": _scores((10.0, 60.0, 90.0, 92.0), 91.0, 92.5, 900),
                      "int8": _scores((11.0, 61.0, 89.5, 91.5), 90.5, 92.0, 900)},
        "reference 30 dB": {"fp32": _scores((*none2, None, 93.0), 93.0, 93.0, 100),
                            "int8": _scores((*none2, None, 92.0), 92.0, 92.0, 100)},
        "sps 4": {"fp32": _scores((9.0, 55.0, 84.0, 86.0), 85.0, 86.0, 900),
                  "int8": _scores((9.5, 55.5, 84.2, 86.0), 85.1, 86.0, 900)},
        "CFO 0.04": {"fp32": _scores((8.0, 50.0, 88.0, 90.0), 89.0, 90.0, 900),
                     "int8": _scores((5.0, 49.0, 86.0, 88.0), 87.0, 88.0, 900)},
        "rect pulse": {"fp32": _scores((10.0, 62.0, 93.0, 95.0), 94.0, 95.0, 900),
                       "int8": _scores((10.0, 62.0, 93.0, 94.8), 93.9, 94.0, 900)},
        "own test split": {"fp32": _scores((*none2, 80.0, 84.0), 82.0, None, 77),
                           "int8": _scores((*none2, 80.0, 83.0), 81.5, None, 77)},
    }  # fmt: skip
    return {
        "test_sets": {
            "reference": "the matlab preset",
            "reference 30 dB": "the matlab preset at 30 dB only",
            "sps 4": "4 samples per symbol",
            "CFO 0.04": "frequency offsets up to ±0.04 fs",
            "rect pulse": "rectangular (NRZ) symbols",
            "not measured": "a set this run lacks",
        },
        "runs": {"r": "runs/r"},
        "results": {"r": res},
    }


def test_loio_table_rows() -> None:
    table = card.loio_table(_doc(), "r")
    assert len(table["columns"]) == 7
    names = [row[0] for row in table["rows"]]
    assert names == ["reference", "reference 30 dB", "sps 4", "CFO 0.04", "rect pulse",
                     "own test split"]  # fmt: skip
    rows = {row[0]: row for row in table["rows"]}
    assert rows["CFO 0.04"] == ["CFO 0.04", "frequency offsets up to ±0.04 fs", 89.0, 87.0,
                                -2.0, 90.0, 900]  # fmt: skip
    assert rows["sps 4"][4] == pytest.approx(0.1)
    assert rows["own test split"][1] == card.EXTRA_SETS[card.OWN]
    assert rows["own test split"][5] is None and rows["own test split"][6] == 77


def test_summary_from_numbers_with_control() -> None:
    doc = _doc()
    s = card.summary(doc, "r")
    # the reference sets are not leave-one-out sets: 3 sets, worst sps 4
    assert (s["loio_sets"], s["worst_set"], s["worst_ge10_fp32"]) == (3, "sps 4", 85.0)
    assert s["sets_at_floor"] == 1  # rect pulse only
    assert (s["max_gap_ge10_pt"], s["max_gap_ge10_set"]) == (-2.0, "CFO 0.04")
    assert (s["max_gap_band_pt"], s["max_gap_band_set"], s["max_gap_band"]) == (
        -3.0, "CFO 0.04", "< 0 dB")  # fmt: skip
    text = card.summary_text(doc, "r", "test box")
    assert "Worst set: sps 4, 85.00 %" in text and "1 of 3 sets reach 90 %" in text
    assert "−2.00 pt (CFO 0.04)" in text and "Measured on test box." in text

    control = copy.deepcopy(doc)  # one number moved: another worst set, another count
    control["results"]["r"]["sps 4"]["fp32"]["ge10"] = 91.0
    s = card.summary(control, "r")
    assert (s["worst_set"], s["worst_ge10_fp32"], s["sets_at_floor"]) == ("CFO 0.04", 89.0, 2)
    assert "Worst set: CFO 0.04, 89.00 %" in card.summary_text(control, "r", None)


def test_band_table_cells() -> None:
    table = card.band_table(_doc(), "r")
    assert table["columns"] == ["set", "< 0 dB", "0 to < 10 dB", "10 to < 20 dB", "≥ 20 dB"]
    rows = {row[0]: row[1:] for row in table["rows"]}
    assert rows["CFO 0.04"] == ["8.00 / 5.00", "50.00 / 49.00", "88.00 / 86.00", "90.00 / 88.00"]
    assert rows["reference 30 dB"] == ["–", "–", "–", "93.00 / 92.00"]


def test_sections_accepted_by_zoo_extra(tmp_path: Path) -> None:
    doc = {**_doc(), "measured": {"command": COMMAND, "machine": "test box"}}
    path = write_json(tmp_path / "sections.json", card.card_sections(doc))
    sections = _read_extra(path)
    assert [s["title"] for s in sections] == [
        "Leave-one-out generalization", "Accuracy by SNR band on each set"]  # fmt: skip
    assert all(s["source"] == COMMAND for s in sections)
    page = "\n".join(_extra_part({"extra_sections": sections}))
    assert "| sps 4 | 4 samples per symbol | 85.00 | 85.10 | 0.10 | 86.00 | 900 |" in page
    assert "| CFO 0.04 | 8.00 / 5.00 | 50.00 / 49.00 | 88.00 / 86.00 | 90.00 / 88.00 |" in page


def test_source_and_run_choice() -> None:
    doc = _doc()
    with pytest.raises(AmrkitError, match="--source-command"):
        card.card_sections(doc)  # an old file records no command
    assert card.card_sections(doc, source=COMMAND)["sections"][0]["source"] == COMMAND
    recorded = {**doc, "measured": {"command": COMMAND, "machine": "a"}}
    with pytest.raises(AmrkitError, match="contradicts"):
        card.card_sections(recorded, source="python other.py")
    with pytest.raises(AmrkitError, match="contradicts"):
        card.card_sections(recorded, machine="b")
    two = {**recorded, "results": {"r": doc["results"]["r"], "s": doc["results"]["r"]}}
    with pytest.raises(AmrkitError, match="--card-run"):
        card.card_sections(two)
    with pytest.raises(AmrkitError, match="'t' is not a run"):
        card.card_sections(two, "t")
    assert "Run s " in card.card_sections(two, "s")["sections"][0]["text"]


def test_command_line(tmp_path: Path) -> None:
    argv = ["benchmarks/bench_generalization.py", "--runs", "a b=runs/x"]
    line = card.command_line(argv, str(tmp_path / ".venv/bin/python"), tmp_path)
    assert line == ".venv/bin/python benchmarks/bench_generalization.py --runs 'a b=runs/x'"
    assert card.command_line(argv, "/usr/bin/python3", tmp_path).startswith("/usr/bin/python3 ")
    up = card.command_line(argv, str(tmp_path / "benchmarks/../.venv/bin/python"), tmp_path)
    assert up.startswith(".venv/bin/python ")  # normalized before made relative
    measured = card.measured_by(argv, "test box")
    assert measured["command"].endswith(" benchmarks/bench_generalization.py --runs 'a b=runs/x'")
    assert measured["machine"] == "test box"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / "bench_generalization.py"), *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_from_json_cli(tmp_path: Path) -> None:
    src = write_json(tmp_path / "generalization.json", _doc())
    out = tmp_path / "sections.json"
    bad = _bench("--from-json", str(src), "--card-sections", str(out))
    assert bad.returncode == 1 and "--source-command" in bad.stderr and not out.exists()
    assert len(bad.stderr.strip().splitlines()) == 1
    ok = _bench("--from-json", str(src), "--card-sections", str(out), "--source-command", COMMAND,
                "--machine", "test box")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    sections = json.loads(out.read_text())["sections"]
    assert sections == card.card_sections(_doc(), source=COMMAND, machine="test box")["sections"]
    assert _bench("--from-json", str(src)).returncode == 2  # needs --card-sections
