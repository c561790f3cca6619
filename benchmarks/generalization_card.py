"""Zoo card sections from ``bench_generalization.py`` results (``generalization.json``).

:func:`card_sections` turns one run's results into the ``--extra FILE`` of ``amrkit zoo add``
({"sections": [{"title", "text", "table": {"columns", "rows"}, "source"}]}): a table of every
test set's accuracy at >= 10 dB (FP32, INT8, their gap, 30 dB, frames) with a summary line
computed from those numbers, and a table of accuracy per SNR band. Pure functions (JSON in,
sections out); ``bench_generalization.py --card-sections`` calls them, after measuring or on
an existing file (``--from-json``).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError

OWN = "own test split"
RADIOML = "RadioML"
# sets a run is tested on besides the doc's "test_sets" -> what they are
EXTRA_SETS = {
    OWN: "held-out test split of the run's own training data",
    RADIOML: "RadioML 2018-layout file, classes mapped onto the model's",
}
FLOOR_PCT = 90.0  # the floor on every leave-one-out set, FP32 at >= 10 dB


def command_line(argv: list[str], executable: str, cwd: str | Path) -> str:
    """The shell command that ran this script: ``executable`` relative to ``cwd`` when it
    lies inside it (``.venv/bin/python``), then ``argv`` as given."""
    exe, here = Path(executable), Path(os.path.abspath(cwd))
    if exe.is_absolute():  # normalized, not resolved: a venv's python is a link
        exe = Path(os.path.normpath(exe))
        exe = exe.relative_to(here) if exe.is_relative_to(here) else exe
    return shlex.join([str(exe), *argv])


def measured_by(argv: list[str], machine: str | None) -> dict[str, Any]:
    """What generalization.json records about its own measurement (``"measured"``)."""
    import sys
    import time

    from amrkit import __version__
    from amrkit.artifacts import source_commit

    return {
        "command": command_line(argv, sys.executable, os.getcwd()),
        "machine": machine,
        "amrkit_version": __version__,
        "amrkit_commit": source_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def pick_run(doc: dict[str, Any], label: str | None, where: str) -> str:
    """The run label the sections describe: ``label``, or the only run of ``doc``."""
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict) or not results:
        raise AmrkitError(
            f"{where} has no 'results'; give a generalization.json of bench_generalization.py"
        )
    if label is None and len(results) > 1:
        raise AmrkitError(
            f"{where} measured {len(results)} runs ({', '.join(results)}); choose one with "
            "--card-run LABEL"
        )
    label = next(iter(results)) if label is None else label
    if label not in results:
        raise AmrkitError(
            f"--card-run {label!r} is not a run of {where}; it measured {', '.join(results)}"
        )
    return label


def _set_names(doc: dict[str, Any], label: str) -> list[str]:
    """The run's sets in the doc's test-set order, then the others (own split, RadioML)."""
    res = doc["results"][label]
    return [s for s in doc.get("test_sets", {}) if s in res] + [
        s for s in res if s not in doc.get("test_sets", {})
    ]


def _loio(doc: dict[str, Any], label: str) -> list[str]:
    """Leave-one-out sets: the doc's test sets except the reference ones."""
    return [s for s in doc.get("test_sets", {}) if s in doc["results"][label]
            and not s.startswith("reference")]  # fmt: skip


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 2)


