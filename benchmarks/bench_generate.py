"""Throughput of ``amrkit generate`` (the matlab preset at 30 dB) with 1 and 2 workers.

Prints one JSON object. For each worker count: end-to-end frames/s (HDF5 file included,
best of ``--repeats``) and the CPU time per frame spent in the parent and in the workers.
``cpu_bound_frames_per_s_2_cores`` = 2 / (CPU seconds per frame): what two otherwise idle
cores can sustain, a useful number on a shared machine where the wall clock also measures
other people's jobs (``load_avg_1min`` says how busy it was). Floor: 5,000 frames/s with
2 workers; target 20,000.

    .venv/bin/python benchmarks/bench_generate.py [--frames-per-class 2000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from amrkit.data.synth import preset_config, synthesize


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-per-class", type=int, default=2000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--snr", type=float, default=30.0)
    ap.add_argument("--channel", default="full")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = ap.parse_args()

    cfg = preset_config(
        "matlab",
        frames_per_class=args.frames_per_class,
        snrs=(args.snr,),
        channel=args.channel,
        seed=1,
    )
    n = cfg.num_frames
    runs: dict[str, dict[str, float]] = {}
    size = 0
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in (int(v) for v in args.workers.split(",")):
            best: dict[str, float] | None = None
            for r in range(args.repeats):
                path = Path(tmp) / f"bench_{w}_{r}.h5"
                c0, k0, t0 = time.process_time(), _children_cpu(), time.perf_counter()
                synthesize(cfg, path, workers=w)
                wall = time.perf_counter() - t0
                parent, kids = time.process_time() - c0, _children_cpu() - k0
                loads.append(os.getloadavg()[0])
                size = path.stat().st_size
                path.unlink()
                run = {
                    "frames_per_s": round(n / wall, 1),
                    "parent_cpu_us_per_frame": round(parent / n * 1e6, 1),
                    "worker_cpu_us_per_frame": round(kids / n * 1e6, 1),
                }
                if best is None or run["frames_per_s"] > best["frames_per_s"]:
                    best = run
            runs[str(w)] = best  # type: ignore[assignment]
    out: dict[str, object] = {
        "benchmark": "generate",
        "preset": "matlab",
        "snr_db": args.snr,
        "channel": args.channel,
        "frames": n,
        "file_bytes": size,
        "frames_per_s": {w: r["frames_per_s"] for w, r in runs.items()},
        "runs": runs,
    }
    if "1" in runs and "2" in runs:
        out["speedup_2_vs_1"] = round(runs["2"]["frames_per_s"] / runs["1"]["frames_per_s"], 2)
    if "2" in runs:
        cpu = runs["2"]["parent_cpu_us_per_frame"] + runs["2"]["worker_cpu_us_per_frame"]
        out["cpu_bound_frames_per_s_2_cores"] = round(2e6 / cpu, 1)
    out.update(
        floor_2_workers=5000,
        target_2_workers=20000,
        cpu_count=os.cpu_count(),
        load_avg_1min=round(max(loads), 2),
        python=platform.python_version(),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
