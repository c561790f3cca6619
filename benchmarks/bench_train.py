"""Training speed: frames/s of the training step by setting, a real epoch, and the FP32 peak.

Three parts, one JSON document:

- ``steps``: one forward + backward + SGD step of each paper model on pre-built batches, for
  each setting that matters (batch, threads, ``torch.compile``, fp32 / bf16 autocast, whole
  1024-sample frames and 512-sample windows), timed interleaved (round robin, ``--repeats``
  rounds of ``--steps`` steps each; the median and the best round are reported) together with
  this machine's FP32 matmul peak (``torch.matmul``, the best of a few sizes), so each setting
  also gets the fraction of that peak its arithmetic reaches (fwd + weight grad + input grad
  MACs of the layers the paper counts, :func:`amrkit.metrics.network.network_metrics`).
- ``epochs``: real epochs of ``amrkit train`` (``train_model``: batching, augmentation,
  cropping, the default fast path) on synthetic frames with amrkit's recipe (SGD 0.05 cosine,
  batch 64, ``phase,conj``, 24 planned epochs, of which ``--epochs`` are run), on 512-sample
  windows and on whole frames: frames/s of the steps and the share of their time spent
  outside the model step (waiting for batches), from metrics.json.
- ``--against DIR``: the same epochs run by another checkout of amrkit (``DIR`` on
  ``PYTHONPATH``, in a subprocess per run, alternating with this checkout's), and the ratio
  this / that. An older checkout that records no step time is timed from its epoch seconds
  (its validation split here has 11 frames, so they are the step's).

- ``processes``: one process with 2 threads against ``torchrun`` with 2 processes of one
  thread each (DDP, gloo all-reduce every step), on the same real epochs.

bf16 settings are measured only where the CPU multiplies bf16 natively; compile settings only
where a C++ compiler is found. ``--quick`` times fewer settings; ``--parts`` picks the parts;
``--out FILE`` also writes the JSON, after each part.

    .venv/bin/python benchmarks/bench_train.py [--against ../main-before] [--quick]
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
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from amrkit.metrics.network import network_metrics
from amrkit.models import AmrCNN, get_spec
from amrkit.runtime.cpu import cpu_flags, cpu_info
from amrkit.train.accel import autocast, cxx_compiler, native_bf16

RECIPE = dict(
    optimizer="sgd",
    lr=0.05,
    schedule="cosine",
    batch_size=64,
    augment="phase,conj",
    epochs=24,
)
PEAK_SIZES = (1024, 2048)
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def train_macs(name: str, length: int) -> int:
    """MACs of one training frame: forward, weight gradient, and input gradient (not of
    the first layer, whose input needs none)."""
    m = network_metrics(get_spec(name, 11), length)
    return 3 * m["macs"] - m["layers"][0]["macs"]


def step_fn(name: str, batch: int, length: int, compiled: bool, precision: str) -> Callable:
    """A closure running one SGD step of a fresh model on a fixed random batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 2, length, generator=g)  # (b, 2, L)
    y = torch.randint(0, 11, (batch,), generator=g)
    torch.manual_seed(0)
    net = AmrCNN(get_spec(name, 11))
    model = torch.compile(net, dynamic=False) if compiled else net
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step() -> None:
        with autocast(precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def settings(quick: bool) -> list[dict]:
    """The step settings to time (threads 2 unless said)."""
    compiles = [False, True] if cxx_compiler() else [False]
    precisions = ["fp32", "bf16"] if native_bf16() else ["fp32"]
    batches = [64] if quick else [64, 256]
    lengths = [512] if quick else [512, 1024]
    out = [
        dict(batch=b, length=n, compiled=c, precision=p, threads=2)
        for b in batches
        for n in lengths
        for c in compiles
        for p in precisions
    ]
    out.append(dict(batch=64, length=512, compiled=False, precision="fp32", threads=1))
    return out


def peak_fn(n: int) -> tuple[Callable, int]:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return (lambda: torch.matmul(a, b)), n**3


def time_round(fn: Callable, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def bench_steps(models: list[str], args: argparse.Namespace) -> dict:
    """Every setting of every model, and the matmul peak, timed round robin."""
    cases: dict[str, tuple[Callable, int, int, dict]] = {}
    for name in models:
        for s in settings(args.quick):
            key = f"{name}/b{s['batch']}/L{s['length']}/{s['precision']}"
            key += f"/{'compile' if s['compiled'] else 'eager'}/t{s['threads']}"
            torch.set_num_threads(s["threads"])
            fn = step_fn(name, s["batch"], s["length"], s["compiled"], s["precision"])
            t0 = time.perf_counter()
            for _ in range(3):  # warm-up: compiles, oneDNN primitives, allocator
                fn()
            s = {**s, "model": name, "warmup_s": round(time.perf_counter() - t0, 2)}
            cases[key] = (fn, args.steps, s["threads"], s)
    for n in PEAK_SIZES:
        fn, macs = peak_fn(n)
        fn()
        cases[f"peak/{n}"] = (fn, 3, 2, {"macs": macs})
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.repeats):
        for key in list(cases)[:: 1 if r % 2 == 0 else -1]:
            fn, steps, threads, _ = cases[key]
            times[key].append(time_round(fn, steps, threads))
    peak = max(cases[k][3]["macs"] / min(times[k]) for k in cases if k.startswith("peak/"))
    rows = []
    for key, (_, _, _, s) in cases.items():
        if key.startswith("peak/"):
            continue
        med, best = statistics.median(times[key]), min(times[key])
        fps = s["batch"] / med
        macs = train_macs(s["model"], s["length"])
        rows.append(
            {
                **s,
                "frames_per_s": round(fps, 1),
                "best_frames_per_s": round(s["batch"] / best, 1),
                "gmac_per_s": round(fps * macs / 1e9, 2),
                "fraction_of_fp32_peak": round(fps * macs / peak, 4),
            }
        )
    return {"fp32_matmul_peak_gmac_per_s": round(peak / 1e9, 2), "settings": rows}


WORKER = r"""
import json, os, sys, time
import numpy as np
from amrkit.data.frames import array_frameset
from amrkit.fileio import read_json
from amrkit.train.config import TrainConfig
from amrkit.train.runner import train_model

name, crop, run_epochs, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg, threads, out = json.loads(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
rng = np.random.default_rng(0)
n_val = 11  # validation costs next to nothing: an epoch's seconds are its steps'
iq = rng.standard_normal((frames + n_val, 2, 1024)).astype(np.float32)  # (n, 2, L)
label = np.arange(frames + n_val) % 11
split = np.r_[np.zeros(frames, np.uint8), np.ones(n_val, np.uint8)]
data = array_frameset(iq, label, [f"c{i}" for i in range(11)], split=split)
rows = []


class Stop(Exception):
    pass


world = int(os.environ.get("WORLD_SIZE", "1"))
if world > 1:  # no early stop under torchrun (the other rank waits in a collective)
    cfg["epochs"] = run_epochs


def on_epoch(state):
    rows[:] = [dict(r) for r in state.history]
    if world == 1 and state.epoch >= run_epochs:
        raise Stop


t0 = time.perf_counter()
try:
    train_model(
        data, name, out, TrainConfig(crop=crop, **cfg), progress=False, threads=threads,
        on_epoch=on_epoch,
    )
except Stop:
    pass
runtime = read_json(out + "/run.json").get("runtime", {}) if rows else {}
print(json.dumps({"history": rows, "wall_s": time.perf_counter() - t0, "runtime": runtime}))
"""


def epoch_run(
    checkout: Path, name: str, crop: int, args: argparse.Namespace, processes: int = 1
) -> dict:
    """Epochs 2.. of one ``train_model`` run by the checkout at ``checkout`` (under torchrun
    with one thread per process when ``processes > 1``, else one process with 2 threads):
    frames/s of the steps (their own time where recorded, else the epoch's), data share."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "worker.py"
        script.write_text(WORKER)
        argv = [sys.executable, str(script)]
        if processes > 1:
            argv = [sys.executable, "-m", "torch.distributed.run"]
            argv += ["--nproc_per_node", str(processes), str(script)]
        argv += [name, str(crop), str(args.epochs), str(args.frames), json.dumps(RECIPE)]
        argv += ["1" if processes > 1 else "2", str(Path(tmp) / "run")]
        out = subprocess.run(
            argv, env=env, cwd=checkout, capture_output=True, text=True, check=False
        )
    if out.returncode != 0:
        raise RuntimeError(f"worker failed in {checkout}:\n{out.stderr[-4000:]}")
    lines = [json.loads(t) for t in out.stdout.splitlines() if t.startswith("{")]
    res = next(r for r in lines if r["history"])  # rank 0's
    rows = res["history"][1:] or res["history"]  # epoch 1 holds the warm-up
    secs = sum(r.get("train_seconds", r["seconds"]) for r in rows)
    frames = sum(r["train_frames"] for r in rows)
    shares = [r["data_share"] for r in rows if "data_share" in r]
    return {
        "frames_per_s": frames / secs,
        "data_share": statistics.mean(shares) if shares else None,
        "processes": processes,
        "compiled": res["runtime"].get("compiled", False),
        "precision": res["runtime"].get("precision", "fp32"),
        "compile_seconds": res["runtime"].get("compile_seconds", 0.0),
    }


def bench_processes(models: list[str], args: argparse.Namespace) -> list[dict]:
    """One process with 2 threads against torchrun with 2 processes of 1 thread (gloo
    all-reduce every step), this checkout, 512-sample windows."""
    here = Path(__file__).resolve().parents[1]
    rows = []
    for name in models:
        one = epoch_run(here, name, 512, args)
        try:
            two = epoch_run(here, name, 512, args, processes=2)
        except RuntimeError as e:  # say so, keep the rest of the measurements
            rows.append({"model": name, "one_process": one, "torchrun_error": str(e)[-800:]})
            continue
        ratio = round(two["frames_per_s"] / one["frames_per_s"], 3)
        rows.append({"model": name, "one_process": one, "torchrun_2x1": two, "ratio": ratio})
    return rows


def bench_epochs(models: list[str], args: argparse.Namespace) -> dict:
    """Real epochs on 512-sample windows and whole frames, this checkout and (``--against``)
    another, alternating run by run; the ratio is of the medians."""
    here = Path(__file__).resolve().parents[1]
    checkouts = {"this": here}
    if args.against:
        checkouts["against"] = Path(args.against).resolve()
    rows = []
    for name in models:
        for crop in (512, 0):
            runs: dict[str, list[dict]] = {k: [] for k in checkouts}
            for r in range(args.epoch_repeats):
                for key in list(checkouts)[:: 1 if r % 2 == 0 else -1]:
                    runs[key].append(epoch_run(checkouts[key], name, crop, args))
            row: dict = {"model": name, "length": crop or 1024}
            for key, got in runs.items():
                fps = statistics.median(g["frames_per_s"] for g in got)
                row[key] = {**got[-1], "frames_per_s": round(fps, 1)}
            if "against" in row:
                row["ratio"] = round(
                    row["this"]["frames_per_s"] / row["against"]["frames_per_s"], 3
                )
            rows.append(row)
    return {
        "recipe": RECIPE,
        "frames": args.frames,
        "epochs_run": args.epochs,
        "against": str(checkouts.get("against", "")) or None,
        "runs": rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="optimized,original")
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--repeats", type=int, default=5, help="rounds per setting")
    p.add_argument(
        "--epochs", type=int, default=3, help="epochs of each real run (the first warms up)"
    )
    p.add_argument("--frames", type=int, default=64 * 120, help="training frames of a real run")
    p.add_argument("--epoch-repeats", type=int, default=2, help="real runs per checkout")
    p.add_argument("--against", help="another amrkit checkout to compare epochs with")
    p.add_argument("--quick", action="store_true", help="fewer step settings")
    p.add_argument(
        "--parts",
        default="steps,epochs,processes",
        help="which parts: steps (settings), epochs (real runs, --against), processes "
        "(one process x 2 threads against torchrun 2 x 1 thread)",
    )
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = 256  # one compiled graph per timed setting
    models = args.models.split(",")
    result = {
        "benchmark": "train_speed",
        "cpu": cpu_info()["cpu"],
        "flags": [f for f in FLAGS if f in cpu_flags()],
        "torch": torch.__version__,
        "cxx_compiler": cxx_compiler(),
        "native_bf16": native_bf16(),
        "load_avg_before": os.getloadavg()[0],
    }
    parts = {"steps": bench_steps, "epochs": bench_epochs, "processes": bench_processes}
    for part, run in parts.items():
        if part in args.parts.split(","):
            result[part] = run(models, args)
            if args.out:  # what is measured so far survives a later failure
                Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    result["load_avg_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
