"""Write the C library of an :class:`~amrkit.golden.IntegerModel`: ``<name>_model.h``,
``<name>_model.c`` (kernels + layer table + ``<name>_classify``), ``<name>_weights.c``
(const int8 weights, int32 biases, multipliers, shifts), ``example_main.c`` and a README.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.deploy import csrc, pack, x86
from amrkit.deploy.plan import ROUNDING_IDS, Layer, Plan, allocate, build_plan
from amrkit.errors import AmrkitError
from amrkit.fileio import staging_folder
from amrkit.golden.model import IntegerModel

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
CONV_FIELDS = (
    "cin", "lin", "cout", "k", "stride", "dil", "pad_l", "lconv", "kc", "kc_pad", "pk", "ps",
    "ppad", "pdil", "lout", "raw", "relu", "fused", "in_zp", "out_zp", "lo", "hi", "scratch",
    "fpreq", "packed",
)  # fmt: skip
BUILD_ONLY = {"bias_folded": "AMR_FOLDED", "mf": "AMR_MVEF"}  # arrays some builds never read
CHAN_FIELDS = ("c", "n", "in_zp", "out_zp", "lo", "hi")
POOL_FIELDS = ("c", "lin", "k", "s", "pad_l", "dil", "lout")
PAD_FIELDS = ("c", "lin", "pad_l", "pad_r", "mode", "value")
CTYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",  # packed 4-bit weights (amrkit.deploy.pack)
    np.dtype(np.int32): "int32_t",
    np.dtype(np.float32): "float",
}


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise AmrkitError(
            f"--name {name!r} is not a C prefix; use lower-case letters, digits and _ "
            "(starting with a letter, at most 31 characters), e.g. amr"
        )
    return name


def c_float(value: float) -> str:
    """A float32 constant as an exact C99 hex literal."""
    return f"{float(np.float32(value)).hex()}f"


def c_array(name: str, a: np.ndarray, per_line: int = 24, align: str = "AMR_ALIGNED") -> str:
    a = np.ascontiguousarray(a).reshape(-1)
    ctype = CTYPES[a.dtype]
    if a.dtype == np.float32:
        vals, per_line = [c_float(v) for v in a], 8
    else:
        vals = [str(int(v)) for v in a]
    lines = [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n    ".join(lines)
    return f"const {ctype} {name}[{a.size}] {align} = {{\n    {body}\n}};\n"


def _arrays(plan: Plan) -> list[tuple[str, np.ndarray]]:
    out = []
    for layer in plan.layers:
        for key, a in layer.arrays.items():
            out.append((f"amr_{layer.name}_{key}", np.asarray(a)))
    return out


def _struct(layer: Layer) -> str:
    p = layer.params
    if layer.kind == "conv":
        p = {**p, "fused": int(layer.fused is not None)}
        vals = ", ".join(str(int(p[f])) for f in CONV_FIELDS)
        names = {k: f"amr_{layer.name}_{k}" for k in layer.arrays}
        names = {k: f"{BUILD_ONLY[k]}({v})" if k in BUILD_ONLY else v for k, v in names.items()}
        order = ("w", "wp", "bias", "bias_folded", "mult", "shift", "mf")
        ptrs = ", ".join(names.get(k, "0") for k in order)
        return f"static const amr_conv_t amr_p_{layer.name} = {{{vals}, {ptrs}}};\n"
    if layer.kind in ("mean", "rescale"):
        vals = ", ".join(str(int(p[f])) for f in CHAN_FIELDS)
        ptrs = ", ".join(f"amr_{layer.name}_{k}" for k in ("bias", "mult", "shift"))
        return f"static const amr_chan_t amr_p_{layer.name} = {{{vals}, {ptrs}}};\n"
    if layer.kind == "maxpool":
        vals = ", ".join(str(int(p[f])) for f in POOL_FIELDS)
        return f"static const amr_pool_t amr_p_{layer.name} = {{{vals}}};\n"
    if layer.kind == "pad":
        vals = ", ".join(str(int(p[f])) for f in PAD_FIELDS)
        return f"static const amr_pad_t amr_p_{layer.name} = {{{vals}}};\n"
    return ""


def _call(plan: Plan, layer: Layer) -> list[str]:
    src = "iq"
    if layer.src != "input":
        src = f"(const int8_t *)(const void *)(A + {plan.tensors[layer.src].offset})"
    dst_t = plan.tensors[layer.dst]
    dst = f"(A + {dst_t.offset})"
    lines = []
    if layer.kind == "conv":
        lines.append(f"amr_conv(&amr_p_{layer.name}, {src}, {dst}, A);")
        if layer.fused:
            conv = plan.tensors[layer.fused]
            lines.append(f'AMR_DUMP("{layer.fused}", amr_debug_buf, 1, {conv.count});')
    elif layer.kind == "mean":
        lines.append(f"amr_mean(&amr_p_{layer.name}, {src}, (int8_t *){dst});")
    elif layer.kind == "rescale":
        lines.append(f"amr_rescale(&amr_p_{layer.name}, {src}, (int8_t *){dst});")
    elif layer.kind == "maxpool":
        lines.append(f"amr_maxpool(&amr_p_{layer.name}, {src}, (int8_t *){dst});")
    elif layer.kind == "pad":
        lines.append(f"amr_pad(&amr_p_{layer.name}, {src}, (int8_t *){dst});")
    elif layer.kind == "relu":
        p = layer.params
        lines.append(f"amr_relu({p['n']}, {p['zp']}, {src}, (int8_t *){dst});")
    lines.append(f'AMR_DUMP("{layer.dst}", {dst}, {dst_t.elem_bytes}, {dst_t.count});')
    return lines


def header(plan: Plan, path: str = "generic") -> str:
    c, length = plan.input_shape
    lo, hi = (0, 255) if plan.input_offset else (-128, 127)
    out_t = plan.tensors[plan.output]
    fused = [plan.tensors[la.fused].size for la in plan.layers if la.fused]
    packed = sum(int(la.params.get("packed", 0)) for la in plan.layers if la.kind == "conv")
    convs = sum(la.kind == "conv" for la in plan.layers)
    lines = [
        "/* Generated by amrkit deploy: do not edit (regenerate from the INT8 model). */",
        "#ifndef AMR_MODEL_H",
        "#define AMR_MODEL_H",
        "#include <stdint.h>",
        "",
        f"#define AMR_FRAME_LENGTH {length}",
        f"#define AMR_IN_CHANNELS {c}",
        f"#define AMR_NUM_CLASSES {plan.num_classes}",
        f"#define AMR_ARENA_BYTES {plan.arena_bytes} /* activations + scratch, by liveness */",
        f"#define AMR_MACS {plan.macs} /* multiply-accumulates per frame */",
        f"#define AMR_INPUT_SCALE {c_float(plan.input_scale)}",
        f"#define AMR_INPUT_ZERO_POINT {plan.input_zero_point - plan.input_offset}",
        f"#define AMR_INPUT_MIN {lo}.0f",
        f"#define AMR_INPUT_MAX {hi}.0f",
        f"#define AMR_INPUT_OFFSET {plan.input_offset} /* stored int8 = golden integer + this */",
        f"#define AMR_OUTPUT_ZERO_POINT {plan.output_zero_point}",
        f"#define AMR_OUTPUT_OFFSET {out_t.offset_int}",
        f"#define AMR_ROUNDING {ROUNDING_IDS[plan.rounding]} /* {plan.rounding} */",
        f"#define AMR_DEBUG_BYTES {max(fused, default=0)}",
        f"#define AMR_PACKED_LAYERS {packed} /* layers with 4-bit weights two per byte */",
        f"#define AMR_INT8_LAYERS {convs - packed} /* conv/dense layers with int8 weights */",
        f"#define AMR_X86 {x86.PATH_IDS[path]} /* kernels generated for --cpu {path} */",
        "",
        "extern const float amr_output_scale[AMR_NUM_CLASSES];",
        csrc.HEADER_API,
        "#endif /* AMR_MODEL_H */",
        "",
    ]
    return "\n".join(lines)


def model_c(plan: Plan, prog: x86.Program | None = None) -> str:
    arrays = _arrays(plan) + (x86.arrays(prog) if prog else [])
    parts = [
        "/* Generated by amrkit deploy: kernels, layer table and amr_classify. */",
        '#include "amr_model.h"',
        csrc.KERNELS,
        "/* ---- the network ---- */",
    ]
    parts += [f"extern const {CTYPES[a.dtype]} {n}[{a.size}];" for n, a in arrays]
    parts.append("")
    if prog is not None:
        parts.append(x86.network_source(prog, _struct))
        return "\n".join(parts)
    parts += [_struct(layer) for layer in plan.layers if _struct(layer)]
    words = -(-plan.arena_bytes // 4)
    parts.append(f"static int32_t amr_arena[{max(words, 1)}]; /* {plan.arena_bytes} bytes */\n")
    body = [
        "    uint8_t *const A = (uint8_t *)(void *)amr_arena;",
        "    int32_t c, best = 0;",
        f'    AMR_DUMP("input", iq, 1, {int(np.prod(plan.input_shape))});',
    ]
    for layer in plan.layers:
        body += [f"    {line}" for line in _call(plan, layer)]
    out = plan.tensors[plan.output]
    if out.elem_bytes == 4:
        body.append(f"    memcpy(logits, A + {out.offset}, sizeof(int32_t) * AMR_NUM_CLASSES);")
    else:
        body.append(
            "    for (c = 0; c < AMR_NUM_CLASSES; ++c) logits[c] = "
            f"(int32_t)((const int8_t *)(A + {out.offset}))[c] - AMR_OUTPUT_OFFSET;"
        )
    body.append("    for (c = 1; c < AMR_NUM_CLASSES; ++c) if (logits[c] > logits[best]) best = c;")
    body.append("    return (int)best;")
    parts.append(
        "int amr_classify(const int8_t *iq, int32_t *logits)\n{\n" + "\n".join(body) + "\n}\n"
    )
    return "\n".join(parts)


def weights_c(plan: Plan, prog: x86.Program | None = None) -> str:
    parts = [
        "/* Generated by amrkit deploy: the INT8 model's integer parameters (const: flash). */",
        '#include "amr_model.h"',
        "",
        "#if defined(__GNUC__)",
        "#define AMR_ALIGNED __attribute__((aligned(4)))",
        "#define AMR_ALIGNED64 __attribute__((aligned(64)))",
        "#else",
        "#define AMR_ALIGNED",
        "#define AMR_ALIGNED64",
        "#endif",
        "",
    ]
    names = ", ".join(json.dumps(c) for c in plan.classes)
    parts.append(f"const char *const amr_class_names[AMR_NUM_CLASSES] = {{{names}}};\n")
    scale = np.broadcast_to(plan.output_scale, (plan.num_classes,))
    parts.append(
        "const float amr_output_scale[AMR_NUM_CLASSES] = {"
        + ", ".join(c_float(s) for s in scale)
        + "};\n"
    )
    parts += [c_array(n, a) for n, a in _arrays(plan)]
    if prog is not None:
        parts.append("/* x86 kernels: weights packed [K*C_in/4][C_out][4], folded biases, M */")
        parts += [c_array(n, a, align="AMR_ALIGNED64") for n, a in x86.arrays(prog)]
    return "\n".join(parts)


def _rename(text: str, name: str) -> str:
    if name == "amr":
        return text
    text = re.sub(r"(\b|(?<=-D))AMR_", f"{name.upper()}_", text)  # also -DAMR_... in comments
    return re.sub(r"\bamr_", f"{name}_", text)


def summary(plan: Plan, prog: x86.Program | None = None) -> dict[str, Any]:
    """Sizes and the layer list (README, --json, the report)."""
    weights = sum(
        a.nbytes for layer in plan.layers for k, a in layer.arrays.items() if k != "mf"
    )  # mf: Helium builds only
    path = prog.path if prog else "generic"
    kernels = {s.layer.name: "fast" if s.fast else "reference" for s in prog.steps} if prog else {}
    return {
        "cpu": path,
        "compile_flags": list(x86.CC_FLAGS[path]),
        "weight_packing": packing_summary(plan),
        **({"host_arena_bytes": prog.arena_bytes} if prog else {}),
        "classes": list(plan.classes),
        "frame_length": plan.input_shape[1],
        "rounding": plan.rounding,
        "macs_per_frame": plan.macs,
        "arena_bytes": plan.arena_bytes,
        "peak_live_bytes": plan.peak_live_bytes,
        "parameter_bytes": int(weights),
        "input_bytes": int(np.prod(plan.input_shape)),
        "layers": [
            {
                "name": la.name,
                "kind": la.kind + ("+maxpool" if la.fused else ""),
                "output": la.dst,
                "shape": list(plan.tensors[la.dst].shape),
                "arena_offset": plan.tensors[la.dst].offset,
                "macs": la.macs,
                **({"x86_kernel": kernels[la.name]} if la.kind == "conv" and prog else {}),
            }
            for la in plan.layers
        ],
    }


def packing_summary(plan: Plan) -> dict[str, Any]:
    """Weight storage per conv layer, and the weight bytes packed vs one weight per byte."""
    rows = plan.packing
    packed = sum(r["weight_bytes"] for r in rows)
    unpacked = sum(r["unpacked_bytes"] for r in rows)
    return {
        "packed_layers": [r["layer"] for r in rows if r["storage"] == "int4x2"],
        "weight_bytes": packed,
        "weight_bytes_unpacked": unpacked,
        "nibble_order": "byte 4g+j of a row: tap 8g+j (low nibble), tap 8g+j+4 (high), excess-8",
        "layers": rows,
    }


def _build_line(name: str, path: str) -> str:
    if path == "generic":
        return f"""- Build: `cc -std=c99 -O2 {name}_model.c {name}_weights.c example_main.c -lm`.
  On a Cortex-M with the DSP extension (M4, M7, M33, M55) the convolutions use SMLAD
  (dual 16-bit MAC), on a Cortex-M55 with Helium (MVE) VMLADAVA;
  `-D{name.upper()}_USE_DSP=0` keeps portable C."""
    flags = " ".join(x86.CC_FLAGS[path])
    return f"""- Build (generated for `{path}`): `cc -std=c99 -O3 {flags} {name}_model.c
  {name}_weights.c example_main.c -lm` (or `-march=native` on such a CPU; without the flags
  the compiler stops with an #error naming them). The convolutions are SIMD kernels with
  the weights pre-packed, fused with requantization, ReLU and max-pool."""


def readme(plan: Plan, name: str, source: str, prog: x86.Program | None = None) -> str:
    s = summary(plan, prog)
    path = prog.path if prog else "generic"
    rows = "\n".join(
        f"| {la['name']} | {la['kind']} | {tuple(la['shape'])} | {la['arena_offset']} "
        f"| {la['macs']:,} |"
        for la in s["layers"]
    )
    classes = ", ".join(f"{i}: {c}" for i, c in enumerate(plan.classes))
    return f"""# {name}: an INT8 AMR CNN in C99

Generated by `amrkit deploy` from `{source}` (rounding `{plan.rounding}`). Bit-exact with
`amrkit simulate` (the golden model): same final integers, same intermediate tensors.

## API (`{name}_model.h`)

```c
int  {name}_classify(const int8_t *iq, int32_t *logits);   /* returns the argmax */
void {name}_normalize_power(float *iq);                    /* unit average power, in place */
void {name}_quantize_input(const float *iq, int8_t *q);    /* float -> int8 input */
void {name}_dequantize_logits(const int32_t *y, float *logits);
extern const char *const {name}_class_names[];
```

- Input: `{plan.input_shape[1]} x {plan.input_shape[0]}` int8, channel-last = interleaved I/Q
  (`iq[2*t]` = I, `iq[2*t+1]` = Q), i.e. a frame of an SDR's complex stream.
  Float frames: `{name}_normalize_power` then `{name}_quantize_input`.
- Output: {plan.num_classes} int32 logits: the network's final integers
  (`{"int32 accumulators" if plan.tensors[plan.output].elem_bytes == 4 else "int8 values"}`);
  `{name}_dequantize_logits` gives float32 logits.
- Classes: {classes}.
- No malloc, no float in the integer layers; one static arena of {plan.arena_bytes} bytes
  (peak of simultaneously live buffers: {plan.peak_live_bytes} bytes); not reentrant.
- Parameters (const, flash): {s["parameter_bytes"]:,} bytes. {plan.macs:,} MACs per frame.
{_build_line(name, path)}
  `-D{name.upper()}_DEBUG` calls `{name}_debug_tensor()` with every layer's output (see
  example_main.c).
