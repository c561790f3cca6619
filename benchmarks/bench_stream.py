"""Live streams: a long ci16 stream at 2.4 MS/s piped through standard input into
``amrkit classify MODEL -`` (a separate process, as ``rtl_sdr … - | amrkit …`` runs it).

Measured (issue 28's floors, printed as JSON):

- **identical decisions**: the stream's CSV (``--out``, written as decisions come) against
  ``amrkit classify MODEL FILE --out`` on the same samples as a file: byte for byte;
- **flat memory**: the classifier's resident memory (``VmRSS``) when 10 s of input have
  been written into the pipe and at the end (60 s): growth <= 20 %; also the peak (``VmHWM``);
- **speed**: × real time, from the stream's own summary (signal seconds per second of work,
  resampling 2.4 MHz → 200 kHz included) and end to end (input seconds / process wall time,
  start-up included). Floor: >= 10x with the optimized INT8 model on 2 cores.

Without ``--model`` the paper's ``optimized`` network is built with random weights and
quantized to INT8 exactly as ``benchmarks/bench_classify.py`` does (speed and identity do not
depend on the weights); ``--model`` takes anything ``amrkit classify`` does (a run folder, an
ONNX file, ``zoo:optimized``).

    .venv/bin/python benchmarks/bench_stream.py [--seconds 60] [--model PATH] [--threads 2]
        [--runtime auto]

The full run writes a 576 MB stream file into a temporary folder; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RATE = 2.4e6  # stream, samples/s (RTL-SDR's usual rate)
BLOCK = 1 << 20  # samples generated / written at a time
FLOOR_X_REAL_TIME = 10.0
FLOOR_RSS_GROWTH = 0.20


def write_stream(path: Path, seconds: float, rng: np.random.Generator) -> int:
    """``seconds`` of 2.4 MS/s ci16_le: segments of QPSK, tones and noise (random lengths),
    written block by block; returns the number of samples."""
    n = int(seconds * RATE)
    with open(path, "wb") as f:
        for start in range(0, n, BLOCK):
            k = min(BLOCK, n - start)
            kind = rng.integers(0, 3)
            t = np.arange(k)
            if kind == 0:  # QPSK at 12 samples per symbol (200 kbaud)
                sym = rng.integers(0, 4, k // 12 + 1)
                z = np.repeat(np.exp(1j * (np.pi / 4 + np.pi / 2 * sym)), 12)[:k]
            elif kind == 1:
                z = np.exp(2j * np.pi * rng.uniform(-0.03, 0.03) * t)
            else:
                z = np.zeros(k, np.complex128)
            z = z + 0.1 * (rng.standard_normal(k) + 1j * rng.standard_normal(k))
            inter = np.stack([z.real, z.imag], axis=1) * 0.25 * 32768  # (k, 2), headroom
            f.write(np.round(inter).astype("<i2").tobytes())
    return n


def default_model(folder: Path) -> Path:
    """The optimized network, INT8 portable, random weights (as bench_classify.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_classify import make_int8

    return make_int8(folder, np.random.default_rng(0))


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def classify_cmd(model: str, source: str, out: Path, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "amrkit", "classify", model, source, "--format", "ci16",
           "--sample-rate", str(RATE), "--out", str(out), "--json",
           "--runtime", args.runtime]  # fmt: skip
    return cmd + (["--threads", str(args.threads)] if args.threads else [])


def run_file(model: str, stream: Path, out: Path, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run(
        classify_cmd(model, str(stream), out, args), capture_output=True, check=True
    )
    summary = json.loads(done.stdout)
    return {"wall_s": time.perf_counter() - t0, "summary": summary}


def run_stream(model: str, stream: Path, out: Path, args: argparse.Namespace) -> dict:
    """Pipe the stream file into ``classify MODEL -`` as fast as it reads; sample its RSS
    against the input written so far."""
    proc = subprocess.Popen(
        classify_cmd(model, "-", out, args),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    written = [0]
    samples_at = {}  # input seconds mark → memory then

    def feed() -> None:
        with open(stream, "rb") as f:
            while data := f.read(1 << 20):
                proc.stdin.write(data)
                written[0] += len(data)
        proc.stdin.close()

    t0 = time.perf_counter()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    trace, last = [], {}
    while proc.poll() is None:
        seconds_in = written[0] / 4 / RATE
        try:
            mem = rss_kib(proc.pid)
        except (FileNotFoundError, ProcessLookupError):
            break
        trace.append((round(seconds_in, 2), mem.get("VmRSS", 0)))
        for mark in args.marks:
            if mark not in samples_at and seconds_in >= mark:
                samples_at[mark] = {**mem, "input_s": round(seconds_in, 2)}
        if feeder.is_alive():
            last = {**mem, "input_s": round(seconds_in, 2)}
        time.sleep(0.05)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # stdin: closed by the feeder
    proc.wait()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stream run failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    samples_at["end_of_input"] = last
    return {"wall_s": wall, "summary": json.loads(stdout), "memory": samples_at, "trace": trace}


def rss_profile(trace: list[tuple[float, int]], seconds: float) -> dict[str, int]:
    """VmRSS (KiB) when 10 %, 20 %, … of the input had been written."""
    out = {}
    for k in range(1, 11):
        mark = seconds * k / 10
        hit = next((rss for s, rss in trace if s >= mark), None)
        if hit is not None:
            out[f"{mark:g}"] = hit
    return out


def compare(a: Path, b: Path) -> dict:
    """Byte equality of two prediction files, and the first differing line if any."""
    same = a.read_bytes() == b.read_bytes()
    out = {"identical": same}
    if not same:
        la, lb = a.read_text().splitlines(), b.read_text().splitlines()
        first = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), None)
        out |= {"lines": [len(la), len(lb)], "first_difference": first}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="stream length at 2.4 MS/s")
    ap.add_argument("--model", help="run folder, .onnx or zoo:NAME (default: optimized INT8)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runtime", default="auto")
    ap.add_argument("--keep", help="write the stream and outputs here instead of a temp folder")
    args = ap.parse_args()
    early = min(10.0, args.seconds / 6)  # the "10 s" mark of a shorter check run
    args.marks = (early,)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        model = args.model or str(default_model(folder))
        stream = folder / "stream.ci16"
        n = write_stream(stream, args.seconds, np.random.default_rng(0))
        file_run = run_file(model, stream, folder / "file.csv", args)
        live = run_stream(model, stream, folder / "stream.csv", args)
        same = compare(folder / "file.csv", folder / "stream.csv")
    mem = live["memory"]
    rss_early, rss_end = mem[early]["VmRSS"], mem["end_of_input"]["VmRSS"]
    growth = rss_end / rss_early - 1
    s = live["summary"]
    xrt = s["times_real_time"]
    out = {
        "benchmark": "stream",
        "stream": {
            "seconds": args.seconds,
            "samples": n,
            "sample_rate_hz": RATE,
            "datatype": "ci16_le",
            "via": "standard input (a pipe), 1 MiB writes",
        },  # fmt: skip
        "model": model if args.model else "optimized INT8 (random weights, bench_classify)",
        "runtime": args.runtime,
        "threads": args.threads,
        "decisions": {**same, "frames": s["frames"], "file_frames": file_run["summary"]["frames"]},
        "memory_kib": {
            f"rss_at_{early:g}s_input": rss_early,
            "rss_at_end_of_input": rss_end,
            "peak_hwm": mem["end_of_input"].get("VmHWM"),
            "growth": round(growth, 4),
            # the resident memory after each further 10 % of the input (flat = bounded)
            "rss_by_input_s": rss_profile(live["trace"], args.seconds),
        },
        "speed": {
            "stream_times_real_time": round(xrt, 2) if xrt else None,
            "stream_end_to_end_times_real_time": round(args.seconds / live["wall_s"], 2),
            "stream_wall_s": round(live["wall_s"], 2),
            "file_times_real_time": file_run["summary"]["times_real_time"],
            "file_wall_s": round(file_run["wall_s"], 2),
            "model_share_of_busy": round(s["inference_s"] / s["busy_s"], 3),
            "resampling": s["resampling"],
        },
        "stream_summary": {
            k: s[k]
            for k in (
                "end",
                "samples_received",
                "samples_dropped",
                "partial_frame_samples",
                "backpressure",
            )
        },  # fmt: skip
        "floors": {
            "identical_decisions": same["identical"],
            "rss_growth_le_20pct": growth <= FLOOR_RSS_GROWTH,
            "ge_10x_real_time": bool(xrt and xrt >= FLOOR_X_REAL_TIME),
        },
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
