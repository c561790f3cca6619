"""Issue 25: rebuild a shipped zoo entry from its card and compare the result with the card.

Reruns the card (``amrkit zoo rebuild``): regenerate the training data from the recorded
synthesizer config (its config hash must match: synthesis is deterministic), train with the
recorded TrainConfig, quantize with the recorded PTQConfig, measure on the card's own
independent test sets, and print the comparison as JSON: FP32 / INT8 accuracy at the test
SNR (card, rebuild, difference), the largest per-SNR difference of the sweep, MACs,
learnables and INT8 bytes (equal by construction), golden bit-exactness, training wall time
and machine of both, and ``within_tolerance`` (|difference| ≤ 0.3 pt for FP32 and INT8:
the issue's floor). A rebuild that was interrupted resumes from its checkpoint.

At the paper's scale (``original`` and ``optimized``: 10,000 frames per class) this trains
for as long as the entry's card says it did::

    .venv/bin/python benchmarks/bench_zoo.py optimized --out runs/rebuild-optimized

A quick check of the mechanism on the tiny entry the tests build is
``tests/zoo/test_zoo_build.py::test_rebuild_reruns_the_card_and_compares``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="zoo entry (optimized or zoo:optimized)")
    parser.add_argument("--out", required=True, help="folder for data, run, entry, comparison")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--workers", type=int, default=2, help="synthesis workers")
    parser.add_argument("--threads", type=int, default=None, help="inference/training threads")
    parser.add_argument("--tolerance", type=float, default=0.3, help="points (FP32 and INT8)")
    parser.add_argument("--no-mcu", action="store_true", help="skip the Cortex-M measurement")
    parser.add_argument("--zoo", default=None, help="zoo folder (default: the shipped one)")
    args = parser.parse_args(argv)

    from amrkit.errors import AmrkitError
    from amrkit.zoo.rebuild import rebuild

    name = args.name.removeprefix("zoo:")
    started = time.time()
    try:
        result = rebuild(
            name, args.out, device=args.device, workers=args.workers, threads=args.threads,
            tolerance_pt=args.tolerance, mcu=False if args.no_mcu else None,
            progress=sys.stderr.isatty(), zoo_dir=args.zoo,
            log=lambda m: print(m, file=sys.stderr),
        )  # fmt: skip
    except AmrkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result["bench_wall_s"] = round(time.time() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
