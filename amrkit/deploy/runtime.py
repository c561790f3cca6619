"""The ``c`` runtime: the C library of ``amrkit deploy`` compiled for this host and called
through ctypes — the golden model's integers by construction (docs/deploy.md).

The library is generated from the golden model (:func:`amrkit.deploy.write_library`) for the
fastest exact path of this CPU (``cpu="native"``: AVX-512 VNNI, else AVX2 when the model's
pair bound allows it, else the portable C; or the path named), plus a batch entry point that
takes NumPy's planar ``(n, C, L)`` float frames, and compiled ``-O3`` with that path's
instruction-set flags into a shared object in a temporary folder; the path's CPU features
are checked again in C (``__builtin_cpu_supports``) before the first call. ``-std=c99`` keeps
the float boundary exact: ISO C mode turns off FMA contraction, so the input quantization and
``amr_dequantize_logits`` round as the golden model does. The library keeps its activations
in static buffers (not reentrant), so ``threads`` copies of the shared object are loaded —
each its own buffers — and run on slices of a batch in parallel (ctypes releases the GIL
during a call).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from amrkit.deploy import x86
from amrkit.errors import AmrkitError

C_FLAGS = ("-std=c99", "-O3", "-ffp-contract=off", "-fPIC", "-shared")

BATCH_C = r"""/* amrkit c runtime: planar float frames -> dequantized logits and final integers */
#include "amr_model.c"

/* 1 when this CPU runs the kernels the library was generated and compiled for */
int amr_cpu_ok(void)
{
#if AMR_X86
    __builtin_cpu_init();
#endif
#if AMR_X86 == 2
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni");
#elif AMR_X86 == 1
    return __builtin_cpu_supports("avx2");
#else
    return 1;
#endif
}

