"""C code for microcontrollers from an INT8 model (``amrkit deploy``).

``write_library(model, out_dir, name)`` generates a self-contained C99 library from the
integer parameters of the golden model (:mod:`amrkit.golden`); ``mcu_report`` cross-compiles
it for a Cortex-M, runs it under QEMU and returns flash, RAM, stack and instructions per frame
(``amrkit.deploy.mcu`` holds the image, ``amrkit.deploy.host`` the host build). See
``docs/deploy.md``.
"""

from amrkit.deploy.codegen import write_library
from amrkit.deploy.plan import build_plan
from amrkit.deploy.report import mcu_report

__all__ = ["build_plan", "mcu_report", "write_library"]
