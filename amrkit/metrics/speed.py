"""Latency and throughput of model artifacts, timed so that a noisy machine hits every case
alike (interleaved short blocks, medians). Used by ``benchmarks/bench_infer.py`` and the
``reproduce`` report; never by tests as an assertion.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.runtime import ort_session


def time_interleaved(
    cases: dict[str, Callable[[], object]],
    min_time: float,
    block: float = 0.2,
    min_rounds: int = 3,
) -> dict[str, list[float]]:
    """Seconds per call of every case, timed in rounds of short blocks (each case one block
    per round, rotating order), so the load of a shared machine hits all cases alike. Each
    block starts after a pause and one untimed call: the previous case's spinning worker
    threads (OpenMP, ORT) must not be billed to the next case."""
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    rounds = 0
    start = time.perf_counter()
    while rounds < min_rounds or time.perf_counter() - start < min_time * len(names):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            time.sleep(0.05)
            cases[name]()
            t_block = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                cases[name]()
                t1 = time.perf_counter()
                times[name].append(t1 - t0)
                if t1 - t_block >= block:
                    break
        rounds += 1
    return times


def summarize(times: list[float], batch: int) -> dict[str, float]:
    med = statistics.median(times)
    return {
        "frames_per_s": round(batch / med, 1),
        "ms_per_batch_median": round(1e3 * med, 4),
        "ms_per_batch_p90": round(1e3 * float(np.percentile(times, 90)), 4),
        "reps": len(times),
    }


def time_artifacts(
    torch_model: Any,
    onnx_files: dict[str, str | Path],
    frame_length: int,
    batches: tuple[int, ...] = (1, 256),
    threads: int = 2,
    min_time: float = 1.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows ``{runtime, batch, frames_per_s, ms_per_batch_median, ...}`` for torch eager FP32
    (``torch_model``) and each ONNX file (``{"ORT FP32": path, "ORT INT8": path}``), timed
    interleaved with ``threads`` intra-op threads everywhere."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(seed)
        x = (rng.standard_normal((max(batches), 2, frame_length)) / np.sqrt(2)).astype(np.float32)
        sessions = {label: ort_session(path, threads=threads) for label, path in onnx_files.items()}
        rows = []
        model = torch_model.eval()
        for batch in batches:
            xb = np.ascontiguousarray(x[:batch])
            xt = torch.from_numpy(xb)

            def run_torch(t: torch.Tensor = xt) -> object:
                with torch.inference_mode():
                    return model(t)

            cases: dict[str, Callable[[], object]] = {"torch FP32": run_torch}
            for label, sess in sessions.items():
                feed = {sess.get_inputs()[0].name: xb}
                cases[label] = lambda s=sess, f=feed: s.run(None, f)
            blocks = time_interleaved(cases, min_time, block=min(0.2, min_time))
            for label, times in blocks.items():
                rows.append({"runtime": label, "batch": batch, **summarize(times, batch)})
        return rows
    finally:
        torch.set_num_threads(previous)
