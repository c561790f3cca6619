"""C code for microcontrollers from an INT8 model (``amrkit deploy``).

``write_library(model, out_dir, name)`` generates a self-contained C99 library from the
integer parameters of the golden model (:mod:`amrkit.golden`); ``amrkit.deploy.mcu``
cross-compiles it for Cortex-M and runs it under QEMU. See ``docs/deploy.md``.
"""

from amrkit.deploy.codegen import write_library
from amrkit.deploy.plan import build_plan

__all__ = ["build_plan", "write_library"]
