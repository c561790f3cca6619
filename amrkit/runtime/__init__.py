"""Where models run: this CPU's integer arithmetic (:mod:`~amrkit.runtime.cpu`) and the one
ONNX Runtime session factory (:mod:`~amrkit.runtime.ort`). A new runtime plugs in here."""

from amrkit.runtime.cpu import cpu_info
from amrkit.runtime.ort import kernel_info, needs_exact_pairs, ort_session, pair_bounds

__all__ = ["cpu_info", "kernel_info", "needs_exact_pairs", "ort_session", "pair_bounds"]
