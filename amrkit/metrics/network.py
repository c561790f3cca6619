"""Learnables, MACs and parameter memory in the paper's convention (Tables I and III).

MATLAB's ``estimateNetworkMetrics`` counts **convolution and fully connected layers only**:

- learnables: weights + biases of those layers (batch norm's scale/offset are reported
  separately as ``bn_learnables``, not added);
- MACs: one multiply-accumulate per weight per output position — a conv layer makes
  ``L_out · C_out · C_in · K``, the fully connected layer ``C_in · C_out``; bias additions,
  batch norm, ReLU, pooling and softmax are not counted;
- parameter memory: bytes of those weights and biases / 2^20 (FP32: 4 bytes each).

:func:`network_metrics` computes this from a spec or an :class:`AmrCNN`;
:func:`amrkit.metrics.resolve.model_metrics` accepts anything a user can name on the
command line and dispatches; ``amrkit.metrics.onnx_metrics.onnx_network_metrics`` reads the
same table from an ONNX graph.
"""

from __future__ import annotations

from typing import Any

from amrkit.errors import AmrkitError
from amrkit.models.spec import CNNSpec, same_padding

MB = 2**20  # the paper's (and MATLAB's) megabyte
CONVENTION = (
    "conv and fully connected layers only (MATLAB estimateNetworkMetrics); "
    "MACs = weights x output positions, biases/BN/ReLU/pooling/softmax not counted; "
    "parameter memory = stored bytes of weights and biases / 2^20"
)
DTYPE_BYTES = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "int4": 0.5,
    "uint4": 0.5,
}


def layer_entry(
    name: str,
    type_: str,
    hyperparameters: dict[str, Any],
    weights: int,
    biases: int,
    macs: int,
    output_shape: list[int],
    weight_dtype: str = "float32",
    bias_dtype: str | None = "float32",
    **extra: Any,
) -> dict[str, Any]:
    """One row of the layer table (shared by the spec and the ONNX paths)."""
    nbytes = weights * DTYPE_BYTES.get(weight_dtype, 4) + biases * DTYPE_BYTES.get(
        bias_dtype or "float32", 4
    )
    return {
        "name": name,
        "type": type_,
        "hyperparameters": hyperparameters,
        "weights": int(weights),
        "biases": int(biases),
        "learnables": int(weights + biases),
        "macs": int(macs),
        "output_shape": [int(d) for d in output_shape],
        "weight_dtype": weight_dtype,
        "bias_dtype": bias_dtype if biases else None,
        "parameter_bytes": int(nbytes) if float(nbytes).is_integer() else float(nbytes),
        "parameter_memory_mb": nbytes / MB,
        **extra,
    }


def summarize(layers: list[dict[str, Any]], bn_learnables: int, **info: Any) -> dict[str, Any]:
    """Totals over a layer table; ``info`` (model, source, frame_length, ...) goes first."""
    nbytes = sum(layer["parameter_bytes"] for layer in layers)
    return {
        **info,
        "learnables": sum(layer["learnables"] for layer in layers),
        "weights": sum(layer["weights"] for layer in layers),
        "biases": sum(layer["biases"] for layer in layers),
        "bn_learnables": int(bn_learnables),
        "macs": sum(layer["macs"] for layer in layers),
        "parameter_bytes": nbytes,
        "parameter_memory_mb": nbytes / MB,
        "convention": CONVENTION,
        "layers": layers,
    }


def _as_spec(spec_or_model: Any) -> CNNSpec:
    if isinstance(spec_or_model, CNNSpec):
        return spec_or_model
    if isinstance(spec_or_model, str):
        from amrkit.models import get_spec

        return get_spec(spec_or_model)
    spec = getattr(spec_or_model, "spec", None)  # AmrCNN, DeployCNN
    if isinstance(spec, CNNSpec):
        return spec
    raise AmrkitError(
        f"cannot measure {type(spec_or_model).__name__}; pass a CNNSpec, an AmrCNN, a model "
        "name or a spec string"
    )


PRECISIONS = {"fp32": ("float32", "float32"), "int8": ("int8", "int32")}


def network_metrics(
    spec_or_model: Any, frame_length: int = 1024, precision: str = "fp32"
) -> dict[str, Any]:
    """The paper's layer table and totals for a model of ``spec`` at ``frame_length``.

    Returns a dict with ``learnables``, ``bn_learnables``, ``macs``, ``parameter_bytes``,
    ``parameter_memory_mb``, ``weights``, ``biases`` and ``layers`` (one entry per conv
    layer and the fc: name, type, hyperparameters, weights, biases, learnables, macs,
    output_shape (without batch), dtypes, parameter bytes/MB).

    ``precision="int8"`` stores every weight as int8 and every bias as int32 (the paper's
    INT8 convention, what ``quantize_static`` writes); the counts are unchanged.
    """
    if precision not in PRECISIONS:
        raise AmrkitError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    wtype, btype = PRECISIONS[precision]
    quantized = precision != "fp32"
    spec = _as_spec(spec_or_model)
    lengths = spec.lengths(frame_length)  # validates frame_length

    layers = []
    cin = spec.in_channels
    for i, (layer, (conv_len, pooled_len)) in enumerate(zip(spec.layers, lengths, strict=True)):
        weights = layer.filters * (cin // layer.groups) * layer.kernel  # grouped: cin/g each
        groups = {"groups": layer.groups} if layer.groups > 1 else {}
        layers.append(
            layer_entry(
                f"conv{i + 1}",
                "conv",
                {
                    "filters": layer.filters,
                    "kernel": layer.kernel,
                    "in_channels": cin,
                    "stride": 1,
                    "padding": list(same_padding(layer.kernel)),
                    "pool": spec.pool_size if layer.pool else None,
                    **groups,
                },
                weights=weights,
                biases=layer.filters,
                macs=weights * conv_len,
                output_shape=[layer.filters, conv_len],
                pooled_shape=[layer.filters, pooled_len],
                weight_dtype=wtype,
                bias_dtype=btype,
                quantized=quantized,
            )
        )
        cin = layer.filters
    layers.append(
        layer_entry(
            "fc",
            "fc",
            {"in_features": cin, "out_features": spec.num_classes},
            weights=cin * spec.num_classes,
            biases=spec.num_classes,
            macs=cin * spec.num_classes,
            output_shape=[spec.num_classes],
            weight_dtype=wtype,
            bias_dtype=btype,
            quantized=quantized,
        )
    )
    bn = 2 * sum(layer.filters for layer in spec.layers)  # gamma and beta per channel
    return summarize(
        layers,
        bn,
        model=spec.name,
        source="spec",
        spec=spec.short(),
        frame_length=int(frame_length),
        input_shape=[spec.in_channels, int(frame_length)],
        num_classes=spec.num_classes,
        precision=precision,
        quantized_layers=[layer["name"] for layer in layers] if quantized else [],
    )
