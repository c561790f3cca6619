"""Issues 13 and 29's floors: the paper's INT8 networks as C on an emulated Cortex-M.

For each model (``original``, ``optimized``): generate a tiny dataset, train briefly, PTQ
(the cost does not depend on the weights' values), generate the C library, cross-compile it
for the Cortex-M4 (portable C and the DSP/SMLAD kernels; ``--m55`` adds the Cortex-M55:
portable, DSP and Helium/MVE) and run it under QEMU (``-icount shift=0``). Prints one JSON
object: flash, RAM, stack, arena, executed instructions per frame and per MAC, bit-exactness
with the golden model, and whether the optimized network meets the floors (Cortex-M4: flash
≤ 64 KiB, RAM ≤ 24 KiB, ≤ 15 M instructions per frame in portable C, ≤ 5 M with the DSP
instructions; Cortex-M55 with Helium: ≤ 1.5 M, bit-exact on ≥ 100 frames).

    .venv/bin/python benchmarks/bench_mcu.py [--model MODEL_INT8.onnx ...] [--m55] [--out DIR]

About 2 minutes on 2 cores (most of it training/quantization; give ``--model`` files to
skip that). Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

FLOORS = {
    "flash_bytes": 64 * 1024,
    "ram_bytes": 24 * 1024,
    "instructions_portable": 15_000_000,
    "instructions_dsp": 5_000_000,
    "instructions_m55_helium": 1_500_000,
    "frames_m55_helium": 100,
}


def tiny_int8_model(root: Path, model: str) -> Path:
    from amrkit.data.open import open_frames
    from amrkit.data.synth import SynthConfig, synthesize
    from amrkit.quant import PTQConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    data = root / "frames.h5"
    if not data.exists():
        synthesize(SynthConfig(frames_per_class=20, seed=1), data)
    train_model(data, model, root / f"run_{model}", TrainConfig(epochs=1, batch_size=64),
                device="cpu", progress=False)  # fmt: skip
    with open_frames(data) as frames:
        quantize(root / f"run_{model}", PTQConfig(calib_frames=64), frames, root / f"q_{model}")
    return root / f"q_{model}" / "model_int8.onnx"


def model_name(path: Path) -> str:
    """``q_optimized/model_int8.onnx`` or ``optimized_int8.onnx`` → ``optimized``."""
    if path.stem == "model_int8":
        return path.parent.name.removeprefix("q_") or str(path)
    return path.stem.removesuffix("_int8")


def main() -> None:
    from amrkit.deploy.report import mcu_report, variants

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="INT8 .onnx files (default: both paper "
                    "networks, trained briefly)")  # fmt: skip
    ap.add_argument("--m55", action="store_true", help="Also the Cortex-M55 (mps3-an547).")
    ap.add_argument("--frames", type=int, default=2, help="Frames per measurement.")
    ap.add_argument("--out", type=Path, help="Work folder (default: a temporary one).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mcu-") as tmp:
        root = args.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        models = {model_name(Path(m)): Path(m) for m in args.model or []} or {
            m: tiny_int8_model(root, m) for m in ("original", "optimized")
        }
        cpus = ["cortex-m4"] + (["cortex-m55"] if args.m55 else [])
        rows = []
        for name, path in models.items():
            for cpu in cpus:
                for dsp, mve in variants(cpu):
                    work = root / f"mcu_{name}_{cpu}_{dsp}_{mve}"
                    frames = max(args.frames, FLOORS["frames_m55_helium"]) if mve else args.frames
                    r = mcu_report(path, work, cpu=cpu, dsp=dsp, mve=mve, frames=frames)
                    rows.append({"model": name, **r})
        result: dict = {"rows": rows, "floors": FLOORS}
        opt = {(r["cpu"], r["variant"]): r for r in rows if r["model"] == "optimized"}
        if ("cortex-m4", "dsp") in opt:
            dsp, c = opt[("cortex-m4", "dsp")], opt[("cortex-m4", "portable")]
            result["optimized_m4_meets_floors"] = {
                "flash": max(dsp["flash_bytes"], c["flash_bytes"]) <= FLOORS["flash_bytes"],
                "ram": max(dsp["ram_bytes"], c["ram_bytes"]) <= FLOORS["ram_bytes"],
                "portable_instructions": c["instructions_per_frame"]
                <= FLOORS["instructions_portable"],
                "dsp_instructions": dsp["instructions_per_frame"] <= FLOORS["instructions_dsp"],
                "bit_exact": bool(dsp["bit_exact"] and c["bit_exact"]),
            }
        if ("cortex-m55", "mve") in opt:
            r = opt[("cortex-m55", "mve")]
            result["optimized_m55_helium_meets_floors"] = {
                "instructions": r["instructions_per_frame"] <= FLOORS["instructions_m55_helium"],
                "bit_exact": bool(r["bit_exact"]),
                "frames": r["frames"],
            }
        print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