- Conventions (CMSIS-NN int8): activations channel-last, weights `[C_out][K][C_in]`,
  per-channel int32 bias, multiplier `M0` and shift `n`; `y = clamp(round(acc·M0 / 2^n) +
  zp)`. A conv followed by a max-pool is fused (pool of accumulators, then one
  requantization: identical because requantization is monotone).

## Layers

| layer | kind | output (C, L) | arena offset | MACs |
|---|---|---|---|---|
{rows}
"""


def write_library(
    model: IntegerModel,
    out_dir: str | Path,
    name: str = "amr",
    cpu: str = "generic",
    pack_weights: str = "auto",
) -> dict[str, Any]:
    """Generate the C library of ``model`` into ``out_dir`` (new, or a previous deploy
    output; replaced whole, atomically) for ``cpu`` (:data:`amrkit.deploy.x86.HOST_CPUS`:
    ``generic`` portable C99 with the Cortex-M kernels, an x86 SIMD path, or ``native``, the
    fastest exact path of this CPU). ``pack_weights``: ``auto`` stores the weights of layers
    that fit 4 bits two per byte (generic builds; :mod:`amrkit.deploy.pack`), ``off`` one per
    byte. Returns :func:`summary` plus ``files``."""
    check_name(name)
    pack.check_mode(pack_weights)
    plan = build_plan(model)
    path = x86.resolve_cpu(cpu, plan)
    prog = x86.build_program(plan, path) if path != "generic" else None
    # x86 kernels read their own pre-packed int8 layout (plenty of memory, no flash budget):
    # their plan stays unpacked, so "auto" packs generic (Cortex-M, portable) builds only
    packed = pack_weights == "auto" and prog is None
    plan.packing = pack.pack_plan(plan.layers, pack.recorded_bits(model.metadata), packed)
    if any(r["storage"] == "int4x2" for r in plan.packing):
        allocate(plan)  # the packed layers' scratch holds unpacked rows
    target = Path(out_dir)
    files = {
        f"{name}_model.h": header(plan, path),
        f"{name}_model.c": model_c(plan, prog),
        f"{name}_weights.c": weights_c(plan, prog),
        "example_main.c": csrc.EXAMPLE_MAIN,
    }
    files = {
        k: _rename(v.replace('"amr_model.h"', f'"{name}_model.h"'), name) for k, v in files.items()
    }
    files["README.md"] = readme(plan, name, str(model.source), prog)
    info = summary(plan, prog)
    files["deploy.json"] = json.dumps({"name": name, **info}, indent=1) + "\n"
    _write_folder(target, files)
    return {"name": name, "out": str(target), "files": sorted(files), **info}


def _write_folder(target: Path, files: dict[str, str]) -> None:
    if target.exists():
        if not target.is_dir():
            raise AmrkitError(f"--out {str(target)!r} is a file; choose a folder")
        if not (target / "deploy.json").is_file() and any(target.iterdir()):
            raise AmrkitError(
                f"--out {str(target)!r} exists and is not an amrkit deploy folder; choose a new one"
            )
    tmp = staging_folder(target, suffix="")
    try:
        for fname, text in files.items():
            (tmp / fname).write_text(text)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
