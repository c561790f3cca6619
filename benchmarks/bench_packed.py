"""Issue 26's floor for packed sub-byte weights: flash saved and bit-exactness under QEMU.

For one INT8 model with 4-bit layers (default: the shipped ``zoo:optimized-w4:int8``), build
the generated C library twice — ``--pack auto`` (two 4-bit weights per byte) and ``--pack
off`` (one per byte) — for each Cortex-M kernel variant (M4: portable C and DSP; M55:
+ Helium), run both under QEMU on ``--frames`` real frames (the matlab preset at 30 dB,
a seed no zoo training or card used) and compare the final integers with the golden model's.
Prints one JSON object: flash of both builds and the saving in %, instructions per frame,
bit-exactness, and whether the floor holds (saving >= 30 %, bit-exact on >= 100 frames).

    .venv/bin/python benchmarks/bench_packed.py [--model zoo:optimized-w4:int8] [--frames 100]
        [--cpus cortex-m4,cortex-m55] [--out FILE.json]

A few minutes on 2 cores (QEMU runs every frame once per build). Needs gcc-arm-none-eabi,
libnewlib-arm-none-eabi and qemu-system-arm.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

FLOORS = {"flash_saving_pct": 30.0, "frames": 100}
SEED = 4242  # the frames' synth seed: no zoo training (1) or card (777, 778) uses it


def real_frames(model, n: int):
    """``n`` matlab-preset frames at 30 dB (classes cycling), as the model's input integers."""
    from amrkit.data.synth import preset_config
    from amrkit.data.synth.write import synthesize_arrays

    per_class = -(-n // model.num_classes)
    cfg = preset_config("matlab", frames_per_class=per_class, snrs=(30.0,), seed=SEED)
    iq = synthesize_arrays(cfg)["iq"][:n]  # (n, 2, L)
    return model.quantize_input(iq)


def one_build(model, work: Path, xq, cpu: str, dsp: bool, mve: bool, pack: str) -> dict:
    from amrkit.deploy.codegen import write_library
    from amrkit.deploy.report import measure_library

    lib = work / f"lib-{pack}-{cpu}-{int(dsp)}{int(mve)}"
    write_library(model, lib, cpu="generic", pack_weights=pack)
    r = measure_library(model, lib, work / f"run-{lib.name}", xq, cpu=cpu, dsp=dsp, mve=mve)
    keep = ("variant", "flash_bytes", "ram_bytes", "instructions_per_frame", "frames", "bit_exact")
    return {k: r[k] for k in keep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="zoo:optimized-w4:int8")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--cpus", default="cortex-m4,cortex-m55")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from amrkit.deploy import mcu
    from amrkit.deploy.report import load_model, variants

    why = mcu.toolchain_missing()
    if why:
        raise SystemExit(f"error: {why}")
    model = load_model(args.model)
    xq = real_frames(model, args.frames)
    rows = []
    with tempfile.TemporaryDirectory(prefix="amrkit-bench-packed-") as tmp:
        for cpu in args.cpus.split(","):
            for dsp, mve in variants(cpu):
                packed = one_build(model, Path(tmp), xq, cpu, dsp, mve, "auto")
                plain = one_build(model, Path(tmp), xq, cpu, dsp, mve, "off")
                saving = 100.0 * (1 - packed["flash_bytes"] / plain["flash_bytes"])
                rows.append({"cpu": cpu, "packed": packed, "unpacked": plain,
                             "flash_saving_pct": round(saving, 1)})  # fmt: skip
                print(f"{cpu} {packed['variant']}: flash {plain['flash_bytes']:,} -> "
                      f"{packed['flash_bytes']:,} B ({saving:.1f} %), bit-exact "
                      f"{packed['bit_exact']}/{plain['bit_exact']} on {packed['frames']} frames",
                      flush=True)  # fmt: skip
    ok = all(
        r["flash_saving_pct"] >= FLOORS["flash_saving_pct"]
        and r["packed"]["bit_exact"]
        and r["unpacked"]["bit_exact"]
        and r["packed"]["frames"] >= FLOORS["frames"]
        for r in rows
    )
    result = {"model": args.model, "frames_seed": SEED, "rows": rows, "floors": FLOORS,
              "floors_met": ok}  # fmt: skip
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
