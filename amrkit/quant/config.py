"""Configs of the two quantization steps; both go through :func:`amrkit.quant.quantize`.

``PTQConfig``: post-training static quantization with ONNX Runtime (QDQ, INT8 weights,
INT8/UINT8 activations, INT32 biases). ``QATConfig``: quantization-aware fine-tuning with
fake quantization (weights at 4..8 bits, activations at 8), exported to the same QDQ form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from amrkit.errors import AmrkitError

METHODS = ("minmax", "percentile", "entropy")
ACTIVATION_TYPES = ("int8", "uint8")
TARGETS = ("portable", "vnni")
PORTABLE_WEIGHT_BITS = 7  # PTQ: ORT's reduce_range grid ±64; QAT: ±63


def _check_target(cfg: PTQConfig | QATConfig) -> None:
    if cfg.target not in TARGETS:
        raise AmrkitError(f"target {cfg.target!r} is not one of {', '.join(TARGETS)}")
    if cfg.target == "portable" and cfg.activation_type != "uint8":
        raise AmrkitError(
            f"activation_type {cfg.activation_type!r} is not portable: ONNX Runtime runs int8 "
            "activations through kernels that round differently from the golden model; use "
            "--activation-type uint8 or --target vnni"
        )


def _check_common(cfg: PTQConfig | QATConfig) -> None:
    if cfg.calib_frames < 1:
        raise AmrkitError(f"calib_frames must be >= 1, got {cfg.calib_frames}; e.g. 512")
    if cfg.method not in METHODS:
        raise AmrkitError(f"method {cfg.method!r} is not one of {', '.join(METHODS)}")
    if cfg.activation_type not in ACTIVATION_TYPES:
        raise AmrkitError(
            f"activation_type {cfg.activation_type!r} is not one of {', '.join(ACTIVATION_TYPES)}"
        )
    if not 50.0 < cfg.percentile <= 100.0:
        raise AmrkitError(f"percentile must be in (50, 100], got {cfg.percentile}; e.g. 99.999")
    if len(set(cfg.exclude)) != len(cfg.exclude):
        raise AmrkitError(f"exclude lists a layer twice: {', '.join(cfg.exclude)}")
    _check_target(cfg)


@dataclass(frozen=True)
class PTQConfig:
    """Post-training quantization (``amrkit quantize``)."""

    calib_frames: int = 512  # from the training split, stratified by class
    method: Literal["minmax", "percentile", "entropy"] = "minmax"
    percentile: float = 99.999  # only for method="percentile"
    per_channel: bool = True  # per-output-channel weight scales (False: one per tensor)
    activation_type: Literal["int8", "uint8"] = "uint8"
    exclude: tuple[str, ...] = ()  # layers kept in FP32: conv1..convN, fc
    seed: int = 0  # choice of calibration frames
    target: Literal["portable", "vnni"] = "portable"

    def __post_init__(self) -> None:
        _check_common(self)

    @property
    def bits(self) -> int:
        """Weight bits: 7 (ORT's reduce_range grid, |w| <= 64) for portable, else 8."""
        return PORTABLE_WEIGHT_BITS if self.target == "portable" else 8


@dataclass(frozen=True)
class QATConfig:
    """Quantization-aware training (``amrkit quantize --qat``).

    Batch norm is folded into the conv weights before fine-tuning (BN is frozen). Activation
    ranges start from calibration (``method``) and follow an exponential moving average of
    the batch min/max while training (``range_momentum``; 0 keeps them fixed). Weights use
    symmetric scales over ``±(2^(bits-1) − 1)``, recomputed every step, with straight-through
    gradients. ``epochs=0`` exports the calibrated fake-quant model without fine-tuning
    (post-training quantization at ``weight_bits``).
    """

    epochs: int = 3
    weight_bits: int | None = None  # 4..8 (7 for target portable, 8 for vnni when None)
    lr: float = 1e-3  # SGD with momentum 0.9, cosine decay to lr/10 over the fine-tune
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    range_momentum: float = 0.01
    calib_frames: int = 512
    method: Literal["minmax", "percentile", "entropy"] = "minmax"
    percentile: float = 99.999
    per_channel: bool = True
    activation_type: Literal["int8", "uint8"] = "uint8"
    exclude: tuple[str, ...] = ()
    seed: int = 0  # calibration frames, shuffling
    target: Literal["portable", "vnni"] = "portable"

    def __post_init__(self) -> None:
        _check_common(self)
        if self.target == "portable" and self.bits > PORTABLE_WEIGHT_BITS:
            raise AmrkitError(
                f"weight_bits {self.bits} is not portable: 8-bit weights can saturate "
                "ONNX Runtime's int16 pair sums on x86 CPUs without VNNI; use --bits 4..7 "
                "or --target vnni"
            )
        if self.epochs < 0:
            raise AmrkitError(f"epochs must be >= 0, got {self.epochs}")
        if not 4 <= self.bits <= 8:
            raise AmrkitError(
                f"weight_bits {self.bits} is not supported; choose 4..8 "
                "(activations stay at 8 bits)"
            )
        if self.lr <= 0 or self.batch_size < 1:
            raise AmrkitError(
                f"lr must be > 0 and batch_size >= 1, got {self.lr}, {self.batch_size}"
            )
        if not 0.0 <= self.range_momentum <= 1.0:
            raise AmrkitError(f"range_momentum must be in [0, 1], got {self.range_momentum}")

    @property
    def bits(self) -> int:
        """``weight_bits``, or the target's default: 7 for portable, 8 for vnni."""
        if self.weight_bits is not None:
            return self.weight_bits
        return PORTABLE_WEIGHT_BITS if self.target == "portable" else 8
