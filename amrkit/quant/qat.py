"""Quantization-aware training: calibrate, fine-tune with fake quantization, export QDQ.

The fine-tune uses the project's loop (:func:`amrkit.train.loop.train_one_epoch` and
:func:`~amrkit.train.loop.evaluate`) on a :class:`FakeQuantCNN`; batch norm is folded into
the conv weights before it starts, so BN is frozen by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import torch

from amrkit.data.frames import FrameSet
from amrkit.errors import AmrkitError
from amrkit.export.graph import _consumers
from amrkit.export.onnx_export import clean_graph, trace_to_onnx
from amrkit.models.deploy import DeployCNN
from amrkit.quant.config import QATConfig
from amrkit.quant.fakequant import FakeQuantCNN, ensure_export_support
from amrkit.quant.qdq import finalize_qdq


def build_fake_quant(deploy: DeployCNN, config: QATConfig) -> FakeQuantCNN:
    return FakeQuantCNN(
        DeployCNN.from_model(deploy),
        weight_bits=config.bits,
        per_channel=config.per_channel,
        activation_type=config.activation_type,
        exclude=config.exclude,
        range_momentum=config.range_momentum,
        layer_bits=dict(config.layer_bits),
    )


def quant_points(fp32: onnx.ModelProto) -> dict[str, str]:
    """Which FP32-graph tensor each activation quantizer watches.

    Keys: ``in:<layer>`` (the layer's input), ``out:<conv>`` (its ReLU output) and ``gap``.
    """
    g = fp32.graph
    consumers = _consumers(g)
    points: dict[str, str] = {}
    for node in g.node:
        if node.op_type == "Conv":
            points[f"in:{node.name}"] = node.input[0]
            relu = [n for n in consumers.get(node.output[0], []) if n.op_type == "Relu"]
            points[f"out:{node.name}"] = relu[0].output[0] if relu else node.output[0]
        elif node.op_type == "GlobalAveragePool":
            points["in:fc"] = node.input[0]
            points["gap"] = node.output[0]
    return points


def init_ranges(
    fq: FakeQuantCNN, ranges: dict[str, tuple[float, float]], points: dict[str, str]
) -> None:
    """Start every activation quantizer from the calibrated range of the tensor it watches."""
    pairs = [(f"in:{k}", q) for k, q in fq.act_in.items()]
    pairs += [(f"out:{k}", q) for k, q in fq.act_out.items()]
    if fq.act_gap is not None:
        pairs.append(("gap", fq.act_gap))
    for key, q in pairs:
        tensor = points.get(key)
        if tensor is None or tensor not in ranges:
            raise AmrkitError(f"no calibrated range for {key} (tensor {tensor!r})")
        q.set_range(*ranges[tensor])


def finetune(
    fq: FakeQuantCNN,
    frames: FrameSet,
    config: QATConfig,
    *,
    memory_mb: float = 2048,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """``config.epochs`` epochs of SGD on the training split; returns one history row per epoch
    (train loss/accuracy, fake-quant validation loss/accuracy). Keeps the last epoch's weights."""
    from amrkit.train.data import epoch_order, load_split
    from amrkit.train.loop import evaluate, set_lr, train_one_epoch

    if config.epochs == 0:
        return []
    train = load_split(frames, "train", memory_mb=memory_mb, batch_size=config.batch_size)
    val = load_split(frames, "val", memory_mb=memory_mb, batch_size=config.batch_size)
    if len(train) == 0:
        raise AmrkitError("no training frames for quantization-aware training; need a train split")
    params = list(fq.net.parameters())
    opt = torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    history = []
    for epoch in range(config.epochs):
        # cosine decay per epoch, from lr to lr/10 at the last epoch
        frac = epoch / max(1, config.epochs - 1)
        lr = config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        set_lr(opt, lr)
        order = epoch_order(config.seed, epoch, len(train), block=train.block)
        stats = train_one_epoch(fq, opt, train.batches(order, config.batch_size))
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": stats.loss,
            "train_acc": stats.accuracy,
        }
        if len(val):
            v = evaluate(fq, val.batches(torch.arange(len(val)), 1024))
            row.update(val_loss=v.loss, val_acc=v.accuracy)
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
    fq.eval()
    return history


def export_qat(fq: FakeQuantCNN, frame_length: int) -> onnx.ModelProto:
    """The QDQ ONNX graph of a fake-quant model (ORT's layout, see :mod:`amrkit.quant.qdq`)."""
    ensure_export_support()
    fq.eval()
    fq.set_export(True)
    try:
        proto = trace_to_onnx(fq, frame_length, fq.net.spec.in_channels)
    finally:
        fq.set_export(False)
    layers = clean_graph(proto)
    if layers != fq.net.layer_names():
        raise AmrkitError(f"QAT graph has layers {layers}, expected {fq.net.layer_names()}")
    finalize_qdq(proto, per_tensor_weights=not fq.per_channel)
    return proto


def fake_quant_logits(fq: FakeQuantCNN, iq: np.ndarray) -> np.ndarray:
    fq.eval()
    with torch.inference_mode():
        return fq(torch.from_numpy(np.ascontiguousarray(iq, dtype=np.float32))).numpy()
