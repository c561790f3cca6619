"""A tiny model (four easily told apart classes at 1 MHz, frames of 64 samples), trained once
for these tests in a few seconds and exported to ONNX FP32 and INT8; signals made of known
segments, and their bytes in any raw format."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

CLASSES = ("tone+", "tone-", "bpsk", "noise")
L = 64
RATE = 1e6
SPEC = "8x4p,16x4p,16x2"
SEGMENTS = [0, 2, 1, 3, 2, 0, 3, 1]


def synth(c: int, n: int, r: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of class ``c`` at ``r`` times the model's rate, 15 dB SNR."""
    t = np.arange(n)
    phi = rng.uniform(0, 2 * np.pi)
    if c in (0, 1):
        f = (1 if c == 0 else -1) * rng.uniform(0.04, 0.12) / r
        z = np.exp(1j * (2 * np.pi * f * t + phi))
    elif c == 2:
        symbols = rng.choice([-1.0, 1.0], int(np.ceil(n / (8 * r))) + 1)
        z = symbols[(t // (8 * r)).astype(int)] * np.exp(1j * phi)
    else:
        z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 10 ** (-15 / 20) / np.sqrt(2)
    return (z + noise).astype(np.complex64)


def signal(r: float, frames_per_segment: int, seed: int, segments=SEGMENTS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seg = int(round(frames_per_segment * L * r))
    return np.concatenate([synth(c, seg, r, rng) for c in segments])


def encode(z: np.ndarray, datatype: str) -> bytes:
    """Complex samples → raw bytes (written independently of amrkit's reader)."""
    inter = np.stack([z.real, z.imag], axis=1).astype(np.float64) * 0.25  # (n, 2), headroom
    if datatype == "cf32":
        return inter.astype("<f4").tobytes()
    if datatype == "ci16":
        return np.clip(np.round(inter * 32768), -32768, 32767).astype("<i2").tobytes()
    if datatype == "cu8":
        return np.clip(np.round(inter * 128 + 127.5), 0, 255).astype("u1").tobytes()
    raise ValueError(datatype)


@pytest.fixture(scope="session")
def kit():
    return SimpleNamespace(
        CLASSES=CLASSES, L=L, RATE=RATE, SEGMENTS=SEGMENTS, signal=signal, encode=encode
    )


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    import torch

    from amrkit.artifacts import save_run_info, save_weights
    from amrkit.data.recording import normalize_power
    from amrkit.models import build

    root = tmp_path_factory.mktemp("stream-models")
    rng = np.random.default_rng(0)
    n = 2000
    label = rng.integers(0, 4, n)
    z = np.stack([synth(int(c), L, 1.0, rng) for c in label])  # (n, L)
    x = normalize_power(np.stack([z.real, z.imag], axis=1).astype(np.float32))  # (n, 2, L)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = build(SPEC, num_classes=4)
    opt = torch.optim.Adam(model.parameters(), 5e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(label)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model on a shared machine: threads only contend
    for _ in range(5):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        assert (model(xt).argmax(1) == yt).float().mean() > 0.97  # the model learned the task
    torch.set_num_threads(threads)
    run = root / "run"
    save_run_info(run, model.spec, CLASSES, L, RATE)
    save_weights(run, model)
    fp32 = _export(model, root / "m.onnx")
    int8 = _quantize(fp32, root / "m.int8.onnx", x[:256])
    return {"run": run, "onnx": fp32, "int8": int8}


def _metadata(path, precision):
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    for key, value in {
        "amrkit.classes": json.dumps(list(CLASSES)), "amrkit.frame_length": str(L),
        "amrkit.sample_rate_hz": str(RATE), "amrkit.version": "0.1.0",
        "amrkit.spec": json.dumps({"layers": SPEC}), "amrkit.precision": precision,
    }.items():  # fmt: skip
        p = m.metadata_props.add()
        p.key, p.value = key, value
    onnx.save(m, str(path))
    return path


def _export(model, path):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.zeros(32, 2, L),), str(path), input_names=["iq"],
            output_names=["logits"], dynamic_axes={"iq": {0: "batch"}}, dynamo=False,
        )  # fmt: skip
    return _metadata(path, "fp32")


def _quantize(fp32, path, calib):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"iq": calib[i : i + 32]} for i in range(0, len(calib), 32)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        str(fp32), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        weight_type=QuantType.QInt8, activation_type=QuantType.QInt8,
    )  # fmt: skip
    return _metadata(path, "int8")
