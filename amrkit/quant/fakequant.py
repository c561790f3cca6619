"""Fake quantization of an AMR CNN for quantization-aware training.

:class:`FakeQuantCNN` is an ``nn.Module`` on (n, 2, L) float tensors → (n, classes) logits,
so any loop that trains a classifier trains it. It wraps the BN-folded :class:`DeployCNN`
and inserts ``torch.fake_quantize_per_tensor_affine`` on activations and
``torch.fake_quantize_per_channel_affine`` (or per-tensor) on weights, at exactly the points
where ONNX Runtime's QDQ graph quantizes (so the exported model computes what was trained)::

    iq ─Q/DQ→ conv1(W̃) → ReLU ─Q/DQ→ [pool ─Q/DQ (same scale)→] conv2(W̃) … → mean ─Q/DQ→ fc(W̃)

``W̃`` are weights on the symmetric grid ``s·{−(2^(b−1)−1) … 2^(b−1)−1}`` (``s`` per output
channel = max|w|/(2^(b−1)−1)); gradients pass straight through inside the clipping range.
Activation ranges start from calibration and follow an exponential moving average of the
batch min/max in training mode (``range_momentum``); eval mode uses them frozen. Biases
stay float here; the exporter stores them as int32 with scale ``s_x·s_w`` like ORT does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amrkit.models.deploy import DeployCNN

QRANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def affine_params(rmin: float, rmax: float, qmin: int, qmax: int) -> tuple[float, int]:
    """Scale and zero point of the range [rmin, rmax] (made to include 0), as ORT computes them:
    ``s = (rmax − rmin)/(qmax − qmin)``, ``z = round(qmin − rmin/s)`` (float32 scale)."""
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    scale = (rmax - rmin) / (qmax - qmin)
    if np.float32(scale) < np.finfo(np.float32).tiny:
        return 1.0, 0
    zp = int(np.round(qmin - rmin / scale))
    return float(np.float32(scale)), int(np.clip(zp, qmin, qmax))


class ActQuant(nn.Module):
    """Per-tensor affine fake quantization of an activation with a tracked range."""

    def __init__(self, dtype: str = "int8", momentum: float = 0.01) -> None:
        super().__init__()
        self.qmin, self.qmax = QRANGE[dtype]
        self.momentum = momentum
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("zero_point", torch.tensor(0, dtype=torch.int32))
        self.observing = False  # calibration pass: record min/max, do not quantize
        self.initialized = False
        self.export_mode: tuple[float, int] | None = None  # frozen (scale, zero point)

    def set_range(self, lo: float, hi: float) -> None:
        self.lo.fill_(float(lo))
        self.hi.fill_(float(hi))
        self._update_params()
        self.initialized = True

    def _update_params(self) -> None:
        scale, zp = affine_params(self.lo.item(), self.hi.item(), self.qmin, self.qmax)
        self.scale.fill_(scale)
        self.zero_point.fill_(zp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            lo, hi = x.detach().min(), x.detach().max()
            if self.initialized:
                lo, hi = torch.minimum(self.lo, lo), torch.maximum(self.hi, hi)
            self.set_range(lo.item(), hi.item())
            return x
        if self.training and self.momentum > 0:
            m = self.momentum
            with torch.no_grad():
                self.lo.mul_(1 - m).add_(m * x.detach().min())
                self.hi.mul_(1 - m).add_(m * x.detach().max())
            self._update_params()
        if self.export_mode is not None:  # constants (the tensor-qparams op does not export)
            scale, zp = self.export_mode
            return torch.fake_quantize_per_tensor_affine(x, scale, zp, self.qmin, self.qmax)
        return torch.fake_quantize_per_tensor_affine(
            x, self.scale, self.zero_point, self.qmin, self.qmax
        )


def weight_scales(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """Symmetric scales (cout,) so that max|w| maps to 2^(bits−1) − 1."""
    qmax = 2 ** (bits - 1) - 1
    absmax = w.detach().abs().flatten(1).amax(dim=1) if per_channel else w.detach().abs().max()
    scale = absmax / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return scale.float().expand(w.shape[0]).contiguous()


def snap_weight(w: torch.Tensor, bits: int, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Constant weights on the ``bits`` grid and their scales (cout,), no gradient: the
    export form of :func:`fake_quant_weight` (``q·s`` with ``|q| <= 2^(bits−1) − 1``)."""
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        scale = weight_scales(w, bits, per_channel)
        s = scale.view(-1, *[1] * (w.dim() - 1))
        return (torch.clamp(torch.round(w / s), -qmax, qmax) * s).detach().clone(), scale.clone()


def fake_quant_weight(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """Weights on the ``bits`` grid with straight-through gradients."""
    qmax = 2 ** (bits - 1) - 1
    scale = weight_scales(w, bits, per_channel)
    zp = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zp, 0, -qmax, qmax)


