"""Training on frames synthesized per epoch: synthesis time against step time, per epoch.

Runs ``amrkit train --synth PRESET`` (``train_model`` with a :class:`SynthData`) for a few
epochs and reports, from the run's own records (checkpoint.pt history, metrics.json):

- per epoch: ``synth_seconds`` (making the epoch's frames, before its first step),
  ``train_seconds`` (the epoch's training time, synthesis included), ``step_seconds`` (the
  time inside the model step: ``train_seconds · (1 − data_share)``), ``synth_share``
  (``synth_seconds / train_seconds``) and the synthesizer's frames/s;
- in all: the same sums, the evaluation frames' one-off synthesis, and the machine.

The validation and test frames are synthesized once (``--eval-frames-per-class``). Defaults
are small (wide preset, 200 frames per class, 2 epochs, the ``optimized`` model, recipe
``robust``); scale ``--frames-per-class`` and ``--workers`` for real measurements.

    .venv/bin/python benchmarks/bench_synth_train.py [--frames-per-class 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from amrkit.runtime.cpu import cpu_info
from amrkit.train.checkpoint import load_checkpoint
from amrkit.train.config import make_config
from amrkit.train.runner import train_model
from amrkit.train.synth import eval_frames, synth_request


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="wide", help="preset or synth config file [wide]")
    p.add_argument("--frames-per-class", type=int, default=200)
    p.add_argument("--eval-frames-per-class", type=int, default=None)
    p.add_argument("--frame-length", type=int, default=None, help="[the preset's]")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--model", default="optimized")
    p.add_argument("--recipe", default="robust")
    p.add_argument("--batch-size", type=int, default=None, help="[the recipe's]")
    p.add_argument("--workers", type=int, default=1, help="synthesis processes")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", default="off", help="auto, on, off [off: no compile time]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return p.parse_args(argv)


def measure(args: argparse.Namespace) -> dict:
    synth = synth_request(
        args.preset,
        has_data=False,
        frames_per_class=args.frames_per_class,
        default_seed=args.seed,
        eval_frames_per_class=args.eval_frames_per_class,
    )
    assert synth is not None
    if args.frame_length is not None:
        synth = dataclasses.replace(
            synth, config=dataclasses.replace(synth.config, frame_length=args.frame_length)
        )
    cfg = make_config(
        recipe=args.recipe,
        epochs=args.epochs,
        seed=args.seed,
        compile=args.compile,
        batch_size=args.batch_size,
    )
    t0 = time.perf_counter()
    eval_frames(synth, args.workers).close()  # what the run does once, timed alone
    eval_seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        metrics = train_model(
            None,
            args.model,
            out,
            cfg,
            synth=synth,
            synth_workers=args.workers,
            device=args.device,
            threads=args.threads,
            progress=False,
        )
        history = load_checkpoint(out)["history"]
    n = synth.config.num_frames
    epochs = []
    for h in history:
        synth_s, train_s = h["synth_seconds"], h["train_seconds"]
        epochs.append(
            {
                "epoch": h["epoch"],
                "synth_seconds": synth_s,
                "train_seconds": train_s,
                "step_seconds": train_s * (1 - h["data_share"]),
                "data_share": h["data_share"],
                "synth_share": synth_s / train_s if train_s > 0 else None,
                "synth_frames_per_s": n / synth_s if synth_s > 0 else None,
            }
        )
    total = {k: sum(e[k] for e in epochs) for k in ("synth_seconds", "train_seconds")}
    total["step_seconds"] = sum(e["step_seconds"] for e in epochs)
    total["synth_share"] = total["synth_seconds"] / total["train_seconds"]
    return {
        "command": " ".join(["benchmarks/bench_synth_train.py", *sys.argv[1:]]),
        "preset": synth.config.preset,
        "frames_per_class": synth.config.frames_per_class,
        "frames_per_epoch": n,
        "frame_length": synth.config.frame_length,
        "eval_frames_per_class": synth.eval_frames_per_class,
        "eval_synth_seconds": eval_seconds,
        "model": args.model,
        "recipe": args.recipe,
        "batch_size": cfg.batch_size,
        "workers": args.workers,
        "threads": torch.get_num_threads(),
        "device": metrics["device"],
        "compiled": metrics["compiled"],
        "precision": metrics["precision"],
        "cpu": cpu_info()["cpu"],
        "epochs": epochs,
        "total": total,
        "step_frames_per_s": metrics["step_frames_per_s"],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = measure(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
