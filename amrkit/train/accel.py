"""How a training step runs on this machine: compiled or eager, in fp32 or bf16.

The arithmetic of a step is fixed by the model and the batch; these two choices change how
much of it the CPU gets through per second (``benchmarks/bench_train.py`` measures them):

- ``compile``: ``torch.compile`` (inductor) turns each layer's pad → conv → batch norm → ReLU →
  max-pool glue, forward and backward, into a few fused C++ loops; the convolutions stay
  oneDNN's. For these small networks the glue, not the convolutions, was most of the step.
  Inductor needs a C++ compiler at run time: without one, or if compiling fails, training
  goes on eager with a one-line note. ``auto`` compiles CPU runs of at least
  :data:`COMPILE_MIN_STEPS` steps (the compile, 10–40 s cold and a few seconds from inductor's
  on-disk cache, is then a small part of the run); short runs (tests, search proxies) stay
  eager.
- ``precision``: ``bf16`` runs the forward pass under bf16 autocast (convolutions and the FC in
  bf16, weights, optimizer and loss in fp32); validation and test stay fp32. Only on CPUs
  that multiply bf16 natively (AVX512-BF16 or AMX-BF16): elsewhere bf16 is emulated and slower,
  so ``auto`` means fp32 there and an explicit ``bf16`` is refused. On CUDA ``auto`` is fp32.

Both change the rounding of the step, so weights differ in their last bits from an eager fp32
run; the same seed and settings on the same machine still give the same weights.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from amrkit.errors import AmrkitError
from amrkit.runtime.cpu import cpu_flags

COMPILE_MODES = ("auto", "on", "off")
PRECISIONS = ("auto", "fp32", "bf16")
COMPILE_MIN_STEPS = 1000
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class StepPlan:
    """What :func:`plan_step` decided, and why (stored in run.json and metrics.json)."""

    compiled: bool
    precision: str  # "fp32" or "bf16"
    note: str = ""  # why compile is off when it was asked for or could have been on
    compile_seconds: float = 0.0


def cxx_compiler() -> str | None:
    """The C++ compiler inductor would call, or None."""
    try:
        from torch._inductor import config

        configured = config.cpp.cxx[-1] if isinstance(config.cpp.cxx, tuple) else None
    except Exception:  # noqa: BLE001 - any import problem means: no inductor
        return None
    for name in (configured, "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (not emulated in fp32)."""
    return any(f in cpu_flags() for f in NATIVE_BF16_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` on a CPU with native bf16, else ``fp32``; ``bf16`` needs one."""
    if precision not in PRECISIONS:
        raise AmrkitError(f"precision {precision!r} is unknown; use {', '.join(PRECISIONS)}")
    if device.type != "cpu":
        if precision == "bf16":
            raise AmrkitError(
                f"precision bf16 is for CPUs with native bf16; on {device.type} use fp32 or auto"
            )
        return "fp32"
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    if precision == "bf16" and not native_bf16():
        raise AmrkitError(
            "precision bf16: this CPU has no native bf16 (no "
            f"{' or '.join(NATIVE_BF16_FLAGS)} flag), where it runs slower than fp32; "
            "use --precision fp32 or auto"
        )
    return precision


def resolve_compile(mode: str, device: torch.device, steps: int, world: int) -> tuple[bool, str]:
    """(compile?, note): ``on``/``auto`` compile when a C++ compiler is there, one process
    runs on the CPU and (``auto``) the run has at least :data:`COMPILE_MIN_STEPS` steps."""
    if mode not in COMPILE_MODES:
        raise AmrkitError(f"compile {mode!r} is unknown; use {', '.join(COMPILE_MODES)}")
    if mode == "off":
        return False, ""
    if device.type != "cpu" or world > 1:
        why = "torchrun" if world > 1 else device.type
        return False, f"compile is CPU-only and single-process here; eager under {why}"
    if mode == "auto" and steps < COMPILE_MIN_STEPS:
        return False, ""
    if cxx_compiler() is None:
        return False, "no C++ compiler (g++) for torch.compile; training eager (apt install g++)"
    return True, ""


@contextlib.contextmanager
def autocast(precision: str, device: torch.device | str = "cpu") -> Iterator[None]:
    """bf16 autocast for ``precision == "bf16"``, nothing otherwise."""
    dev = torch.device(device).type
    with torch.autocast(dev, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def compile_for_training(
    model: nn.Module, example: torch.Tensor, precision: str
) -> tuple[nn.Module, float, str]:
    """(the module the steps call, compile seconds, note). Compiles ``model`` and runs one
    forward and backward on ``example`` (b, 2, L) to compile both passes now; the model's
    weights, gradients and batch-norm statistics are left exactly as they were. A failure
    gives back ``model`` itself with a one-line note."""
    import torch._dynamo

    # one graph per architecture: a search compiles many in one process (default limit 8)
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    compiled = torch.compile(model, dynamic=False)
    buffers = copy.deepcopy(model.state_dict())  # BN statistics move in the probe
    t0 = time.perf_counter()
    try:
        with autocast(precision, example.device):
            out = compiled(torch.zeros_like(example))
        out.float().sum().backward()
    except Exception as e:  # noqa: BLE001 - inductor raises many kinds; eager still works
        first = (str(e).splitlines() or [""])[0][:120]
        note = f"torch.compile failed ({type(e).__name__}: {first}); eager"
        return model, 0.0, note
    finally:
        model.load_state_dict(buffers)
        model.zero_grad(set_to_none=True)
    return compiled, time.perf_counter() - t0, ""
