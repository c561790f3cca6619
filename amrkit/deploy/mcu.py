"""Cortex-M builds of a generated library, run under QEMU with semihosting.

The image: a vector table at 0 (initial SP, reset handler, faults), code and constants in
the board's memory at 0x0, data, bss, heap and stack at 0x20000000; newlib's semihosting
(``--specs=rdimon.specs -nostartfiles``) reads the frames file and prints. The harness
times each ``classify`` call with SysTick (processor clock; under ``-icount shift=0`` one
instruction advances the virtual clock by 1 ns, so ticks × 1e9/clock = executed
instructions, calibrated on a loop of known length) and paints the stack to measure its
high-water mark. Flash and RAM come from ``arm-none-eabi-size`` of the image minus the same
harness linked with a stub classifier: what the library adds, libc helpers included.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

GCC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
QEMU = "qemu-system-arm"
APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
CAL_ITERATIONS = 1_000_000  # the calibration loop: 2 instructions per iteration
STACK_PAINT = 16384  # bytes below the caller's SP painted before each call


@dataclass(frozen=True)
class Cpu:
    name: str
    machine: str
    flags: tuple[str, ...]
    ram_bytes: int  # RAM at 0x20000000 (also the size given to the code region)
    mve: bool = False  # Helium (M-profile vector extension)


CPUS = {
    "cortex-m4": Cpu(
        "cortex-m4", "mps2-an386", ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"), 4 << 20
    ),
    "cortex-m55": Cpu(
        "cortex-m55",
        "mps3-an547",
        ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
        512 << 10,
        mve=True,
    ),
}

STARTUP_C = r"""
#include <stdint.h>
#include <stdlib.h>
extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;
extern int main(void);
extern void initialise_monitor_handles(void);

void mcu_fault(void)
{
    for (;;) exit(3);
}

void mcu_reset(void)
{
    uint32_t *src = &__data_load, *dst = &__data_start;
    while (dst < &__data_end) *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: enable the FPU (and MVE) */
    __asm volatile("dsb\n\tisb");
#endif
    initialise_monitor_handles();
    exit(main());
}

void _init(void) {}
void _fini(void) {}

__attribute__((section(".vectors"), used)) void (*const mcu_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top, mcu_reset, mcu_fault, mcu_fault, mcu_fault,
    mcu_fault, mcu_fault, 0, 0, 0, 0, mcu_fault, mcu_fault, 0, mcu_fault, mcu_fault};
"""

LINKER = """
ENTRY(mcu_reset)
MEMORY {{
    CODE (rx) : ORIGIN = 0x00000000, LENGTH = {ram}
    RAM (rwx) : ORIGIN = 0x20000000, LENGTH = {ram}
}}
SECTIONS {{
    .text : {{ KEEP(*(.vectors)) *(.text*) *(.rodata*) . = ALIGN(4); }} > CODE
    .ARM.exidx : {{ *(.ARM.exidx*) }} > CODE
    .data : {{ __data_start = .; *(.data*) . = ALIGN(4); __data_end = .; }} > RAM AT > CODE
    __data_load = LOADADDR(.data);
    .bss (NOLOAD) : {{ __bss_start = .; *(.bss*) *(COMMON) . = ALIGN(4); __bss_end = .; }} > RAM
    end = .;
    __end__ = .;
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}}
"""

HARNESS_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "@NAME@_model.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#ifdef MCU_STUB
int @NAME@_classify(const int8_t *iq, int32_t *logits)
{
    logits[0] = iq[0];
    return 0;
}
#endif

static uint32_t ticks_since(uint32_t start) { return (start - SYST_CVR) & 0xFFFFFFu; }

static uint32_t calibrate(uint32_t n)
{
    uint32_t start;
    SYST_CVR = 0;
    start = SYST_CVR;
    __asm volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
    return ticks_since(start);
}

static int8_t frame[2 * @NAME_UPPER@_FRAME_LENGTH];
static int32_t logits[@NAME_UPPER@_NUM_CLASSES];

/* paint STACK_PAINT bytes below sp, run, find the lowest word written: stack high-water */
static __attribute__((noinline)) uint32_t measure(int *cls, uint32_t *ticks)
{
    uint32_t sp, start, *p;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (p = (uint32_t *)(sp - MCU_STACK_PAINT); p < (uint32_t *)(sp - 64); ++p) *p = 0xA5A5A5A5u;
    SYST_CVR = 0;
    start = SYST_CVR;
    *cls = @NAME@_classify(frame, logits);
    *ticks = ticks_since(start);
    for (p = (uint32_t *)(sp - MCU_STACK_PAINT); *p == 0xA5A5A5A5u; ++p) {}
    return sp - (uint32_t)(uintptr_t)p;
}

int main(void)
{
    FILE *f;
    long n = 0;
    int i, c;
    uint32_t ticks, stack;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enable, processor clock, no interrupt */
    printf("CAL %lu %lu\n", (unsigned long)MCU_CAL, (unsigned long)calibrate(MCU_CAL));
    f = fopen(MCU_FRAMES, "rb");
    if (!f) {
        printf("ERR cannot open frames\n");
        return 1;
    }
    while (fread(frame, 1, sizeof frame, f) == sizeof frame) {
        stack = measure(&c, &ticks);
        printf("F %ld %d %lu %lu", n++, c, (unsigned long)ticks, (unsigned long)stack);
        for (i = 0; i < @NAME_UPPER@_NUM_CLASSES; ++i) printf(" %ld", (long)logits[i]);
        printf("\n");
    }
    fclose(f);
    printf("END\n");
    return 0;
}
"""


