"""Configs of the two quantization steps; both go through :func:`amrkit.quant.quantize`.

``PTQConfig``: post-training static quantization with ONNX Runtime (QDQ, INT8 weights,
INT8/UINT8 activations, INT32 biases). ``QATConfig``: quantization-aware fine-tuning with
fake quantization (weights at 4..8 bits, per layer if asked, activations at 8), exported to
the same QDQ form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from amrkit.errors import AmrkitError

METHODS = ("minmax", "percentile", "entropy")
ACTIVATION_TYPES = ("int8", "uint8")
TARGETS = ("portable", "vnni")
PORTABLE_WEIGHT_BITS = 7  # PTQ: ORT's reduce_range grid ±64; QAT: ±63
MIN_WEIGHT_BITS, MAX_WEIGHT_BITS = 4, 8


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

    Mixed precision: ``layer_bits`` fixes some layers' weight bits; ``max_packed_bytes``
    lets :mod:`amrkit.quant.mixed` lower the least sensitive remaining layers to
    ``mixed_low_bits`` until the weights, counted at their packed widths, plus the int32
    biases fit. Storage stays int8 either way.
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
    # mixed precision: per-layer weight bits ((name, bits), ...) overriding weight_bits
    layer_bits: tuple[tuple[str, int], ...] = ()
    # ... and/or a budget of packed parameter bytes: the least sensitive layers not named in
    # layer_bits drop to mixed_low_bits until it is met (see amrkit.quant.mixed)
    max_packed_bytes: int | None = None
    mixed_low_bits: int = 4

    def __post_init__(self) -> None:
        _check_common(self)
        if self.epochs < 0:
            raise AmrkitError(f"epochs must be >= 0, got {self.epochs}")
        _check_bits(self.bits, self.target, "weight_bits", "--bits")
        names = [name for name, _ in self.layer_bits]
        if len(set(names)) != len(names):
            raise AmrkitError(f"layer_bits names a layer twice: {', '.join(names)}")
        for name, bits in self.layer_bits:
            _check_bits(bits, self.target, f"layer_bits {name}={bits}:", "--layer-bits")
            if name in self.exclude:
                raise AmrkitError(
                    f"layer_bits gives bits to {name}, which exclude keeps in FP32; drop one"
                )
        if self.max_packed_bytes is not None:
            _check_budget(self)
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

    def bits_of(self, layer: str) -> int:
        """The weight bits of ``layer``: its ``layer_bits`` entry, else :attr:`bits`."""
        return dict(self.layer_bits).get(layer, self.bits)


def _check_bits(bits: int, target: str, what: str, flag: str) -> None:
    if not MIN_WEIGHT_BITS <= bits <= MAX_WEIGHT_BITS:
        raise AmrkitError(
            f"{what} {bits} is not supported; choose {MIN_WEIGHT_BITS}..{MAX_WEIGHT_BITS} "
            f"weight bits with {flag} (activations stay at 8 bits)"
        )
    if target == "portable" and bits > PORTABLE_WEIGHT_BITS:
        raise AmrkitError(
            f"{what} {bits} is not portable: 8-bit weights can saturate ONNX Runtime's int16 "
            f"pair sums on x86 CPUs without VNNI; use {flag} with 4..7 bits or --target vnni"
        )


def _check_budget(cfg: QATConfig) -> None:
    if cfg.max_packed_bytes is not None and cfg.max_packed_bytes < 1:
        raise AmrkitError(
            f"max_packed_bytes must be >= 1, got {cfg.max_packed_bytes}; e.g. 25600 "
            "(--max-packed-kb 25.6)"
        )
    if not MIN_WEIGHT_BITS <= cfg.mixed_low_bits < cfg.bits:
        raise AmrkitError(
            f"mixed_low_bits {cfg.mixed_low_bits} must be in {MIN_WEIGHT_BITS}..{cfg.bits - 1} "
            f"(below the default {cfg.bits} weight bits); e.g. --mixed-low-bits 4"
        )


def parse_layer_bits(text: str) -> tuple[tuple[str, int], ...]:
    """``"conv1=7,conv3=4"`` → ``(("conv1", 7), ("conv3", 4))`` (the ``--layer-bits`` form)."""
    pairs = []
    for item in (x.strip() for x in text.split(",")):
        name, sep, bits = (p.strip() for p in item.partition("="))
        if not item or not sep or not name or not bits.isdigit():
            raise AmrkitError(
                f"--layer-bits {text!r}: {item!r} is not LAYER=BITS; write e.g. conv1=7,conv3=4"
            )
        pairs.append((name, int(bits)))
    return tuple(pairs)