/* iq: (n, C, L) float32 as NumPy holds frames; logits (n, classes) float32; ints int32 */
void amr_batch(const float *iq, long n, float *logits, int32_t *ints)
{
    long i;
    for (i = 0; i < n; ++i) {
        const float *f = iq + i * AMR_FRAME_LENGTH * AMR_IN_CHANNELS;
        int32_t *y = ints + i * AMR_NUM_CLASSES;
#if AMR_X86
        amr_x_classify_planar(f, y);
#else
        static float rows[AMR_FRAME_LENGTH * AMR_IN_CHANNELS];
        static int8_t q[AMR_FRAME_LENGTH * AMR_IN_CHANNELS];
        int32_t t, c;
        for (t = 0; t < AMR_FRAME_LENGTH; ++t) /* (C, L) -> (L, C): the library's layout */
            for (c = 0; c < AMR_IN_CHANNELS; ++c)
                rows[t * AMR_IN_CHANNELS + c] = f[c * AMR_FRAME_LENGTH + t];
        amr_quantize_input(rows, q);
        amr_classify(q, y);
#endif
        amr_dequantize_logits(y, logits + i * AMR_NUM_CLASSES);
    }
}
"""


def choose_path(model: object, cpu: str = "native") -> str:
    """The kernel path for this host: ``native`` → the fastest exact one this CPU runs; an x86
    path this CPU lacks is a one-line error naming the missing flags."""
    from amrkit.deploy.plan import build_plan

    plan = build_plan(model)  # type: ignore[arg-type]
    path = x86.resolve_cpu(cpu, plan)
    missing = x86.missing_flags(path)
    if missing:
        raise AmrkitError(
            f"--cpu {path} needs the CPU flags {', '.join(missing)}, which this CPU lacks "
            f"(/proc/cpuinfo); use --cpu native (the fastest path this CPU runs) or generic"
        )
    return path


def compile_flags(path: str) -> tuple[str, ...]:
    """Compiler flags of a path: its instruction sets, tuned for this machine (the portable
    path: everything this machine has, as before)."""
    if path == "generic":
        return ("-march=native",)
    return (*x86.CC_FLAGS[path], "-mtune=native")


def compile_library(
    model: object, folder: Path, cc: str | None = None, cpu: str = "native"
) -> tuple[Path, str]:
    """Generate ``model``'s C library (an IntegerModel) for ``cpu`` into ``folder`` and compile
    it into ``folder/libamr.so``; returns it and the path compiled. A missing compiler or a
    compile error is an AmrkitError."""
    from amrkit.deploy.codegen import write_library

    compiler = shutil.which(cc or "cc")
    if compiler is None:
        raise AmrkitError(
            f"--runtime c needs a C compiler ({cc or 'cc'!r} is not on PATH); install gcc "
            "(apt-get install gcc) or use --runtime ort"
        )
    path = choose_path(model, cpu)
    src = folder / "src"
    write_library(model, src, cpu=path)  # type: ignore[arg-type]
    (src / "amr_batch.c").write_text(BATCH_C)
    lib = folder / "libamr.so"
    sources = [str(src / f) for f in ("amr_batch.c", "amr_weights.c")]
    cmd = [compiler, *C_FLAGS, *compile_flags(path), *sources, "-lm", "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = "; ".join(proc.stderr.strip().splitlines()[:3])
        raise AmrkitError(f"compiling the c runtime failed ({compiler}): {first}")
    return lib, path


class CRuntime:
    """``logits(iq (n, 2, L) float32) -> (n, C) float32`` through the compiled C library;
    ``ints`` after each call holds the final int32 integers of the last batch."""

    name = "c"

    def __init__(
        self, model: object, threads: int | None = None, cc: str | None = None,
        cpu: str = "native",
    ):  # fmt: skip
        self._tmp = tempfile.TemporaryDirectory(prefix="amrkit-c-")
        folder = Path(self._tmp.name)
        lib, self.path = compile_library(model, folder, cc, cpu)
        self.frame_length = int(model.input_shape[-1])  # type: ignore[attr-defined]
        self.channels = int(model.input_shape[0])  # type: ignore[attr-defined]
        self.num_classes = len(model.classes)  # type: ignore[attr-defined]
        self.threads = max(1, threads or 1)
        self._libs = []
        for i in range(self.threads):  # one copy per thread: each has its own static arena
            copy = folder / f"libamr{i}.so"
            shutil.copyfile(lib, copy)
            handle = ctypes.CDLL(str(copy))
            if not handle.amr_cpu_ok():
                raise AmrkitError(f"this CPU lacks the instructions of the c runtime's "
                                  f"{self.path} kernels; use cpu='generic'")  # fmt: skip
            handle.amr_batch.restype = None
            handle.amr_batch.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p,
                                         ctypes.c_void_p]  # fmt: skip
            self._libs.append(handle)
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.ints = np.empty((0, self.num_classes), np.int32)

    def logits(self, iq: np.ndarray) -> np.ndarray:
        x = iq
        if not (type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous):
            x = np.ascontiguousarray(x, dtype=np.float32)  # (n, C, L): interleaved in C
        if x.ndim != 3 or x.shape[1:] != (self.channels, self.frame_length):
            raise AmrkitError(f"frames of shape {x.shape} do not fit the model's input "
                              f"(n, {self.channels}, {self.frame_length})")  # fmt: skip
        n = len(x)
        out = np.empty((n, self.num_classes), np.float32)
        ints = np.empty((n, self.num_classes), np.int32)
        px, po, pi = x.ctypes.data, out.ctypes.data, ints.ctypes.data
        frame, row = 4 * self.channels * self.frame_length, 4 * self.num_classes  # bytes
        if self._pool is None or n < 2:  # one call on this thread: the least latency
            self._libs[0].amr_batch(px, n, po, pi)
        else:
            k = len(self._libs)
            bounds = [n * i // k for i in range(k + 1)]

            def run(i: int) -> None:
                lo, hi = bounds[i], bounds[i + 1]
                if hi > lo:
                    self._libs[i].amr_batch(px + lo * frame, hi - lo, po + lo * row, pi + lo * row)

            list(self._pool.map(run, range(k)))
        self.ints = ints
        return out
