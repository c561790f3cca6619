"""Issue 12's search throughput: proxy trials per hour, one worker vs two on one study.

Synthesizes a ``--preset matlab`` dataset at 30 dB (``--frames-per-class``), then runs the
same search config twice as ``amrkit search --worker K`` processes (trials only, the study
in a fresh SQLite file): once with one worker, once with two workers sharing the study.
Each worker uses ``--threads`` torch/ORT threads (1 by default, so two workers fill 2 cores).
Prints one JSON object: trials, wall seconds and trials/hour of each, the 2-worker speedup,
and the mean seconds per complete and per pruned trial. The two runs sample different
architectures, so the ratio carries the noise of the trial mix (read it over >= 12 trials).

    .venv/bin/python benchmarks/bench_search.py --frames-per-class 200 --trials 12
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def run_workers(data: Path, out: Path, config: Path, workers: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "amrkit", "search", str(data), "--out", str(out), "--config",
           str(config), "--quiet", "--json"]  # fmt: skip
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen([*cmd, "--worker", str(k)], env=env, stdout=subprocess.DEVNULL)
        for k in range(1, workers + 1)
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"worker failed (exit {p.returncode})")
    return time.perf_counter() - t0


def trial_stats(out: Path) -> dict:
    import optuna

    study = optuna.load_study(study_name="amrkit-search", storage=f"sqlite:///{out}/study.db")
    rows: dict[str, list[float]] = {}
    for t in study.get_trials():
        if t.duration is not None:
            rows.setdefault(t.state.name.lower(), []).append(t.duration.total_seconds())
    return {
        "trials": {k: len(v) for k, v in rows.items()},
        "mean_trial_s": {k: round(statistics.mean(v), 2) for k, v in rows.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-class", type=int, default=200)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--proxy-frames", type=int, default=100, help="train frames/class/trial")
    ap.add_argument("--proxy-epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="per worker")
    ap.add_argument("--max-macs", type=int, default=2_491_798, help="budget (0: none)")
    ap.add_argument("--no-latency", action="store_true", help="skip the INT8 latency objective")
    ap.add_argument("--out", default=None, help="keep data and studies here")
    args = ap.parse_args()

    from amrkit.data.synth import preset_config, synthesize
    from amrkit.search.config import SearchConfig

    tmp = tempfile.TemporaryDirectory() if args.out is None else None
    root = Path(tmp.name if tmp else args.out)
    root.mkdir(parents=True, exist_ok=True)
    data = root / f"matlab30-{args.frames_per_class}.h5"
    if not data.is_file():
        synthesize(
            preset_config("matlab", frames_per_class=args.frames_per_class, snrs=(30.0,), seed=1),
            data,
            workers=2,
        )
    objectives = ["accuracy", "macs", "int8_bytes"] + ([] if args.no_latency else ["latency_us"])
    cfg = SearchConfig(
        trials=args.trials,
        proxy_train_per_class=args.proxy_frames,
        proxy_val_per_class=max(10, args.proxy_frames // 3),
        proxy_epochs=args.proxy_epochs,
        proxy_lr_drop_epoch=args.proxy_epochs,
        objectives=tuple(objectives),
        max_macs=args.max_macs or None,
        threads=args.threads,
    )
    config = root / "search.yaml"
    config.write_text(yaml.safe_dump(cfg.to_dict()))
    result: dict = {"frames_per_class": args.frames_per_class, "config": cfg.to_dict()}
    for workers in (1, 2):
        out = root / f"study-{workers}w"
        wall = run_workers(data, out, config, workers)
        stats = trial_stats(out)
        done = sum(stats["trials"].get(k, 0) for k in ("complete", "pruned"))
        result[f"workers_{workers}"] = {
            "wall_s": round(wall, 1),
            "trials_per_hour": round(3600 * done / wall, 1),
            **stats,
        }
    result["speedup_2_workers"] = round(
        result["workers_2"]["trials_per_hour"] / result["workers_1"]["trials_per_hour"], 2
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
