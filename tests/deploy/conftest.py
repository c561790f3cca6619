"""Fixtures for the deploy tests: a tiny synthetic dataset, both paper networks trained for
one short epoch and quantized (PTQ), generated as C libraries once per session; a grouped
and a mixed-precision model; the golden model's integers on the test frames, computed once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FRAMES_PER_CLASS = 100  # 11 classes: 1,100 frames, all of them run through the C code
MODELS = ("original", "optimized")


@pytest.fixture(scope="session")
def deploy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from amrkit.data.synth import SynthConfig, synthesize

    path = tmp_path_factory.mktemp("deploy_data") / "frames.h5"
    synthesize(SynthConfig(frames_per_class=FRAMES_PER_CLASS, seed=3), path)
    return path


@pytest.fixture(scope="session")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """220 frames: enough for one short epoch and a calibration (fast on 2 cores)."""
    from amrkit.data.synth import SynthConfig, synthesize

    path = tmp_path_factory.mktemp("deploy_train") / "train.h5"
    synthesize(SynthConfig(frames_per_class=20, seed=4), path)
    return path


@pytest.fixture(scope="session")
def deploy_iq(deploy_data: Path) -> np.ndarray:
    """(1100, 2, 1024) float32: every frame of the dataset."""
    from amrkit.data.open import open_frames

    with open_frames(deploy_data) as frames:
        return frames.read(frames.indices("all"))


def _int8_model(root: Path, data: Path, model: str) -> Path:
    import torch

    from amrkit.data.open import open_frames
    from amrkit.quant import PTQConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = root / f"run_{model}"
        cfg = TrainConfig(epochs=1, batch_size=64)
        train_model(data, model, run, cfg, device="cpu", progress=False)
        with open_frames(data) as frames:
            quantize(run, PTQConfig(calib_frames=64), frames, root / f"q_{model}")
    finally:
        torch.set_num_threads(threads)
    return root / f"q_{model}" / "model_int8.onnx"


@pytest.fixture(scope="session")
def int8_models(tmp_path_factory: pytest.TempPathFactory, train_data: Path) -> dict[str, Path]:
    """model name → model_int8.onnx (amrkit train 1 epoch + amrkit quantize)."""
    root = tmp_path_factory.mktemp("deploy_models")
    return {m: _int8_model(root, train_data, m) for m in MODELS}


@pytest.fixture(scope="session")
def libraries(int8_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """model name → (IntegerModel, generated library folder)."""
    from amrkit.deploy import write_library
    from amrkit.golden import load_integer_model

    root = tmp_path_factory.mktemp("deploy_libs")
    out = {}
    for name, path in int8_models.items():
        model = load_integer_model(path)
        write_library(model, root / name)
        out[name] = (model, root / name)
    return out


def corrupt_weight(lib: Path, array: str = "amr_conv3_w", delta: int = 37) -> None:
    """Change the first value of a weight array in amr_weights.c (the control)."""
    path = lib / "amr_weights.c"
    text = path.read_text()
    head = text.index(f"{array}[")
    start = text.index("{\n    ", head) + 6
    end = text.index(",", start)
    value = int(text[start:end])
    new = (value + delta + 128) % 256 - 128
    path.write_text(text[:start] + str(new) + text[end:])


@pytest.fixture(scope="session")
def corrupt():
    """The control's tool: ``corrupt(lib_dir)`` changes one weight of a generated library."""
    return corrupt_weight


GROUPED_SPEC = "16x4p,24x2g2p,32x2g4p,48x2g8p,64x2g16p,96x2g2p,128x2g32"  # optimized, grouped
MIXED_SPEC = "16x4p,24x2p,32x2p,48x2p,64x2"  # QAT with per-layer bits (4, 5, 6 and 7)
MIXED_BITS = (("conv2", 4), ("conv4", 5), ("fc", 6))


@pytest.fixture(scope="session")
def grouped_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The optimized network with grouped layers (2 to 32 groups), untrained, quantized as
    ``amrkit quantize`` does (portable PTQ, calibrated on noise frames)."""
    import onnx
    import torch

    from amrkit.export.graph import set_metadata
    from amrkit.export.onnx_export import export_model
    from amrkit.models import build, get_spec
    from amrkit.quant.calibrate import calibrate
    from amrkit.quant.config import PTQConfig
    from amrkit.quant.ptq import ptq_onnx

    folder = tmp_path_factory.mktemp("deploy_grouped")
    torch.manual_seed(0)
    model = build(get_spec(GROUPED_SPEC)).eval()
    fp32 = folder / "grouped_fp32.onnx"
    export_model(model, fp32, classes=[f"c{i}" for i in range(11)], frame_length=1024)
    calib = np.random.default_rng(1).standard_normal((64, 2, 1024)).astype(np.float32) / 1.4
    cfg = PTQConfig()
    q = ptq_onnx(fp32, cfg, calibrate(fp32, calib, cfg.method))
    set_metadata(q, {"amrkit.precision": "int8"})
    onnx.save_model(q, str(folder / "grouped_int8.onnx"))
    return folder / "grouped_int8.onnx"


@pytest.fixture(scope="session")
def mixed_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A mixed-precision QAT file (conv2 at 4 bits, conv4 at 5, fc at 6, the rest at 7) of a
    5-layer network at L = 256, and 1,100 frames of its length."""
    import torch

    from amrkit.data.open import open_frames
    from amrkit.data.synth import SynthConfig, synthesize
    from amrkit.quant import QATConfig, quantize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model

    root = tmp_path_factory.mktemp("deploy_mixed")
    train, test = root / "train.h5", root / "test.h5"
    synthesize(SynthConfig(frames_per_class=20, frame_length=256, seed=6), train)
    synthesize(SynthConfig(frames_per_class=100, frame_length=256, seed=7), test)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_model(train, MIXED_SPEC, root / "run", TrainConfig(epochs=1, batch_size=64),
                    device="cpu", progress=False)  # fmt: skip
        with open_frames(train) as frames:
            cfg = QATConfig(epochs=0, calib_frames=64, layer_bits=MIXED_BITS)
            quantize(root / "run", cfg, frames, root / "q")
    finally:
        torch.set_num_threads(threads)
    return root / "q" / "model_int8.onnx", test


