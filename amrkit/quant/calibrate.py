"""Calibration: which frames exercise the network, and the dynamic ranges they produce.

Frames come from the training split, stratified by class (seeded). Ranges are computed by
ONNX Runtime's calibrators on the FP32 ONNX model (min/max, percentile or entropy), so PTQ
and the initial ranges of QAT are the same numbers.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError

BATCH = 64
ENTROPY_BINS = 2048


def select_calibration(frames: FrameSet, n: int, seed: int) -> np.ndarray:
    """Positions of up to ``n`` training frames, as equal a share per class as possible.

    Every class gets the same share (the first classes one more when ``n`` does not divide);
    a class with too few frames gives all it has and the others share the rest, so exactly
    ``min(n, #train)`` positions come back (sorted).
    """
    train = frames.indices("train")
    if len(train) == 0:
        raise AmrkitError(
            f"{frames.source.get('path', 'the dataset')!r} has no training frames to calibrate "
            "on; use a dataset with a train split"
        )
    rng = np.random.default_rng(seed)
    labels = frames.label[train]
    per_class = [rng.permutation(train[labels == c]) for c in range(frames.num_classes)]
    want = min(n, len(train))
    quota = np.array([len(p) for p in per_class])
    # the highest level t with sum(min(quota, t)) <= want; the rest, one each, to the first
    # classes that still have frames above t
    lo, hi = 0, int(quota.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(quota, mid).sum() <= want:
            lo = mid
        else:
            hi = mid - 1
    take = np.minimum(quota, lo)
    spare = np.flatnonzero(quota > lo)[: want - int(take.sum())]
    take[spare] += 1
    chosen = np.concatenate([p[:t] for p, t in zip(per_class, take, strict=True)])
    return np.sort(chosen.astype(np.int64))


class ArrayReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over (n, 2, L) frames."""

    def __init__(self, iq: np.ndarray, input_name: str = "iq", batch: int = BATCH) -> None:
        self.iq = np.ascontiguousarray(iq, dtype=np.float32)
        self.input_name = input_name
        self.batch = batch
        self.pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.pos >= len(self.iq):
            return None
        part = self.iq[self.pos : self.pos + self.batch]
        self.pos += self.batch
        return {self.input_name: part}

    def __len__(self) -> int:
        return len(self.iq)

    def __iter__(self):  # noqa: ANN204 - ORT's reader protocol
        self.pos = 0
        while (item := self.get_next()) is not None:
            yield item

    def rewind(self) -> None:
        self.pos = 0

    def set_range(self, start_index: int, end_index: int) -> None:  # ORT strided calibration
        self.iq = self.iq[start_index:end_index]
        self.pos = 0


def ort_method(name: str):  # noqa: ANN201 - onnxruntime enum
    from onnxruntime.quantization import CalibrationMethod

    return {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[name]


@contextlib.contextmanager
def quiet_ort():
    """ORT's quantization tools print progress and log warnings; keep them off the CLI."""
    sink = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        logging.disable(previous)


def calibrate(fp32_path: str | Path, iq: np.ndarray, method: str, percentile: float = 99.999):
    """Run ORT's calibrator on ``iq``; returns its ``TensorsData`` (tensor name → range)."""
    from onnxruntime.quantization import create_calibrator

    options: dict = {}
    if method == "percentile":
        options = {"percentile": percentile}
    elif method == "entropy":
        # ORT's defaults (128 bins, 128 quantized bins) leave no threshold to choose (the
        # result equals min/max); use TensorRT's 2048-bin histogram for the KL search
        options = {"num_bins": ENTROPY_BINS, "num_quantized_bins": 128}
    with tempfile.TemporaryDirectory(prefix="amrkit-calib-") as tmp, quiet_ort():
        calibrator = create_calibrator(
            Path(fp32_path),
            None,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=ort_method(method),
            extra_options=options,
        )
        calibrator.collect_data(ArrayReader(iq))
        data = calibrator.compute_data()
        del calibrator
    return data


def tensor_ranges(data) -> dict[str, tuple[float, float]]:  # noqa: ANN001 - ORT TensorsData
    """``TensorsData`` → {tensor: (min, max)} as plain floats."""
    out = {}
    for name, td in data.items():
        lo, hi = td.range_value
        out[name] = (float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0]))
    return out
