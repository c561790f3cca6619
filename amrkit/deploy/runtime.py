"""The ``c`` runtime: the C library of ``amrkit deploy`` compiled for this host and called
through ctypes — the golden model's integers by construction (docs/deploy.md).

The library is generated from the golden model (:func:`amrkit.deploy.write_library`), plus a
small batch entry point, and compiled ``-O3 -march=native`` into a shared object in a
temporary folder. ``-std=c99`` keeps the float boundary exact: ISO C mode turns off FMA
contraction, so ``amr_quantize_input`` and ``amr_dequantize_logits`` round as the golden
model does. ``amr_classify`` keeps its activations in one static arena (not reentrant), so
``threads`` copies of the shared object are loaded — each its own arena — and run on slices
of a batch in parallel (ctypes releases the GIL during a call).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from amrkit.errors import AmrkitError

C_FLAGS = ("-std=c99", "-O3", "-march=native", "-ffp-contract=off", "-fPIC", "-shared")

BATCH_C = r"""/* amrkit c runtime: float frames -> dequantized logits and final integers */
#include "amr_model.h"

void amr_batch(const float *iq, long n, float *logits, int32_t *ints)
{
    int8_t q[AMR_FRAME_LENGTH * AMR_IN_CHANNELS];
    long i;
    for (i = 0; i < n; ++i) {
        amr_quantize_input(iq + i * AMR_FRAME_LENGTH * AMR_IN_CHANNELS, q);
        amr_classify(q, ints + i * AMR_NUM_CLASSES);
        amr_dequantize_logits(ints + i * AMR_NUM_CLASSES, logits + i * AMR_NUM_CLASSES);
    }
}
"""


def compile_library(model: object, folder: Path, cc: str | None = None) -> Path:
    """Generate ``model``'s C library (an IntegerModel) into ``folder`` and compile it into
    ``folder/libamr.so``; a missing compiler or a compile error is an AmrkitError."""
    from amrkit.deploy.codegen import write_library

    compiler = shutil.which(cc or "cc")
    if compiler is None:
        raise AmrkitError(
            f"--runtime c needs a C compiler ({cc or 'cc'!r} is not on PATH); install gcc "
            "(apt-get install gcc) or use --runtime ort"
        )
    src = folder / "src"
    write_library(model, src)  # type: ignore[arg-type]
    (src / "amr_batch.c").write_text(BATCH_C)
    lib = folder / "libamr.so"
    sources = [str(src / f) for f in ("amr_model.c", "amr_weights.c", "amr_batch.c")]
    cmd = [compiler, *C_FLAGS, *sources, "-lm", "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = "; ".join(proc.stderr.strip().splitlines()[:3])
        raise AmrkitError(f"compiling the c runtime failed ({compiler}): {first}")
    return lib


class CRuntime:
    """``logits(iq (n, 2, L) float32) -> (n, C) float32`` through the compiled C library;
    ``ints`` after each call holds the final int32 integers of the last batch."""

    name = "c"

    def __init__(self, model: object, threads: int | None = None, cc: str | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="amrkit-c-")
        folder = Path(self._tmp.name)
        lib = compile_library(model, folder, cc)
        self.frame_length = int(model.input_shape[-1])  # type: ignore[attr-defined]
        self.channels = int(model.input_shape[0])  # type: ignore[attr-defined]
        self.num_classes = len(model.classes)  # type: ignore[attr-defined]
        self.threads = max(1, threads or 1)
        self._libs = []
        for i in range(self.threads):  # one copy per thread: each has its own static arena
            copy = folder / f"libamr{i}.so"
            shutil.copyfile(lib, copy)
            handle = ctypes.CDLL(str(copy))
            handle.amr_batch.restype = None
            handle.amr_batch.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p,
                                         ctypes.c_void_p]  # fmt: skip
            self._libs.append(handle)
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.ints = np.empty((0, self.num_classes), np.int32)

    def logits(self, iq: np.ndarray) -> np.ndarray:
        x = np.asarray(iq, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.channels, self.frame_length):
            raise AmrkitError(f"frames of shape {x.shape} do not fit the model's input "
                              f"(n, {self.channels}, {self.frame_length})")  # fmt: skip
        x = np.ascontiguousarray(x.transpose(0, 2, 1))  # (n, L, 2): the library's layout
        n = len(x)
        out = np.empty((n, self.num_classes), np.float32)
        ints = np.empty((n, self.num_classes), np.int32)
        bounds = np.linspace(0, n, len(self._libs) + 1).astype(int)

        def run(i: int) -> None:
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                self._libs[i].amr_batch(x[lo:].ctypes.data, hi - lo, out[lo:].ctypes.data,
                                        ints[lo:].ctypes.data)  # fmt: skip

        if self._pool is None or n < 2:
            for i in range(len(self._libs)):
                run(i)
        else:
            list(self._pool.map(run, range(len(self._libs))))
        self.ints = ints
        return out
