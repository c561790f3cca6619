"""Issue 15: cross-generator evaluation — train on one preset, test on settings it never saw.

For each training set (``--train PRESET[:RECIPE]``, default ``matlab,wide``, recipe
``--recipe``): synthesize it (``--frames-per-class``, seed 1), train the ``optimized``
network, quantize it (PTQ, INT8 QDQ), and evaluate FP32 (PyTorch) and INT8 (ONNX Runtime)
on every test set. The test sets (:data:`TEST_SETS`) are the reference (``matlab`` preset)
with exactly one setting moved — a symbol rate, roll-off, pulse, channel profile, offset or
analog parameter the reference never has — over ``--test-snr`` (default −10…30 dB in 5 dB
steps), made with another seed; each run is also tested on its own data's held-out test
split, and on a RadioML 2018-layout file when ``--radioml`` is given (classes mapped by a
JSON ``{"RadioML name": "amrkit name"}`` file, ``--radioml-map``). Prints a table of
accuracy per test set and SNR band (FP32 / INT8) and writes every number as JSON.

The issue's scale (≈ 1 h of training per run on 2 CPU cores):

    .venv/bin/python benchmarks/bench_generalization.py --out runs/generalization

A quick look (minutes): ``--frames-per-class 420 --epochs 2 --test-frames-per-class 90``.
Already trained runs are evaluated without training: ``--runs wide=runs/robust``.

generalization.json records the command and machine that measured it (``"measured"``).
``--card-sections FILE`` also writes one run's results (``--card-run LABEL`` when several were
measured) as zoo card sections, the ``--extra FILE`` of ``amrkit zoo add``
(:mod:`generalization_card`); ``--from-json generalization.json`` writes them from an earlier
measurement without measuring (``--source-command``/``--machine`` where the file, made before
it recorded them, lacks them):

    .venv/bin/python benchmarks/bench_generalization.py --from-json runs/gen/generalization.json \
        --card-sections sections.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from generalization_card import OWN, RADIOML, card_sections, measured_by, pick_run

BANDS = (0.0, 10.0, 20.0)  # band edges: < 0, 0-10, 10-20, >= 20 dB
FLOOR_DB = 10.0  # the floor: accuracy over the frames at >= 10 dB

# name -> (what it changes, overrides of the matlab preset)
TEST_SETS: dict[str, tuple[str, dict[str, Any]]] = {
    "reference": ("the matlab preset", {}),
    "reference 30 dB": ("the matlab preset at 30 dB only (the paper's test)", {"snrs": [30.0]}),
    "sps 4": ("4 samples per symbol", {"samples_per_symbol": 4}),
    "sps 12": ("12 samples per symbol", {"samples_per_symbol": 12}),
    "sps 5.3": (
        "5.3 samples per symbol (fractional)",
        {"signal_ranges": {"sps_min": 5.3, "sps_max": 5.3}},
    ),
    "roll-off 0.2": ("RRC roll-off 0.2", {"modulation": {"rrc_rolloff": 0.2}}),
    "roll-off 0.5": ("RRC roll-off 0.5", {"modulation": {"rrc_rolloff": 0.5}}),
    "rect pulse": ("rectangular (NRZ) symbols", {"signal_ranges": {"pulses": ["rect"]}}),
    "Rayleigh": ("reference paths, K = 0", {"channel_model": {"k_factor": 0.0}}),
    "delay spread 5": (
        "random profiles up to 5 samples, no line of sight",
        {"channel": "awgn", "multipath": {"delay_spread_max": 5.0}},
    ),
    "CFO 0.04": ("frequency offsets up to ±0.04 fs", {"impairments": {"cfo_max": 0.04}}),
    "phase noise 1 kHz": ("linewidths up to 1 kHz", {"impairments": {"phase_noise_hz": 1000.0}}),
    "I/Q 2 dB 10°": (
        "I/Q imbalance up to 2 dB, 10°",
        {"impairments": {"iq_gain_db": 2.0, "iq_phase_deg": 10.0}},
    ),
    "FM 40 kHz": ("B-FM deviation 40 kHz", {"modulation": {"fm_deviation_hz": 40e3}}),
    "AM carrier": ("DSB-AM with a carrier, index ≥ 1", {"signal_ranges": {"am_carrier_max": 1.0}}),
}


def _make_test_sets(args: argparse.Namespace, out: Path) -> dict[str, Path]:
    from amrkit.data.synth import parse_snrs, preset_config, synthesize

    paths = {}
    for name, (_, overrides) in TEST_SETS.items():
        path = out / "test" / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', name)}.h5"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            options = {
                "frames_per_class": args.test_frames_per_class,
                "snrs": parse_snrs(args.test_snr),
                "split": (0.0, 0.0, 1.0),
                "seed": 2,
                **overrides,
            }
            cfg = preset_config("matlab", **options)
            synthesize(cfg, path, workers=args.workers)
        paths[name] = path
    return paths


def _train(preset: str, recipe: str, args: argparse.Namespace, out: Path) -> Path:
    """Data, training and INT8 of one training preset: the run folder."""
    from amrkit.data.synth import parse_snrs, preset_config, synthesize
    from amrkit.train.config import make_config
    from amrkit.train.runner import train_model

    data = out / "data" / f"{preset}.h5"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        # the matlab preset's single 30 dB would leave the low bands untrained
        snrs = parse_snrs(args.train_snr) if preset == "matlab" else None
        cfg = preset_config(preset, frames_per_class=args.frames_per_class, seed=1, snrs=snrs)
        synthesize(cfg, data, workers=args.workers)
    run = out / "runs" / f"{preset}-{recipe}"
    overrides = {"epochs": args.epochs, "seed": 1}
    tcfg = make_config(recipe=recipe, **{k: v for k, v in overrides.items() if v is not None})
    t0 = time.perf_counter()
    train_model(data, "optimized", run, tcfg, force=True, threads=args.threads, progress=False)
    print(f"trained {run} in {time.perf_counter() - t0:.0f} s", flush=True)
    return run


def _synth_own(run: Path, synth: dict[str, Any], args: argparse.Namespace) -> Path:
    """A file of the run's own distribution for a ``--synth`` run (which has no data file):
    its synthesizer config at a seed no epoch used (the evaluation seed + 1), 200 frames per
    class; calibration uses its training split, the "own test split" row its test split."""
    from dataclasses import replace

    from amrkit.data.synth import synthesize
    from amrkit.data.synth.config import config_from_mapping
    from amrkit.train.synth import eval_seed

    cfg = config_from_mapping(synth["config"], where=str(run / "run.json"))
    cfg = replace(cfg, seed=eval_seed(cfg.seed) + 1, frames_per_class=200)
    path = args.out_dir / "data" / f"own-{run.name}.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        synthesize(cfg, path, workers=args.workers)
    return path


def _ensure_int8(run: Path, data: Path, args: argparse.Namespace, synth: Any = None) -> Path:
    """The run's INT8 model, made if missing or older than the run's weights: PTQ calibrated
    on its training data; for a ``--synth`` run (``synth``: run.json's record) the very file
    ``amrkit zoo add`` makes (default PTQConfig on epoch 0's frames), so the table measures
    what a zoo entry of the run ships."""
    from amrkit.artifacts import WEIGHTS_FILE
    from amrkit.data.open import open_frames
    from amrkit.quant import PTQConfig, quantize

    onnx = run / "int8" / "model_int8.onnx"
    weights = (run / WEIGHTS_FILE).stat().st_mtime_ns
    if onnx.exists() and onnx.stat().st_mtime_ns >= weights:
        return onnx
    if synth is not None:
        from amrkit.train.synth import SynthData
        from amrkit.zoo.build import synth_quant_frames

        data_ = SynthData.from_dict(synth, where=str(run / "run.json"))
        frames = synth_quant_frames(data_, workers=args.workers)
        quantize(run, PTQConfig(), frames, run / "int8", threads=args.threads)
        return onnx
    with open_frames(data) as frames:
        quantize(run, PTQConfig(seed=1), frames, run / "int8", threads=args.threads)
    return onnx


def _scores(label: np.ndarray, pred: np.ndarray, snr: np.ndarray) -> dict[str, Any]:
    from amrkit.metrics.accuracy import snr_band_report

    bands = snr_band_report(label, pred, snr, BANDS)
    high = snr >= FLOOR_DB
    at30 = snr == 30
    return {
        "overall": round(100 * float(np.mean(label == pred)), 2),
        "bands": {
            b["band"]: None if b["accuracy"] is None else round(100 * b["accuracy"], 2)
            for b in bands
        },
        "ge10": round(100 * float(np.mean(label[high] == pred[high])), 2) if high.any() else None,
        "at30": round(100 * float(np.mean(label[at30] == pred[at30])), 2) if at30.any() else None,
        "frames": int(len(label)),
    }


def _evaluate(model: Path, data: Path, split: str, args: argparse.Namespace) -> dict[str, Any]:
    from amrkit.data.open import open_frames
    from amrkit.infer import check_compatible, load_predictor
    from amrkit.metrics.evaluate import predict

    predictor = load_predictor(model, threads=args.threads)
    radioml = args.radioml is not None and data == Path(args.radioml)
    kw = _radioml_options(predictor.classes, args) if radioml else {}
    with open_frames(data, **kw) as frames:
        if radioml:
            frames = _relabelled(frames, predictor.classes, args)
        check_compatible(predictor, tuple(frames.classes), frames.frame_length)
        pos = frames.indices(split)
        pred, _ = predict(predictor, frames, pos, batch_size=512)
        return _scores(frames.label[pos], pred, frames.snr_db[pos])


def _radioml_map(args: argparse.Namespace) -> dict[str, str]:
    return json.loads(Path(args.radioml_map).read_text())


def _radioml_options(model_classes: tuple[str, ...], args: argparse.Namespace) -> dict[str, Any]:
    """``open_frames`` options selecting the RadioML classes that map onto the model's."""
    from amrkit.errors import AmrkitError

    mapping = _radioml_map(args)
    unknown = sorted(set(mapping.values()) - set(model_classes))
    if unknown:
        raise AmrkitError(
            f"--radioml-map maps onto {', '.join(unknown)}, which the model does not have; "
            f"map onto its classes: {', '.join(model_classes)}"
        )
    return {"classes": ",".join(mapping), "split_seed": 1}


def _relabelled(frames: Any, model_classes: tuple[str, ...], args: argparse.Namespace) -> Any:
    """RadioML frames labelled by the model's classes (classes RadioML lacks get no frames)."""
    from dataclasses import replace

    mapping = _radioml_map(args)
    index = np.array([model_classes.index(mapping[c]) for c in frames.classes])
    return replace(frames, classes=tuple(model_classes), label=index[frames.label])


def _evaluate_run(
    label: str, run: Path, tests: dict[str, Path], args: argparse.Namespace
) -> dict[str, Any]:
    from amrkit.artifacts import WEIGHTS_FILE, load_run

    info = load_run(run)
    own = Path(info.info.get("dataset", {}).get("path", ""))  # the training data's test split
    synth = info.info.get("synth")
    if synth is not None and not own.is_file():  # `train --synth` without a DATA file
        own = _synth_own(run, synth, args)
    else:
        synth = None
    models = {"fp32": run, "int8": _ensure_int8(run, own, args, synth)}
    sets = dict(tests)
    if own.is_file():
        sets[OWN] = own
    if args.radioml:
        sets[RADIOML] = Path(args.radioml)
    results: dict[str, Any] = {}
    for name, path in sets.items():
        split = "all" if name == RADIOML else "test"
        key = {
            "run": str(run.resolve()),
            "mtime": [(run / WEIGHTS_FILE).stat().st_mtime_ns, models["int8"].stat().st_mtime_ns],
        }
        cache = args.out_dir / "results" / f"{label}__{re.sub(r'[^A-Za-z0-9.-]+', '_', name)}.json"
        if cache.is_file() and json.loads(cache.read_text())["key"] == {**key, "data": str(path)}:
            results[name] = json.loads(cache.read_text())["result"]  # same model, same data
        else:
            results[name] = {k: _evaluate(m, path, split, args) for k, m in models.items()}
            cache.parent.mkdir(parents=True, exist_ok=True)
            record = {"key": {**key, "data": str(path)}, "result": results[name]}
            cache.write_text(json.dumps(record))
        _print_row(label, name, results[name])
    return results


def _print_row(label: str, name: str, r: dict[str, Any]) -> None:
    bands = "  ".join(
        f"{b:>14}: {r['fp32']['bands'][b] if r['fp32']['bands'][b] is not None else '—':>6}/"
        f"{r['int8']['bands'][b] if r['int8']['bands'][b] is not None else '—':<6}"
        for b in r["fp32"]["bands"]
    )
    print(
        f"{label:>8} | {name:<20} | ≥10 dB {r['fp32']['ge10']}/{r['int8']['ge10']} | {bands}",
        flush=True,
    )


def _floors(runs: dict[str, dict[str, Any]], robust: str, reference: str | None) -> dict[str, Any]:
    """The issue's floors for run ``robust`` (and ``reference`` for the 30 dB comparison)."""
    res = runs[robust]
    loio = {k: v for k, v in res.items() if k in TEST_SETS and not k.startswith("reference")}
    worst = min(loio, key=lambda k: loio[k]["fp32"]["ge10"])
    gaps = [
        abs(v["fp32"]["bands"][b] - v["int8"]["bands"][b])
        for v in res.values()
        for b in v["fp32"]["bands"]
        if v["fp32"]["bands"][b] is not None
    ]
    out = {
        "worst_loio_set": worst,
        "worst_loio_ge10_fp32": loio[worst]["fp32"]["ge10"],
        "loio_ge10_floor_90_met": loio[worst]["fp32"]["ge10"] >= 90,
        "max_int8_gap_pt": round(max(gaps), 2),
        "int8_within_1pt_met": max(gaps) <= 1,
    }
    if reference is not None:
        ref = "reference 30 dB"
        a, b = res[ref]["fp32"]["overall"], runs[reference][ref]["fp32"]["overall"]
        out.update(
            reference_at30_robust=a, reference_at30_reference_trained=b, within_1pt_met=a >= b - 1
        )
    return out


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default="matlab,wide", help="PRESET[:RECIPE] comma list")
    ap.add_argument("--recipe", default="robust", help="recipe of --train entries without one")
    ap.add_argument("--runs", default="", help="LABEL=RUN_DIR comma list: evaluate, do not train")
    ap.add_argument("--frames-per-class", type=int, default=10000)
    ap.add_argument("--train-snr", default="-10:30:2", help="SNRs of a matlab training set")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--test-frames-per-class", type=int, default=450)
    ap.add_argument("--test-snr", default="-10:30:5")
    ap.add_argument("--radioml", default=None, help="a RadioML 2018-layout file to test on too")
    ap.add_argument("--radioml-map", default=None, help='JSON {"RadioML name": "amrkit name"}')
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep data, runs and results here")
    ap.add_argument("--card-sections", default=None, help="write zoo card sections (--extra)")
    ap.add_argument("--card-run", default=None, help="their run label (default: the only run)")
    ap.add_argument("--from-json", default=None, help="a generalization.json: no measuring")
    ap.add_argument("--source-command", default=None, help="its command, if it lacks one")
    ap.add_argument("--machine", default=None, help="its machine, if it lacks one")
    args = ap.parse_args()
    if args.radioml and not args.radioml_map:
        ap.error("--radioml needs --radioml-map (JSON: RadioML class name -> amrkit class name)")
    if args.from_json and not args.card_sections:
        ap.error("--from-json only writes card sections; give --card-sections FILE")
    if not args.from_json and (args.source_command or args.machine):
        ap.error("--source-command and --machine describe a --from-json file; a measurement "
                 "records its own")  # fmt: skip
    return args


def _write_sections(doc: dict[str, Any], args: argparse.Namespace, where: str) -> None:
    from amrkit.fileio import write_json

    sections = card_sections(doc, args.card_run, args.source_command, args.machine, where)
    write_json(args.card_sections, sections)
    print(f"card sections: {args.card_sections}")


def _runs(args: argparse.Namespace, out: Path) -> dict[str, Path]:
    """LABEL -> run folder: ``--runs`` as given, else the ``--train`` runs (trained here)."""
    runs: dict[str, Path] = {}
    for item in filter(None, args.runs.split(",")):
        label, _, path = item.partition("=")
        runs[label] = Path(path)
    if not args.runs:
        for item in filter(None, args.train.split(",")):
            preset, _, recipe = item.partition(":")
            runs[preset] = _train(preset, recipe or args.recipe, args, out)
    return runs


def main() -> None:
    from amrkit.fileio import check_writable, read_json, write_json

    args = _parse_args()
    if args.from_json:
        _write_sections(read_json(args.from_json), args, args.from_json)
        return
    if args.card_sections:  # before the long work: the file can be written, the run chosen
        check_writable(args.card_sections, create=False)
        labels = [i.partition("=")[0] for i in filter(None, args.runs.split(","))] or [
            i.partition(":")[0] for i in filter(None, args.train.split(","))
        ]
        pick_run({"results": dict.fromkeys(labels, {})}, args.card_run, "this measurement")
    from amrkit.zoo.build import machine

    measured = measured_by(sys.argv, f"{machine()}, {os.cpu_count()} CPUs")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="amrkit-gen-"))
    out = out.resolve()  # runs record their data's path
    args.out_dir = out
    tests = _make_test_sets(args, out)
    runs = _runs(args, out)
    results = {label: _evaluate_run(label, run, tests, args) for label, run in runs.items()}
    report: dict[str, Any] = {
        "test_sets": {k: v[0] for k, v in TEST_SETS.items()},
        "runs": {k: str(v) for k, v in runs.items()},
        "measured": measured,
        "results": results,
    }
    if "wide" in results:
        report["floors"] = _floors(results, "wide", "matlab" if "matlab" in results else None)
    write_json(out / "generalization.json", report)
    print(json.dumps(report.get("floors", {}), indent=1))
    print(f"results: {out / 'generalization.json'}")
    if args.card_sections:
        _write_sections(report, args, str(out / "generalization.json"))


if __name__ == "__main__":
    from amrkit.errors import AmrkitError

    try:
        main()
    except AmrkitError as exc:
        raise SystemExit(f"error: {exc}") from None
