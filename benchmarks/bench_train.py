"""Training-loop overhead: amrkit's loop vs a bare forward/backward/step on the same batches.

For each model, ``steps`` SGD steps are timed two ways, back to back, ``repeats`` rounds
(alternating which goes first):

- bare: pre-built batch tensors, ``loss = CE(model(x), y); zero_grad; backward; step``;
- loop: ``train_one_epoch`` fed by ``SplitData.batches`` (in-memory split, per-epoch
  permutation, ``index_select`` per batch), with an ``on_step`` that syncs the running loss
  every 10 steps like the progress bar does;
- with ``--stream``, also the loop streaming the same frames from an HDF5 file.

Each is timed in wall-clock and in process CPU time. The machines here are shared (2 cores,
several users), so wall-clock swings by tens of percent between rounds; CPU time of a
1-thread run is the robust measure of the work the loop adds. Reported per model: best-of
steps/s, ``ratio_cpu`` (bare CPU time / loop CPU time, median of rounds, the headline), and
``ratio_wall`` (median of the per-round wall ratios), and the cost of producing the batches
alone (``batch_ms_per_step``, wall) with the ratio it implies against the bare CPU step
time (``ratio_from_batch_cost``, the least noisy of the three). The loop should reach >= 0.9.

    .venv/bin/python benchmarks/bench_train.py [--models optimized,original] [--steps 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from amrkit.models import AmrCNN, get_spec
from amrkit.train.data import SplitData, epoch_order, load_split
from amrkit.train.loop import EpochStats, train_one_epoch


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def bare_steps(model, opt, batches) -> None:
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def loop_steps(model, opt, data: SplitData, order, batch_size, steps) -> None:
    def on_step(stats: EpochStats) -> None:
        if stats.steps % 10 == 0:
            stats.sync()

    train_one_epoch(model, opt, data.batches(order, batch_size, steps=steps), on_step=on_step)


def streamed(x: torch.Tensor, y: torch.Tensor, folder: str, batch_size: int) -> SplitData:
    """The same frames written to an amrkit HDF5 file and streamed from it (memory_mb=0)."""
    from amrkit.data.native import FrameWriter, open_native

    path = f"{folder}/bench.h5"
    with FrameWriter(path, len(x), x.shape[2], [f"c{i}" for i in range(11)], {}) as w:
        w.write(
            0,
            x.numpy(),
            label=y.numpy().astype(np.int16),
            snr_db=np.zeros(len(x), np.float32),
            split=np.zeros(len(x), np.uint8),
        )
    return load_split(open_native(path), "train", memory_mb=0, batch_size=batch_size)


def bench_model(name: str, args: argparse.Namespace, folder: str) -> dict:
    n = args.batch_size * args.steps * 2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, args.length, generator=g)  # (n, 2, L)
    y = torch.randint(0, 11, (n,), generator=g)
    data = SplitData(y, np.zeros(n, np.float32), x=x)
    order = epoch_order(0, 0, n)
    idx = [order[i * args.batch_size : (i + 1) * args.batch_size] for i in range(args.steps)]
    batches = [(x[i], y[i]) for i in idx]  # the same batches, materialized up front
    stream = streamed(x, y, folder, args.batch_size) if args.stream else None
    torch.manual_seed(0)
    model = AmrCNN(get_spec(name, 11))
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    model.train()

    runs = {
        "bare": lambda: bare_steps(model, opt, batches),
        "loop": lambda: loop_steps(model, opt, data, order, args.batch_size, args.steps),
    }
    if stream is not None:
        sorder = epoch_order(0, 0, n, block=stream.block)
        runs["streamed"] = lambda: loop_steps(
            model, opt, stream, sorder, args.batch_size, args.steps
        )
    for fn in runs.values():  # warm-up: allocator, oneDNN primitives, file cache
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for r in range(args.repeats):
        for key in list(runs)[:: 1 if r % 2 == 0 else -1]:
            times[key].append(timed(runs[key]))
    wall = {k: np.array([t[0] for t in v]) for k, v in times.items()}
    cpu = {k: np.array([t[1] for t in v]) for k, v in times.items()}
    out = {"model": name, "bare_steps_per_s": round(args.steps / wall["bare"].min(), 3)}
    for key in runs:
        if key == "bare":
            continue
        out[f"{key}_steps_per_s"] = round(args.steps / wall[key].min(), 3)
        out[f"{key}_ratio_cpu"] = round(float(np.median(cpu["bare"]) / np.median(cpu[key])), 3)
        out[f"{key}_ratio_wall"] = round(float(np.median(wall["bare"] / wall[key])), 3)
    out["loop_frames_per_s"] = round(args.batch_size * out["loop_steps_per_s"], 1)
    # the loop's own work, without the model: producing the batches (low-noise, small numbers)
    sources = {"loop": (data, order)}
    if stream is not None:
        sources["streamed"] = (stream, sorder)
    step_ms = 1e3 * float(np.median(cpu["bare"])) / args.steps
    out["bare_cpu_ms_per_step"] = round(step_ms, 2)
    for key, (src, o) in sources.items():
        batch_s = min(
            timed(lambda s=src, o=o: list(s.batches(o, args.batch_size, steps=args.steps)))[0]
            for _ in range(3)
        )
        ms = 1e3 * batch_s / args.steps
        out[f"{key}_batch_ms_per_step"] = round(ms, 3)
        out[f"{key}_ratio_from_batch_cost"] = round(step_ms / (step_ms + ms), 4)
    out["wall_seconds"] = {k: [round(t, 3) for t in v] for k, v in wall.items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="optimized,original")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--length", type=int, default=1024)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--stream",
        action="store_true",
        help="also time the loop streaming the frames from an HDF5 file",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        results = [bench_model(m, args, folder) for m in args.models.split(",")]
    print(
        json.dumps(
            {
                "benchmark": "train_loop_overhead",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "batch_size": args.batch_size,
                "frame_length": args.length,
                "steps": args.steps,
                "repeats": args.repeats,
                "results": results,
                "min_loop_ratio_cpu": min(r["loop_ratio_cpu"] for r in results),
                "min_loop_ratio_wall": min(r["loop_ratio_wall"] for r in results),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
