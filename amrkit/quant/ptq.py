"""Post-training static quantization with ``onnxruntime.quantization.quantize_static``.

QDQ format; INT8 weights, symmetric, per output channel (or one scale per tensor); INT8 or
UINT8 activations, asymmetric from the calibrated ranges; INT32 biases (scale = input scale
× weight scale). The logits (fc output) stay float. Calibration ranges are computed once by
:func:`amrkit.quant.calibrate.calibrate` and handed to ``quantize_static`` through its
calibration cache, so the report shows exactly the ranges the quantizer used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx

from amrkit.quant.calibrate import quiet_ort
from amrkit.quant.config import PTQConfig

# ORT's QDQ quantizer works on these; listing them keeps "quantize everything it can" explicit
OP_TYPES = ["Conv", "Gemm", "Relu", "MaxPool", "GlobalAveragePool", "Flatten"]


def ptq_onnx(fp32_path: str | Path, config: PTQConfig, tensors_data) -> onnx.ModelProto:  # noqa: ANN001
    """Quantize the FP32 ONNX file with precomputed calibration ranges; returns the QDQ model."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import save_tensors_data

    act = QuantType.QInt8 if config.activation_type == "int8" else QuantType.QUInt8
    with tempfile.TemporaryDirectory(prefix="amrkit-ptq-") as tmp:
        cache = Path(tmp) / "calibration.json"
        save_tensors_data(tensors_data, cache)
        out = Path(tmp) / "model_int8.onnx"
        with quiet_ort():
            quantize_static(
                str(fp32_path),
                str(out),
                calibration_data_reader=None,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=OP_TYPES,
                per_channel=config.per_channel,
                reduce_range=config.target == "portable",  # weights on ±64: see config.py
                activation_type=act,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(config.exclude),
                calibrate_method=tensors_data.calibration_method,
                calibration_cache_path=str(cache),
                extra_options={
                    "WeightSymmetric": True,
                    "ActivationSymmetric": False,
                    "OpTypesToExcludeOutputQuantization": ["Gemm"],
                },
            )
        return onnx.load(str(out))
