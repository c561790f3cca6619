"""Shared artifacts for the metrics tests: a tiny HDF5 dataset, a fitted run directory, and
its FP32 (dynamo export) and INT8 (onnxruntime quantize_static, QDQ) ONNX files.

The dataset: 4 classes, each a complex tone at its own frequency with random phase, in
AWGN at 0 dB, 10 dB or noiseless (SNR = inf), 64 samples per frame — easy enough that a
tiny CNN learns it in a second, so accuracy and confusion are not degenerate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

CLASSES = ("BPSK", "QPSK", "8PSK", "16QAM")
LENGTH = 64
SPEC = "8x8p,12x4p,16x2"
SNRS = (0.0, 10.0, float("inf"))


def make_frames(n: int, length: int, rng: np.random.Generator, classes=CLASSES):
    """(iq (n, 2, L) unit power, label, snr_db, split)."""
    label = np.arange(n) % len(classes)
    snr = np.asarray([SNRS[(i // len(classes)) % len(SNRS)] for i in range(n)], np.float32)
    t = np.arange(length)
    freq = 0.05 + 0.07 * label  # cycles/sample
    phase = rng.uniform(0, 2 * np.pi, n)
    x = np.exp(1j * (2 * np.pi * freq[:, None] * t + phase[:, None]))
    noise_std = np.where(np.isinf(snr), 0.0, 10 ** (-snr / 20))
    noise = (rng.standard_normal((n, length)) + 1j * rng.standard_normal((n, length))) / np.sqrt(2)
    x = x + noise_std[:, None] * noise
    x /= np.sqrt(np.mean(np.abs(x) ** 2, axis=1, keepdims=True))
    iq = np.stack([x.real, x.imag], axis=1).astype(np.float32)
    split = np.zeros(n, np.uint8)
    order = rng.permutation(n)
    split[order[: n // 5]] = 2  # test
    split[order[n // 5 : n // 5 + n // 10]] = 1  # val
    return iq, label.astype(np.int64), snr, split


def write_dataset(path: Path, n: int, length: int, seed: int, classes=CLASSES) -> Path:
    from amrkit.data.native import FrameWriter

    iq, label, snr, split = make_frames(n, length, np.random.default_rng(seed), classes)
    attrs = {
        "sample_rate_hz": 200000.0,
        "samples_per_symbol": 8,
        "snr_convention": "measured",
        "config": {"test": "tones", "seed": seed},
    }
    with FrameWriter(path, n, length, classes, attrs) as w:
        w.write(0, iq, label=label, snr_db=snr, split=split)
    return path


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "tones.h5", 240, LENGTH, seed=7)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, dataset) -> Path:
    """A run directory whose model was fitted for a few hundred Adam steps on the train split."""
    import torch

    from amrkit.artifacts import save_run_info, save_weights
    from amrkit.data.open import open_frames
    from amrkit.models import build, get_spec

    torch.manual_seed(0)
    spec = get_spec(SPEC, num_classes=len(CLASSES))
    model = build(spec)
    with open_frames(dataset) as frames:
        idx = frames.indices("train")
        x = torch.from_numpy(frames.read(idx))
        y = torch.from_numpy(frames.label[idx])
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(150):
        batch = torch.randint(0, len(x), (48,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    model.eval()
    out = tmp_path_factory.mktemp("run")
    save_run_info(out, spec, CLASSES, LENGTH, 200000.0)
    save_weights(out, model)
    return out


def add_metadata(path: Path, spec, precision: str, classes=CLASSES, length=LENGTH) -> Path:
    import onnx

    model = onnx.load(str(path))
    meta = {
        "amrkit.classes": json.dumps(list(classes)),
        "amrkit.frame_length": str(length),
        "amrkit.sample_rate_hz": "200000.0",
        "amrkit.version": "test",
        "amrkit.spec": json.dumps(spec.to_dict()),
        "amrkit.precision": precision,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def onnx_fp32(run_dir, tmp_path_factory) -> Path:
    """The fitted model exported by the default (dynamo) exporter, dynamic batch."""
    import torch
    from torch.export import Dim

    from amrkit.artifacts import load_run

    run = load_run(run_dir)
    path = tmp_path_factory.mktemp("onnx") / "model_fp32.onnx"
    x = torch.zeros(2, 2, LENGTH)
    torch.onnx.export(
        run.model,
        (x,),
        str(path),
        dynamo=True,
        input_names=["iq"],
        output_names=["logits"],
        dynamic_shapes=({0: Dim("batch")},),
        verbose=False,
    )
    return add_metadata(path, run.spec, "fp32")


def calibration_reader(input_name: str, batches):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{input_name: b} for b in batches])

        def get_next(self):
            return next(self.it, None)

    return Reader()


def quantize(src: Path, dst: Path, batches, fmt: str = "QDQ") -> Path:
    """onnxruntime.quantization.quantize_static: per-channel QInt8 weights, QInt8 activations."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    quantize_static(
        str(src),
        str(dst),
        calibration_reader(name, batches),
        quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QInt8,
    )
    return dst


@pytest.fixture(scope="session")
def calibration(dataset):
    from amrkit.data.open import open_frames

    with open_frames(dataset) as frames:
        idx = frames.indices("train")[:64]
        iq = frames.read(idx)
    return [iq[i : i + 16] for i in range(0, len(iq), 16)]


@pytest.fixture(scope="session")
def onnx_int8(onnx_fp32, calibration, tmp_path_factory) -> Path:
    """The FP32 export quantized by quantize_static (QDQ, per-channel QInt8 weights)."""
    path = quantize(onnx_fp32, tmp_path_factory.mktemp("onnx8") / "model_int8.onnx", calibration)
    return add_metadata(path, _spec_of(onnx_fp32), "int8")


def _spec_of(path: Path):
    import onnx

    from amrkit.models import CNNSpec

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return CNNSpec.from_dict(json.loads(meta["amrkit.spec"]))


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """``amrkit ARGS`` in-process through the real entry point (amrkit.cli.main)."""
    from amrkit.cli import main

    capsys.readouterr()
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli(capsys):
    """``cli("evaluate", run, data, "--json") -> (exit code, stdout, stderr)``."""
    return lambda *args: run_cli(capsys, *args)


class Helpers:
    classes = CLASSES
    length = LENGTH
    spec = SPEC
    make_frames = staticmethod(make_frames)
    write_dataset = staticmethod(write_dataset)
    add_metadata = staticmethod(add_metadata)
    quantize = staticmethod(quantize)
    strict_json = staticmethod(lambda text: strict_json(text))
    python = sys.executable


@pytest.fixture(scope="session")
def helpers() -> type[Helpers]:
    return Helpers


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity literals."""

    def bad(token):
        raise ValueError(f"non-strict JSON literal {token}")

    return json.loads(text, parse_constant=bad)
