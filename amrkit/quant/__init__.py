"""amrkit.quant: INT8 post-training quantization and quantization-aware training.

One verb, two configs::

    from amrkit.quant import PTQConfig, QATConfig, quantize
    result = quantize("runs/optimized", PTQConfig(method="percentile"), frames, "out/int8")

Heavy modules (torch, onnx, onnxruntime) load on first use of :func:`quantize`.
"""

from __future__ import annotations

from typing import Any

from amrkit.quant.config import PTQConfig, QATConfig

__all__ = ["PTQConfig", "QATConfig", "quantize"]


def quantize(*args: Any, **kwargs: Any) -> Any:
    """See :func:`amrkit.quant.pipeline.quantize`."""
    from amrkit.quant.pipeline import quantize as _quantize

    return _quantize(*args, **kwargs)