def toolchain_missing() -> str | None:
    """None when the cross compiler, newlib and QEMU are installed; else what is missing."""
    missing = [t for t in (GCC, SIZE, QEMU) if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install {' '.join(APT_PACKAGES)})"
    probe = subprocess.run(
        [GCC, "-mcpu=cortex-m4", "-mthumb", "--specs=rdimon.specs", "-print-file-name=librdimon.a"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or not Path(probe.stdout.strip()).is_file():
        return "newlib for arm-none-eabi not found (apt-get install libnewlib-arm-none-eabi)"
    return None


def require_toolchain() -> None:
    why = toolchain_missing()
    if why:
        raise AmrkitError(f"the Cortex-M toolchain is missing: {why}")


def _run(cmd: list[str], what: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AmrkitError(f"{what} timed out after {timeout:.0f} s ({cmd[0]})") from None
    if proc.returncode != 0:
        first = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[:3])
        raise AmrkitError(f"{what} failed (exit {proc.returncode}): {first}")
    return proc


def variant_name(dsp: bool, mve: bool) -> str:
    """The kernels a build runs: "mve" (Helium VMLADAVA), "dsp" (SMLAD) or "portable"."""
    return "mve" if mve else ("dsp" if dsp else "portable")


def build_image(
    lib_dir: str | Path, build_dir: str | Path, frames_path: str | Path, *, name: str = "amr",
    cpu: str = "cortex-m4", dsp: bool = True, stub: bool = False, opt: str = "-O2",
    mve: bool = False,
) -> Path:  # fmt: skip
    """Cross-compile the harness (+ the library unless ``stub``) into an ELF image; ``mve``
    selects the Helium kernels (Cortex-M55), ``dsp`` the SMLAD ones, neither portable C."""
    if cpu not in CPUS:
        raise AmrkitError(f"--cpu {cpu!r} is not one of {', '.join(CPUS)}")
    c = CPUS[cpu]
    if mve and not c.mve:
        raise AmrkitError(f"{cpu} has no Helium (MVE); use cortex-m55 for the MVE kernels")
    lib, out = Path(lib_dir), Path(build_dir)
    out.mkdir(parents=True, exist_ok=True)
    up = name.upper()
    (out / "startup.c").write_text(STARTUP_C)
    (out / "link.ld").write_text(LINKER.format(ram=c.ram_bytes))
    harness = HARNESS_C.replace("@NAME_UPPER@", up).replace("@NAME@", name)
    (out / "harness.c").write_text(harness)
    tag = f"{cpu}-{'stub' if stub else variant_name(dsp, mve)}"
    elf = out / f"{name}-{tag}.elf"
    flags = [*c.flags, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
             "-fdata-sections", f"-I{lib}", f"-D{up}_USE_DSP={int(dsp and not mve)}",
             f"-D{up}_USE_MVE={int(mve)}",
             f'-DMCU_FRAMES="{Path(frames_path).resolve()}"', f"-DMCU_CAL={CAL_ITERATIONS}u",
             f"-DMCU_STACK_PAINT={STACK_PAINT}u"]  # fmt: skip
    srcs = [out / "startup.c", out / "harness.c"]
    if stub:
        flags.append("-DMCU_STUB")
    else:
        srcs += [lib / f"{name}_model.c", lib / f"{name}_weights.c"]
    link = ["--specs=rdimon.specs", "-nostartfiles", f"-T{out / 'link.ld'}", "-Wl,--gc-sections",
            f"-Wl,-Map={elf.with_suffix('.map')}"]  # fmt: skip
    _run([GCC, *flags, *map(str, srcs), *link, "-lm", "-o", str(elf)], f"{GCC} ({tag})")
    return elf


def elf_size(elf: str | Path) -> dict[str, int]:
    """Berkeley sizes: text (code + rodata), data, bss."""
    proc = _run([SIZE, "-B", str(elf)], SIZE)
    text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def run_image(elf: str | Path, cpu: str = "cortex-m4", timeout: float = 600) -> dict[str, Any]:
    """Run under QEMU (semihosting, -icount shift=0) → calibration and per-frame rows."""
    cmd = [QEMU, "-M", CPUS[cpu].machine, "-nographic", "-semihosting", "-icount", "shift=0",
           "-kernel", str(elf)]  # fmt: skip
    proc = _run(cmd, f"{QEMU} -M {CPUS[cpu].machine}", timeout)
    lines = proc.stdout.splitlines()
    if "END" not in lines:
        raise AmrkitError(f"the Cortex-M image stopped early: {' | '.join(lines[-3:])}")
    cal = next(line.split() for line in lines if line.startswith("CAL "))
    rows = [list(map(int, line.split()[1:])) for line in lines if line.startswith("F ")]
    a = np.asarray(rows, np.int64).reshape(len(rows), -1)
    iterations, cal_ticks = int(cal[1]), int(cal[2])
    per_tick = 2 * iterations / cal_ticks  # instructions per SysTick tick
    return {
        "machine": CPUS[cpu].machine,
        "calibration": {
            "iterations": iterations,
            "instructions": 2 * iterations,
            "ticks": cal_ticks,
            "instructions_per_tick": per_tick,
        },  # fmt: skip
        "classes": a[:, 1],
        "ticks": a[:, 2],
        "instructions": a[:, 2] * per_tick,
        "stack_bytes": a[:, 3],
        "logits": a[:, 4:],
    }


def int8_frames_file(xq: np.ndarray, path: str | Path, offset: int = 0) -> Path:
    """Golden input integers (n, 2, L) → the C library's int8 (n, L, 2) file."""
    stored = np.asarray(xq, np.int64).transpose(0, 2, 1) + offset
    np.ascontiguousarray(stored.astype(np.int8)).tofile(path)
    return Path(path)


def measure(
    lib_dir: str | Path, work: str | Path, xq: np.ndarray, *, name: str = "amr",
    cpu: str = "cortex-m4", dsp: bool = True, input_offset: int | None = None, mve: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Build and run the library on ``xq`` (golden input integers (n, 2, L)); sizes, stack,
    instructions per frame and the logits. ``input_offset``: stored int8 = golden integer +
    offset (default: the library header's)."""
    require_toolchain()
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    if input_offset is None:  # uint8 inputs are stored shifted by -128
        input_offset = header_value(lib_dir, "INPUT_OFFSET", name)
    frames = int8_frames_file(xq, work / "frames.i8", input_offset)
    elf = build_image(lib_dir, work, frames, name=name, cpu=cpu, dsp=dsp, mve=mve)
    stub = build_image(lib_dir, work, frames, name=name, cpu=cpu, dsp=dsp, mve=mve, stub=True)
    full, base = elf_size(elf), elf_size(stub)
    run = run_image(elf, cpu)
    lib = {k: full[k] - base[k] for k in full}
    return {**run, "elf": str(elf), "variant": variant_name(dsp, mve), "cpu": cpu,
            "library": lib, "image": full}  # fmt: skip


_DEFINE = re.compile(r"#define (\w+) (-?\d+)")


def header_value(lib_dir: str | Path, key: str, name: str = "amr") -> int:
    text = (Path(lib_dir) / f"{name}_model.h").read_text()
    values = dict(_DEFINE.findall(text))
    return int(values[f"{name.upper()}_{key}"])
