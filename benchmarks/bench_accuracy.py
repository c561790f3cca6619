"""Issue 3's accuracy floors: test accuracy of each model under each SNR convention.

For every SNR convention: one ``--preset matlab`` dataset at 30 dB (disjoint 80/10/10 split);
for every model and seed: train (the reference schedule unless ``--epochs``,
``--lr-drop-epoch`` or ``--augment`` say otherwise), PTQ (INT8 QDQ), evaluate FP32 (PyTorch)
and INT8 (ONNX Runtime) on the test split. Prints one JSON object: every run, the mean per
convention and model, and whether it meets the floor (``measured`` ≥ 97 %, ``matlab``
≥ 95 %; meaningful at 10,000 frames per class only).

The paper's scale takes about 25 min per model and convention on 2 CPU cores:

    .venv/bin/python benchmarks/bench_accuracy.py --frames-per-class 10000 --out runs/floors

A quick look: ``--frames-per-class 200 --epochs 2``. Runs and data stay under ``--out``
(a temporary folder when not given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

FLOORS_PCT = {"measured": 97.0, "matlab": 95.0}


def run_one(data: Path, model: str, seed: int, args: argparse.Namespace, out: Path) -> dict:
    from amrkit.data.open import open_frames
    from amrkit.metrics.evaluate import evaluate_path
    from amrkit.quant import PTQConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    overrides = {
        "epochs": args.epochs,
        "lr_drop_epoch": args.lr_drop_epoch,
        "augment": args.augment,
    }
    cfg = TrainConfig(seed=seed, **{k: v for k, v in overrides.items() if v is not None})
    t0 = time.perf_counter()
    metrics = train_model(
        data, model, out, cfg, force=True, device=args.device, threads=args.threads, progress=False
    )
    train_s = time.perf_counter() - t0
    with open_frames(data) as frames:
        quantize(out, PTQConfig(seed=seed), frames, out / "int8", threads=args.threads)
    acc = {
        label: 100 * evaluate_path(path, data, "test", threads=args.threads)["accuracy"]
        for label, path in (("fp32", out), ("int8", out / "int8" / "model_int8.onnx"))
    }
    return {
        "seed": seed,
        "best_epoch": metrics["best_epoch"],
        "val_pct": round(100 * metrics["best_val_accuracy"], 2),
        "fp32_test_pct": round(acc["fp32"], 2),
        "int8_test_pct": round(acc["int8"], 2),
        "int8_drop_pt": round(acc["fp32"] - acc["int8"], 2),
        "train_s": round(train_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-class", type=int, default=10000)
    ap.add_argument("--conventions", default="measured,matlab")
    ap.add_argument("--models", default="original,optimized")
    ap.add_argument("--seeds", default="1", help="comma list; the data seed is the first")
    ap.add_argument("--epochs", type=int, default=None, help="default: the reference 12")
    ap.add_argument("--lr-drop-epoch", type=int, default=None, help="default: the reference 9")
    ap.add_argument("--augment", default=None, help="e.g. phase,conj; default: none")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep data and runs here")
    args = ap.parse_args()

    from amrkit.data.synth import preset_config, synthesize

    seeds = [int(s) for s in args.seeds.split(",")]
    tmp = tempfile.TemporaryDirectory() if args.out is None else None
    root = Path(tmp.name if tmp else args.out)
    root.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, list[dict]]] = {}
    summary: dict[str, dict[str, dict]] = {}
    for conv in args.conventions.split(","):
        cfg = preset_config(
            "matlab",
            frames_per_class=args.frames_per_class,
            snrs=(30.0,),
            snr_convention=conv,
            seed=seeds[0],
        )
        data = root / f"{conv}30.h5"
        if not data.is_file():
            synthesize(cfg, data, workers=args.workers)
        runs[conv], summary[conv] = {}, {}
        for model in args.models.split(","):
            rows = [run_one(data, model, s, args, root / f"{conv}-{model}-s{s}") for s in seeds]
            runs[conv][model] = rows
            fp32 = [r["fp32_test_pct"] for r in rows]
            summary[conv][model] = {
                "fp32_test_pct_mean": round(statistics.mean(fp32), 2),
                "fp32_test_pct_sd": round(statistics.stdev(fp32), 2) if len(fp32) > 1 else None,
                "int8_test_pct_mean": round(statistics.mean(r["int8_test_pct"] for r in rows), 2),
                "floor_pct": FLOORS_PCT.get(conv),
                "meets_floor": conv in FLOORS_PCT and statistics.mean(fp32) >= FLOORS_PCT[conv],
            }
    print(
        json.dumps(
            {
                "frames_per_class": args.frames_per_class,
                "snr_db": 30,
                "epochs": args.epochs or 12,
                "lr_drop_epoch": args.lr_drop_epoch or 9,
                "augment": args.augment or "none",
                "test_frames": round(0.1 * 11 * args.frames_per_class),
                "summary": summary,
                "runs": runs,
            },
            indent=1,
        )
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