def summary(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """The numbers of the summary line: worst leave-one-out set (FP32 at >= 10 dB), how many
    reach :data:`FLOOR_PCT`, the largest INT8 - FP32 gap at >= 10 dB and in any SNR band."""
    res = doc["results"][label]
    loio = [s for s in _loio(doc, label) if res[s]["fp32"].get("ge10") is not None]
    if not loio:
        raise AmrkitError(
            f"run {label!r} has no leave-one-out set with frames at >= 10 dB; measure it with "
            "bench_generalization.py (its --test-snr must reach 10 dB)"
        )
    worst = min(loio, key=lambda s: res[s]["fp32"]["ge10"])
    ge10 = {s: _gap(res[s]["fp32"].get("ge10"), res[s]["int8"].get("ge10"))
            for s in _set_names(doc, label)}  # fmt: skip
    gaps = [(abs(g), g, s) for s, g in ge10.items() if g is not None]
    bands = [(abs(g), g, s, b) for s in _set_names(doc, label)
             for b, a in res[s]["fp32"]["bands"].items()
             if (g := _gap(a, res[s]["int8"]["bands"].get(b))) is not None]  # fmt: skip
    out: dict[str, Any] = {
        "worst_set": worst,
        "worst_ge10_fp32": res[worst]["fp32"]["ge10"],
        "sets_at_floor": sum(res[s]["fp32"]["ge10"] >= FLOOR_PCT for s in loio),
        "loio_sets": len(loio),
        "reference_ge10_fp32": res.get("reference", {}).get("fp32", {}).get("ge10"),
    }
    if gaps:
        _, out["max_gap_ge10_pt"], out["max_gap_ge10_set"] = max(gaps)
    if bands:
        _, out["max_gap_band_pt"], out["max_gap_band_set"], out["max_gap_band"] = max(bands)
    return out


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def summary_text(doc: dict[str, Any], label: str, machine: str | None) -> str:
    s = summary(doc, label)
    ref, what = s["reference_ge10_fp32"], doc.get("test_sets", {}).get("reference")
    text = (
        f"Run {label} (`{doc.get('runs', {}).get(label, '?')}`), FP32 (PyTorch) and INT8 (ONNX "
        f"Runtime), on {s['loio_sets']} test sets, each the reference"
        + (f" ({what})" if what else "")
        + " with one setting moved to a value it never has"
        + (f"; the reference itself: {ref:.2f} % at ≥ 10 dB" if ref is not None else "")
        + f". Worst set: {s['worst_set']}, {s['worst_ge10_fp32']:.2f} % (FP32, ≥ 10 dB); "
        f"{s['sets_at_floor']} of {s['loio_sets']} sets reach {FLOOR_PCT:.0f} %."
    )
    if "max_gap_ge10_pt" in s:
        text += (
            f" Largest INT8 − FP32 gap at ≥ 10 dB: {_signed(s['max_gap_ge10_pt'])} pt "
            f"({s['max_gap_ge10_set']})"
        )
    if "max_gap_band_pt" in s:
        text += (
            f"; in any SNR band: {_signed(s['max_gap_band_pt'])} pt ({s['max_gap_band_set']}, "
            f"{s['max_gap_band']})"
        )
    text += "." if "max_gap_ge10_pt" in s or "max_gap_band_pt" in s else ""
    return text + (f" Measured on {machine}." if machine else "")


def loio_table(doc: dict[str, Any], label: str) -> dict[str, Any]:
    res = doc["results"][label]
    rows = []
    for name in _set_names(doc, label):
        fp32, int8 = res[name]["fp32"], res[name]["int8"]
        what = doc.get("test_sets", {}).get(name) or EXTRA_SETS.get(name, "")
        rows.append([name, what, fp32.get("ge10"), int8.get("ge10"),
                     _gap(fp32.get("ge10"), int8.get("ge10")), fp32.get("at30"),
                     fp32.get("frames")])  # fmt: skip
    columns = ["set", "what it varies", "FP32 ≥ 10 dB (%)", "INT8 ≥ 10 dB (%)",
               "INT8 − FP32 (pt)", "FP32 at 30 dB (%)", "frames"]  # fmt: skip
    return {"columns": columns, "rows": rows}


def _pair(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return "–"
    return " / ".join("–" if x is None else f"{x:.2f}" for x in (a, b))


def band_table(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """Set x SNR band, each cell "FP32 / INT8" (%); bands in the order the results give."""
    res = doc["results"][label]
    names = _set_names(doc, label)
    bands = list(res[names[0]]["fp32"]["bands"])
    rows = [[name, *(_pair(res[name]["fp32"]["bands"].get(b), res[name]["int8"]["bands"].get(b))
                     for b in bands)] for name in names]  # fmt: skip
    return {"columns": ["set", *(b.replace(">=", "≥") for b in bands)], "rows": rows}


def card_sections(
    doc: dict[str, Any],
    label: str | None = None,
    source: str | None = None,
    machine: str | None = None,
    where: str = "generalization.json",
) -> dict[str, Any]:
    """The ``--extra`` document for run ``label`` of ``doc``. ``source`` (the command that
    measured it) and ``machine`` default to what ``doc`` records (``"measured"``); a given
    one that contradicts the record is refused, and a source is required."""
    label = pick_run(doc, label, where)
    recorded = doc.get("measured") or {}
    for name, given in (("command", source), ("machine", machine)):
        if given is not None and recorded.get(name) not in (None, given):
            option = "--source-command" if name == "command" else "--machine"
            raise AmrkitError(
                f"{option} {given!r} contradicts {where}, which records {recorded[name]!r}; "
                f"leave out {option}"
            )
    source = recorded.get("command") or source
    machine = recorded.get("machine") or machine
    if not source:
        raise AmrkitError(
            f"{where} does not record the command that measured it; give it with "
            "--source-command 'python benchmarks/bench_generalization.py ...'"
        )
    loio = {
        "title": "Leave-one-out generalization",
        "text": summary_text(doc, label, machine),
        "table": loio_table(doc, label),
        "source": source,
    }
    bands = {
        "title": "Accuracy by SNR band on each set",
        "text": "Each cell: FP32 % / INT8 % over the set's frames in that SNR band "
        "(– where the set has none).",
        "table": band_table(doc, label),
        "source": source,
    }
    return {"sections": [loio, bands]}