class FakeQuantCNN(nn.Module):
    """A BN-folded AMR CNN with fake quantization; ``quantized`` names the layers it quantizes.

    Weights use ``weight_bits``, or a layer's own width from ``layer_bits`` (mixed precision).
    """

    def __init__(
        self,
        deploy: DeployCNN,
        weight_bits: int = 8,
        per_channel: bool = True,
        activation_type: str = "int8",
        exclude: tuple[str, ...] = (),
        range_momentum: float = 0.01,
        layer_bits: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.net = deploy
        self.weight_bits = weight_bits
        self.layer_bits = dict(layer_bits or {})  # per-layer overrides of weight_bits
        self.per_channel = per_channel
        self.quantized = tuple(n for n in deploy.layer_names() if n not in exclude)
        self.export_mode = False
        self._export_weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        n = deploy.num_convs

        def aq() -> ActQuant:
            return ActQuant(activation_type, range_momentum)

        # the input of a quantized layer whose producer is not quantized (conv1: the frames)
        needs_input, producer_quantized = [], False
        for name in deploy.layer_names():
            if name in self.quantized and not producer_quantized:
                needs_input.append(name)
            producer_quantized = name in self.quantized
        self.act_in = nn.ModuleDict({name: aq() for name in needs_input})
        # the (post-ReLU) output of each quantized conv
        self.act_out = nn.ModuleDict(
            {f"conv{i + 1}": aq() for i in range(n) if f"conv{i + 1}" in self.quantized}
        )
        self.act_gap = aq() if "fc" in self.quantized else None

    def bits_of(self, name: str) -> int:
        return self.layer_bits.get(name, self.weight_bits)

    def weights(self) -> dict[str, torch.Tensor]:
        """Layer name → its (BN-folded) weight parameter."""
        net = self.net
        out = {f"conv{i + 1}": net.conv(i).weight for i in range(net.num_convs)}
        out["fc"] = net.fc.weight
        return out

    def _w(self, name: str, w: torch.Tensor) -> torch.Tensor:
        if name not in self.quantized:
            return w
        if self.export_mode:
            # constants: snapped weights (int8-range fake quant leaves them unchanged and
            # exports as QuantizeLinear/DequantizeLinear with int8 storage) and their scales
            snapped, scale = self._export_weights[name]
            zp = torch.zeros(w.shape[0], dtype=torch.int32)
            return torch.fake_quantize_per_channel_affine(snapped, scale, zp, 0, -128, 127)
        return fake_quant_weight(w, self.bits_of(name), self.per_channel)

    def forward(self, iq: torch.Tensor) -> torch.Tensor:  # (n, 2, L) → (n, classes)
        net = self.net
        x = iq
        quantized_input = False  # is x already on an activation grid?
        for i in range(net.num_convs):
            name = f"conv{i + 1}"
            conv = net.conv(i)
            if name in self.quantized and not quantized_input:
                x = self.act_in[name](x)
            w = self._w(name, conv.weight)
            x = F.relu(F.conv1d(F.pad(x, net.pads[i]), w, conv.bias, groups=conv.groups))
            quantized_input = name in self.quantized
            if quantized_input:
                x = self.act_out[name](x)
            if net.pools[i]:
                x = F.max_pool1d(x, net.pools[i], net.pools[i])
                if quantized_input:  # max-pool keeps values on the grid; same scale again
                    x = self.act_out[name](x) if not self.training else x
        if self.act_gap is not None and not quantized_input:
            x = self.act_in["fc"](x)
        x = x.mean(dim=2, keepdim=True)  # (n, C, 1): GlobalAveragePool
        if self.act_gap is not None:
            x = self.act_gap(x)
        x = x.flatten(1)  # (n, C)
        if self.act_gap is not None and not self.training:
            x = self.act_gap(x)  # identity on grid values; a Q/DQ pair like ORT's after Flatten
        return F.linear(x, self._w("fc", net.fc.weight), net.fc.bias)

    def act_quantizers(self) -> list[ActQuant]:
        return [
            *self.act_in.values(),
            *self.act_out.values(),
            *([self.act_gap] if self.act_gap is not None else []),
        ]

    def set_export(self, flag: bool) -> None:
        """Export form: weights pre-snapped to their grid, activation qparams as constants.

        The snapped weights and their scales are computed here, outside the traced graph: a
        scale computed in the graph (``abs → max → div``) is a constant only where the
        exporter's constant folding reaches it, and onnxscript skips inputs above 8192
        elements (e.g. a 64→96 conv of kernel 2), leaving QuantizeLinear with a computed
        scale that no QDQ consumer accepts (issue 26).
        """
        self.export_mode = flag
        for q in self.act_quantizers():
            q.export_mode = (float(q.scale), int(q.zero_point)) if flag else None
        self._export_weights = {
            name: snap_weight(w, self.bits_of(name), self.per_channel)
            for name, w in self.weights().items()
            if flag and name in self.quantized
        }

    def set_observing(self, flag: bool) -> None:
        for q in self.act_quantizers():
            q.observing = flag


_FAKE_IMPLS_DONE = False


def ensure_export_support() -> None:
    """torch 2.13 has no fake (meta) kernel for the ``*_cachemask`` ops that the fake-quant
    ops decompose to when exported with a dynamic batch; register shape-only ones, once."""
    global _FAKE_IMPLS_DONE
    if _FAKE_IMPLS_DONE:
        return

    def per_tensor(x, scale, zero_point, quant_min, quant_max):  # noqa: ANN001, ANN202
        return torch.empty_like(x), torch.empty_like(x, dtype=torch.bool)

    def per_channel(x, scale, zero_point, axis, quant_min, quant_max):  # noqa: ANN001, ANN202
        return torch.empty_like(x), torch.empty_like(x, dtype=torch.bool)

    for op, fn in (
        ("aten::fake_quantize_per_tensor_affine_cachemask", per_tensor),
        ("aten::fake_quantize_per_channel_affine_cachemask", per_channel),
    ):
        with contextlib.suppress(RuntimeError):  # a later torch ships its own: use it
            torch.library.register_fake(op)(fn)
    _FAKE_IMPLS_DONE = True
