"""The ``openvino`` runtime: an ONNX file compiled by OpenVINO's CPU plugin (optional
dependency: ``pip install openvino``).

OpenVINO reads the QDQ graph itself and fuses it into its own int8 kernels, with its own
requantization, so it is *not* guaranteed to compute the golden model's integers: amrkit
measures whether it does (``benchmarks/bench_infer.py``, ``tests/runtime``) and never picks it
by default (docs/runtimes.md). Float inference precision is pinned to f32 (no bf16 on CPUs
with AMX or AVX-512 BF16), one stream, ``threads`` inference threads.

On amrkit's INT8 files OpenVINO rescales the final integers to float in another order than
the golden model (logits 1 ulp apart) and requantizes some activations differently (measured
on the paper's optimized network, L = 1024, AVX2: 5 of 256 noise frames ended in other
integers). Given the golden model's
``output_scale`` and zero point, :class:`OpenVinoRuntime` recovers the integers
(``rint(logit / scale) + zp``, valid while OpenVINO's float error stays below half a step)
and dequantizes them as the golden model does, so equal integers give identical logits and
an integer that differs still shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise AmrkitError(
            "--runtime openvino needs the openvino package; install it "
            "(pip install 'amrkit[openvino]' or pip install openvino) or use --runtime ort"
        ) from None
    return openvino


class OpenVinoRuntime:
    """``logits(iq (n, 2, L) float32) -> (n, C) float32`` through an OpenVINO CPU model."""

    name = "openvino"

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        output_scale: np.ndarray | None = None,
        output_zero_point: int = 0,
    ):
        ov = _openvino()
        self._scale = None if output_scale is None else np.asarray(output_scale, np.float32)
        self._zp = int(output_zero_point)
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "f32",
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            core = ov.Core()
            self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise AmrkitError(f"OpenVINO cannot load {str(path)!r}: {first[:200]}") from None
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)

    def logits(self, iq: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(iq, dtype=np.float32)
        if len(x) == 0:
            return np.empty((0, self._output.get_partial_shape()[-1].get_length()), np.float32)
        out = np.asarray(self._request.infer({0: x})[self._output], dtype=np.float32).copy()
        if self._scale is None:
            return out
        scale = self._scale.reshape(1, -1)
        ints = np.rint(out.astype(np.float64) / scale) + self._zp  # OpenVINO's integers
        return ((ints - self._zp).astype(np.float32) * scale).astype(np.float32)