class Golden:
    """The golden model's integers on fixed frames, computed once per (model, frames). The
    cache holds the objects it keys on, so their ids stay theirs."""

    def __init__(self) -> None:
        self._ints: dict[tuple[int, int], tuple[object, np.ndarray, np.ndarray]] = {}
        self._traces: dict[tuple[int, int], tuple[object, np.ndarray, dict]] = {}

    def ints(self, model, iq: np.ndarray) -> np.ndarray:
        """(n, classes) int64 final integers from float frames (input quantization included)."""
        key = (id(model), id(iq))
        if key not in self._ints:
            self._ints[key] = (model, iq, model.run(iq)[1].astype(np.int64))
        return self._ints[key][2]

    def trace(self, model, iq: np.ndarray) -> dict[str, np.ndarray]:
        """Every tensor (the input integers, each operator's output) on ``iq``."""
        key = (id(model), id(iq))
        if key not in self._traces:
            trace: dict[str, np.ndarray] = {"input": model.quantize_input(iq)}
            model.run_integer(trace["input"], trace=trace)
            self._traces[key] = (model, iq, trace)
        return self._traces[key][2]


@pytest.fixture(scope="session")
def golden() -> Golden:
    return Golden()


@pytest.fixture(scope="session")
def trace_iq(deploy_iq: np.ndarray) -> np.ndarray:
    """100 frames spread over the classes: the debug builds' tensor comparisons."""
    return np.ascontiguousarray(deploy_iq[::11][:100])


HAND_ROUNDING = "float32"


def _requant(op, real, zp: int, dtype: str = "int8") -> None:
    from amrkit.golden.ops import Requant

    bound = op.acc_bound()
    op.requant = Requant.from_real(np.asarray(real), zp, dtype, False, HAND_ROUNDING, bound)


def build_hand_model():
    """Every kernel of the generator: reflect padding, a strided dilated conv with a negative
    multiplier, a 3-wide padded max-pool (fused: min of the accumulators where M0 < 0), ReLU,
    a uint8 re-scale, an average pool, a reshape and a dense layer with an int8 output."""
    from amrkit.golden.model import IntegerModel
    from amrkit.golden.ops import Conv1d, Dense, MaxPool1d, Mean, Pad1d, Relu, Rescale, Reshape

    rng = np.random.default_rng(11)
    pad = Pad1d("pad", ["input"], (2, 64), (2, 68), pads=(2, 2), mode="reflect")
    w, wzp = rng.integers(-90, 90, (5, 2, 3)).astype(np.int8), np.zeros(5, np.int64)
    conv = Conv1d("conv", ["pad"], (2, 68), (5, 33), input_zero_point=3,
                  bias=rng.integers(-500, 500, 5), weight=w, weight_zero_point=wzp,
                  pads=(1, 0), stride=2, dilation=2)  # fmt: skip
    _requant(conv, [0.004, -0.003, 0.005, 0.002, -0.006], -5)
    pool = MaxPool1d("pool", ["conv"], (5, 33), (5, 17), kernel=3, stride=2, pads=(1, 1))
    relu = Relu("relu", ["pool"], (5, 17), (5, 17), zero_point=-2)
    rs = Rescale("rs", ["relu"], (5, 17), (5, 17), input_zero_point=-5, bias=rng.integers(-9, 9, 5))
    _requant(rs, [0.7, 1.3, 0.9, 1.1, 0.5], 100, "uint8")
    gap = Mean("gap", ["rs"], (5, 17), (5, 1), input_zero_point=100, input_dtype="uint8", count=17,
               bias=np.zeros(5, np.int64))  # fmt: skip
    _requant(gap, [0.8 / 17] * 5, 4)
    flat = Reshape("flat", ["gap"], (5, 1), (5,))
    fc = Dense("fc", ["flat"], (5,), (4,), input_zero_point=4, bias=rng.integers(-99, 99, 4),
               weight=rng.integers(-127, 127, (4, 5)).astype(np.int8),
               weight_zero_point=np.zeros(4, np.int64))  # fmt: skip
    _requant(fc, [0.01, 0.02, 0.015, 0.03], 7)
    ops = [pad, conv, pool, relu, rs, gap, flat, fc]
    scale = np.full(4, 0.1)
    return IntegerModel(0.05, 3, "int8", (2, 64), ops, "fc", scale, 7, (4,), HAND_ROUNDING)


@pytest.fixture(scope="session")
def hand_model():
    return build_hand_model()
