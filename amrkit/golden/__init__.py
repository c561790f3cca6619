"""The integer-only golden model of an INT8 QDQ network (``amrkit simulate``).

``lower`` reads a QDQ ONNX file into integer operators (``ops``); ``model`` holds
:class:`IntegerModel` (run, compare with ONNX Runtime, simulate on a frame set, dump the
integer parameters). See ``docs/golden-model.md``.
"""

from amrkit.golden.model import (
    IntegerModel,
    Stats,
    compare_activations,
    decompose_multiplier,
    dump,
    load_dump,
    load_integer_model,
    rounding_shift,
    simulate,
)

__all__ = [
    "IntegerModel",
    "Stats",
    "compare_activations",
    "decompose_multiplier",
    "dump",
    "load_dump",
    "load_integer_model",
    "rounding_shift",
    "simulate",
]
