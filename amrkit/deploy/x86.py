"""x86 SIMD kernels of the generated library: AVX2 (``vpmaddubsw``) and AVX-512 VNNI
(``vpdpbusd``), chosen when the library is generated (``amrkit deploy --cpu``).

The host program differs from the Cortex-M one (``plan.py``) only in memory layout and
kernels, never in integers:

- every activation is kept as **u8 = stored int8 + 128** (the golden model's uint8 value for
  uint8 tensors, int8 + 128 for int8 ones): the u8 × s8 instructions take it as it is, and
  ``acc = Σ u8·w + (bias − zp_u8·Σw)`` is the golden model's ``Σ (x − zp)·w + bias``;
- each tensor has its own buffer (no reuse: the host has the memory) with the rows of zero
  point that the next convolution's padding needs written in front and behind, so every
  window is a contiguous run of ``k · C_in`` bytes and the kernels have no edge cases;
- weights are packed at generation time as ``[K·C_in / 4][C_out (padded to 8)][4]``: one
  vector load gives 4 taps of 8 (ymm) or 16 (zmm) output channels, the unit of both
  ``vpmaddubsw`` + ``vpmaddwd`` (AVX2) and ``vpdpbusd`` (VNNI);
- each convolution is a generated function with its shapes as constants: a tile of ``P``
  positions × up to 64 output channels in registers, the fused max-pool, requantization and
  ReLU (the clamp) in the epilogue, ``u8`` stores.

**Requantization in float32.** The golden model's default rounding (``float32``) is
``rint(float32(acc) · float32(M))``; when ``M0 · 2^-n`` is a normal float32 (always, for
ONNX Runtime's float32 multipliers) the kernels compute exactly that with
``vcvtdq2ps``/``vmulps``/``vcvtps2dq``, clamped in float first (rint is monotone, the bounds
are integers). Pooling takes the max of the products before rounding: rint and the clamp are
monotone, so this is the pool of the requantized outputs (also where ``M < 0``). Other
rounding modes, or a multiplier that is not a float32, use the scalar ``amr_requant``.

**AVX2 is exact only with the pair bound.** ``vpmaddubsw`` adds two u8 × s8 products in a
saturating int16: a layer runs on it only when ``255 × (the two largest same-sign weight
magnitudes of any output channel)`` ≤ 32,767 (the portable format's proof); otherwise
generating for ``x86-avx2`` is refused. VNNI accumulates in int32: no bound.

Layers the fast kernel does not cover (dilation, overlapping or padded pools) run a scalar
reference kernel in the same layout, so every model the generator accepts runs on every
path, exactly.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amrkit.deploy.plan import Layer, Plan, float_multipliers
from amrkit.errors import AmrkitError

X86_PATHS = ("x86-avx2", "x86-avx512vnni")
HOST_CPUS = ("generic", "native", *X86_PATHS)
PATH_IDS = {"generic": 0, "x86-avx2": 1, "x86-avx512vnni": 2}
# /proc/cpuinfo flags each path needs; the compiler flags that enable it
CPU_FLAGS = {
    "x86-avx2": ("avx2",),
    "x86-avx512vnni": ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"),
}
CC_FLAGS = {
    "generic": (),
    "x86-avx2": ("-mavx2",),
    "x86-avx512vnni": ("-mavx2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni"),
}
PAIR_LIMIT = 32767  # int16: vpmaddubsw's pair sums
ACC_REGS = {"x86-avx2": 8, "x86-avx512vnni": 16}  # accumulator registers per tile (no spills)
CHUNK_LANES = {"x86-avx2": 16, "x86-avx512vnni": 64}  # output channels per tile
MAX_TILE = 16  # positions per tile
ALIGN = 64


@functools.cache
def host_flags() -> frozenset[str]:
    """This CPU's feature flags (``/proc/cpuinfo``; empty elsewhere or off x86)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "flags":
            return frozenset(value.split())
    return frozenset()


def missing_flags(path: str, flags: frozenset[str] | set[str] | None = None) -> list[str]:
    """The CPU flags ``path`` needs that this CPU (or ``flags``) lacks."""
    have = host_flags() if flags is None else flags
    return [f for f in CPU_FLAGS.get(path, ()) if f not in have]


def supported_paths(flags: frozenset[str] | set[str] | None = None) -> list[str]:
    """The x86 paths this CPU runs, fastest first (VNNI before AVX2)."""
    return [p for p in reversed(X86_PATHS) if not missing_flags(p, flags)]


def pair_bound(w: np.ndarray) -> np.ndarray:
    """(cout, …) centered weights → per output channel, the worst ``|u1·w1 + u2·w2|`` over
    u8 inputs and any two of its weights: 255 × the larger of the two largest positive weights'
    sum and the two largest negative magnitudes' sum."""
    rows = np.asarray(w, np.int64).reshape(len(w), -1)
    pos = -np.sort(-np.clip(rows, 0, None), axis=1)[:, :2].sum(axis=1)
    neg = -np.sort(-np.clip(-rows, 0, None), axis=1)[:, :2].sum(axis=1)
    return 255 * np.maximum(pos, neg)


def check_pair_bound(plan: Plan) -> None:
    """Refuse a model whose convolutions could saturate ``vpmaddubsw`` (one line)."""
    for layer in plan.layers:
        if layer.kind != "conv":
            continue
        bound = int(pair_bound(layer.arrays["w"]).max(initial=0))
        if bound > PAIR_LIMIT:
            raise AmrkitError(
                f"layer {layer.name}: a pair of u8 x s8 products reaches {bound:,} > "
                f"{PAIR_LIMIT:,}, which saturates AVX2's vpmaddubsw; --cpu x86-avx2 cannot "
                "compute this file exactly: use --cpu x86-avx512vnni or generic, or quantize "
                "with --target portable"
            )


def resolve_cpu(cpu: str, plan: Plan, flags: frozenset[str] | set[str] | None = None) -> str:
    """``--cpu`` → the path to generate: ``native`` is the fastest exact path of this CPU
    (VNNI, else AVX2 when the pair bound holds, else generic)."""
    if cpu not in HOST_CPUS:
        raise AmrkitError(f"--cpu {cpu!r} is not one of {', '.join(HOST_CPUS)}")
    if cpu != "native":
        if cpu == "x86-avx2":
            check_pair_bound(plan)
        return cpu
    for path in supported_paths(flags):
        if path == "x86-avx2":
            try:
                check_pair_bound(plan)
            except AmrkitError:
                continue
        return path
    return "generic"


# ---- the host program ------------------------------------------------------------------
@dataclass
class Buf:
    """One activation buffer in the host arena (u8, or int32 for a raw network output)."""

    name: str
    rows: int
    chans: int
    stride: int  # elements per row (>= chans)
    elem: int = 1
    offset_int: int = 0  # stored int8 = golden + offset_int
    pad_l: int = 0  # rows of fill in front (the consumer's padding)
    pad_r: int = 0
    fill: int = 0  # u8
    base: int = 0  # arena offset of the first (pad) row
    fixed_stride: bool = False  # a reshape reads it with another row structure

    @property
    def data(self) -> int:
        return self.base + self.pad_l * self.stride * self.elem

    @property
    def nbytes(self) -> int:
        return (self.pad_l + self.rows + self.pad_r) * self.stride * self.elem


@dataclass
class Step:
    layer: Layer
    src: Buf
    dst: Buf
    fast: bool = False
    simd_requant: bool = False
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Program:
    plan: Plan
    path: str
    bufs: dict[str, Buf]
    steps: list[Step]
    arena_bytes: int = 0
    debug_bytes: int = 0


def _spatial(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1


def _ceil(v: int, m: int) -> int:
    return -(-v // m) * m


def _fast_ok(layer: Layer) -> bool:
    p = layer.params
    if p["dil"] != 1:
        return False
    if p["pk"] == 1:
        return p["lout"] == p["lconv"] and p["ps"] == 1 and p["ppad"] == 0
    return (
        not p["raw"]
        and p["ps"] == p["pk"]
        and p["ppad"] == 0
        and p["pdil"] == 1
        and p["lout"] * p["pk"] == p["lconv"]
    )


def _buffers(plan: Plan) -> dict[str, Buf]:
    bufs: dict[str, Buf] = {}
    hidden = {la.fused for la in plan.layers if la.fused}
    for t in plan.tensors.values():
        if t.alias_of or t.name in hidden:
            continue
        stride = t.shape[0]
        bufs[t.name] = Buf(t.name, _spatial(t.shape), t.shape[0], stride, t.elem_bytes,
                           t.offset_int)  # fmt: skip
    for t in plan.tensors.values():
        if t.alias_of:
            root = bufs[t.alias_of]
            if _spatial(t.shape) != root.rows:
                root.fixed_stride = True
            bufs[t.name] = root
    return bufs


def build_program(plan: Plan, path: str) -> Program:
    """Lay out the host program of ``plan`` for ``path`` (an x86 path)."""
    if path not in X86_PATHS:
        raise AmrkitError(f"x86 path {path!r} is not one of {', '.join(X86_PATHS)}")
    if path == "x86-avx2":
        check_pair_bound(plan)
    bufs = _buffers(plan)
    steps: list[Step] = []
    for layer in plan.layers:
        src, dst = bufs[layer.src], bufs[layer.dst]
        step = Step(layer, src, dst)
        if layer.kind == "conv":
            _plan_conv(step, plan.rounding == "float32")
        elif layer.kind == "mean" and plan.rounding == "float32":
            _plan_mean(step)
        steps.append(step)
    _place(bufs)
    prog = Program(plan, path, bufs, steps)
    prog.arena_bytes = max((b.base + b.nbytes for b in bufs.values()), default=0) + ALIGN
    fused = [s.dst.stride * s.layer.params["lconv"] for s in steps if s.layer.fused]
    prog.debug_bytes = max([b.rows * b.chans * b.elem for b in bufs.values()] + fused)
    return prog


def _plan_conv(step: Step, float32_rounding: bool) -> None:
    layer, src, dst = step.layer, step.src, step.dst
    p = layer.params
    cp = _ceil(p["cout"], 8)
    pad_r = max(0, (p["lconv"] - 1) * p["stride"] + p["k"] - p["pad_l"] - p["lin"])
    fill = p["in_zp"] + 128
    fast = _fast_ok(layer) and (dst.stride == cp or not dst.fixed_stride)
    if fast and (src.pad_l or src.pad_r) and (src.pad_l, src.pad_r, src.fill) != (
        p["pad_l"], pad_r, fill
    ):  # fmt: skip
        fast = False  # another reader already pads this buffer differently
    if (p["pad_l"] or pad_r) and fast and src.fixed_stride:
        fast = False
    step.fast = fast
    if not fast:
        return
    src.pad_l, src.pad_r, src.fill = p["pad_l"], pad_r, fill
    dst.stride = cp
    exact = float_multipliers(layer.arrays["mult"], layer.arrays["shift"]) is not None
    step.simd_requant = not p["raw"] and float32_rounding and exact
    step.arrays = _pack(layer, src.stride, cp)


def _plan_mean(step: Step) -> None:
    """An average pool over 8 channels at a time: the bias with ``−n·zp`` folded in (u8
    domain) and float32 multipliers, when they are exact and the channels whole vectors."""
    layer, p = step.layer, step.layer.params
    mf = float_multipliers(layer.arrays["mult"], layer.arrays["shift"])
    if mf is None or p["c"] % 8:
        return
    step.fast = True
    bias = layer.arrays["bias"].astype(np.int64) - p["n"] * (p["in_zp"] + 128)
    step.arrays = {"xb": bias.astype(np.int32), "xm": mf}


def _pack(layer: Layer, xs: int, cp: int) -> dict[str, np.ndarray]:
    """Weights ``[KQ][cp][4]`` for an input of row stride ``xs``, the bias with the zero point
    folded in (u8 domain, interior windows), float32 multipliers."""
    p = layer.params
    cout, k, cin = p["cout"], p["k"], p["cin"]
    rows = layer.arrays["w"][:, : k * cin].astype(np.int64).reshape(cout, k, cin)
    full = np.zeros((cp, k, xs), np.int64)
    full[:cout, :, :cin] = rows
    kc = k * xs
    kq = -(-kc // 4)
    flat = np.zeros((cp, kq * 4), np.int64)
    flat[:, :kc] = full.reshape(cp, kc)
    packed = flat.reshape(cp, kq, 4).transpose(1, 0, 2)  # [KQ][cp][4]
    zp_u8 = p["in_zp"] + 128
    bias = np.zeros(cp, np.int64)
    bias[:cout] = layer.arrays["bias"].astype(np.int64) - zp_u8 * rows.sum(axis=(1, 2))
    if np.any(np.abs(bias) >= 2**31):
        raise AmrkitError(f"layer {layer.name}: the folded bias leaves int32")
    mult = np.zeros(cp, np.float32)
    m0 = layer.arrays["mult"].astype(np.float64)
    mult[:cout] = (m0 * 2.0 ** -layer.arrays["shift"].astype(np.float64)).astype(np.float32)
    return {
        "xw": np.ascontiguousarray(packed).astype(np.int8).reshape(-1),
        "xb": bias.astype(np.int32),
        "xm": mult,
        "kq": np.asarray(kq),
    }


def _place(bufs: dict[str, Buf]) -> None:
    pos = 0
    seen: set[int] = set()
    for b in bufs.values():
        if id(b) in seen:
            continue
        seen.add(id(b))
        b.base = pos
        pos = _ceil(pos + b.nbytes + ALIGN, ALIGN)  # + slack: the last quad may read past


# ---- C source ----------------------------------------------------------------------------
X86_COMMON = r"""
/* ---- x86 host kernels (AMR_X86: 1 = AVX2, 2 = AVX-512 VNNI) --------------------------- */
#if AMR_X86 == 1 && !defined(__AVX2__)
#error "generated for x86-avx2: compile with -mavx2 (or -march=native on an AVX2 CPU)"
#endif
#if AMR_X86 == 2 && !(defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__))
#error "generated for x86-avx512vnni: compile with -mavx2 -mavx512f -mavx512bw -mavx512vl \
-mavx512vnni (or -march=native on such a CPU)"
#endif
#include <immintrin.h>

#define AMR_RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#if defined(__GNUC__)
#define AMR_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define AMR_NO_UNROLL
#endif

static inline int32_t amr_ld32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* a += 4 taps (u8 v) x 4 taps of 8 output channels (s8 w), in int32 */
AMR_ALWAYS_INLINE __m256i amr_mac8(__m256i a, __m256i v, __m256i w)
{
#if AMR_X86 == 2
    return _mm256_dpbusd_epi32(a, v, w);
#else /* pairs in int16: exact by the pair bound checked at generation time */
    return _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w),
                                                 _mm256_set1_epi16(1)));
#endif
}

/* float32(acc) * M: ONNX Runtime's requantization product (round to nearest even) */
AMR_ALWAYS_INLINE __m256 amr_scale8(__m256i a, const float *m)
{
    return _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_loadu_ps(m));
}

/* clamp (in float: rint is monotone), round half to even, + zp, 8 u8 stores */
AMR_ALWAYS_INLINE void amr_put8(uint8_t *dst, __m256 f, float lo, float hi, int32_t zp)
{
    __m256i r;
    __m128i h;
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
    r = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_round_ps(f, AMR_RN)), _mm256_set1_epi32(zp));
    h = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64((__m128i *)(void *)dst, _mm_packus_epi16(h, h));
}

#if AMR_X86 == 2
AMR_ALWAYS_INLINE __m512i amr_mac16(__m512i a, __m512i v, __m512i w)
{
    return _mm512_dpbusd_epi32(a, v, w);
}

AMR_ALWAYS_INLINE __m512 amr_scale16(__m512i a, const float *m)
{
    return _mm512_mul_round_ps(_mm512_cvt_roundepi32_ps(a, AMR_RN), _mm512_loadu_ps(m), AMR_RN);
}

AMR_ALWAYS_INLINE void amr_put16(uint8_t *dst, __m512 f, float lo, float hi, int32_t zp)
{
    __m512i r;
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
    r = _mm512_add_epi32(_mm512_cvt_roundps_epi32(f, AMR_RN), _mm512_set1_epi32(zp));
    _mm_storeu_si128((__m128i *)(void *)dst, _mm512_cvtepi32_epi8(r));
}
#endif

#ifdef AMR_DEBUG
static uint8_t amr_x_dbg[AMR_X_DEBUG_BYTES]; /* conv outputs hidden by a fused pool */
static int8_t amr_x_dbg_out[AMR_X_DEBUG_BYTES];

/* a buffer (u8 = stored + 128, rows of `stride`) -> the stored int8, channel-last */
static void amr_x_dump(const char *name, const void *buf, int32_t rows, int32_t chans,
                       int32_t stride, int32_t elem)
{
    int32_t r, c;
    for (r = 0; r < rows; ++r)
        for (c = 0; c < chans; ++c) {
            if (elem == 4)
                memcpy(amr_x_dbg_out + 4 * (r * chans + c),
                       (const int32_t *)buf + r * stride + c, 4);
            else
                amr_x_dbg_out[r * chans + c] =
                    (int8_t)(((const uint8_t *)buf)[r * stride + c] ^ 0x80u);
        }
    amr_debug_tensor(name, elem, amr_x_dbg_out, rows * chans);
}
#define AMR_X_DUMP(name, buf, rows, chans, stride, elem) \
    amr_x_dump((name), (buf), (rows), (chans), (stride), (elem))
#else
#define AMR_X_DUMP(name, buf, rows, chans, stride, elem) ((void)0)
#endif

/* requantize a tile of accumulators in scalar code (other rounding modes): acc[np][chl] */
typedef struct {
    int32_t pk, cout, ys, zp, lo, hi; /* zp, lo, hi: stored int8 domain */
    const int32_t *mult;
    const int8_t *shift;
} amr_xrq_t;

AMR_MAYBE_UNUSED static void amr_x_requant_tile(const amr_xrq_t *r, const int32_t *acc,
                                                int32_t np, int32_t chl, int32_t choff,
                                                int32_t t, uint8_t *y)
{
    int32_t g, c, j;
    for (g = 0; g < np / r->pk; ++g)
        for (c = 0; c < chl && choff + c < r->cout; ++c) {
            const int32_t o = choff + c, up = r->mult[o] >= 0;
            int32_t best = acc[g * r->pk * chl + c];
            for (j = 1; j < r->pk; ++j) best = amr_pick(best, acc[(g * r->pk + j) * chl + c], up);
            y[(t / r->pk + g) * r->ys + o] =
                (uint8_t)(amr_requant(best, r->mult[o], r->shift[o], r->zp, r->lo, r->hi) + 128);
        }
#ifdef AMR_DEBUG
    if (r->pk > 1)
        for (j = 0; j < np; ++j)
            for (c = 0; c < chl && choff + c < r->cout; ++c) {
                const int32_t o = choff + c;
                amr_x_dbg[(t + j) * r->ys + o] = (uint8_t)(
                    amr_requant(acc[j * chl + c], r->mult[o], r->shift[o], r->zp, r->lo, r->hi) +
                    128);
            }
#endif
}

/* ---- reference kernels in the host layout (layers the fast kernel does not cover) -------- */
typedef struct {
    int32_t cin, lin, cout, k, stride, dil, pad_l, lconv, kc_pad, pk, ps, ppad, pdil, lout;
    int32_t raw, relu, fused, in_zp, out_zp, lo, hi, xs, ys; /* in_zp: u8; out_zp, lo, hi: int8 */
    const int8_t *w; /* the portable rows [cout][kc_pad] */
    const int32_t *bias, *mult;
    const int8_t *shift;
} amr_xref_t;

AMR_MAYBE_UNUSED static int32_t amr_xref_acc(const amr_xref_t *p, const uint8_t *x, int32_t t,
                                             int32_t o)
{
    const int8_t *w = p->w + o * p->kc_pad;
    int32_t acc = p->bias[o], j, c;
    for (j = 0; j < p->k; ++j) {
        const int32_t pos = t * p->stride - p->pad_l + j * p->dil;
        if (pos < 0 || pos >= p->lin) continue;
        for (c = 0; c < p->cin; ++c)
            acc += ((int32_t)x[pos * p->xs + c] - p->in_zp) * w[j * p->cin + c];
    }
    return acc;
}

AMR_MAYBE_UNUSED static void amr_xref_conv(const amr_xref_t *p, const uint8_t *x, void *y)
{
    int32_t q, o, j;
    for (q = 0; q < p->lout; ++q)
        for (o = 0; o < p->cout; ++o) {
            int32_t best = 0; /* u8 minimum: an empty window never happens (plan) */
            if (p->raw) {
                const int32_t acc = amr_xref_acc(p, x, q, o);
                ((int32_t *)y)[q * p->ys + o] = p->relu && acc < 0 ? 0 : acc;
                continue;
            }
            for (j = 0; j < p->pk; ++j) {
                const int32_t t = q * p->ps - p->ppad + j * p->pdil;
                int32_t v;
                if (t < 0 || t >= p->lconv) continue;
                v = amr_requant(amr_xref_acc(p, x, t, o), p->mult[o], p->shift[o], p->out_zp,
                                p->lo, p->hi) + 128;
                best = v > best ? v : best;
            }
            ((uint8_t *)y)[q * p->ys + o] = (uint8_t)best;
        }
#ifdef AMR_DEBUG
    if (p->fused)
        for (q = 0; q < p->lconv; ++q)
            for (o = 0; o < p->cout; ++o)
                amr_x_dbg[q * p->ys + o] = (uint8_t)(amr_requant(amr_xref_acc(p, x, q, o),
                    p->mult[o], p->shift[o], p->out_zp, p->lo, p->hi) + 128);
#endif
}

AMR_MAYBE_UNUSED static void amr_x_maxpool(const amr_pool_t *p, const uint8_t *x, int32_t xs,
                                           uint8_t *y, int32_t ys)
{
    int32_t q, c, j;
    for (q = 0; q < p->lout; ++q)
        for (c = 0; c < p->c; ++c) {
            uint8_t best = 0; /* padding never wins */
            for (j = 0; j < p->k; ++j) {
                const int32_t t = q * p->s - p->pad_l + j * p->dil;
                if (t >= 0 && t < p->lin && x[t * xs + c] > best) best = x[t * xs + c];
            }
            y[q * ys + c] = best;
        }
}

AMR_MAYBE_UNUSED static void amr_x_relu(int32_t rows, int32_t c, int32_t zp, const uint8_t *x,
                                        int32_t xs, uint8_t *y, int32_t ys)
{
    int32_t r, i;
    for (r = 0; r < rows; ++r)
        for (i = 0; i < c; ++i) y[r * ys + i] = x[r * xs + i] > zp ? x[r * xs + i] : (uint8_t)zp;
}

AMR_MAYBE_UNUSED static void amr_x_pad(const amr_pad_t *p, const uint8_t *x, int32_t xs,
                                       uint8_t *y, int32_t ys)
{
    const int32_t lout = p->lin + p->pad_l + p->pad_r;
    int32_t r, c;
    for (r = 0; r < lout; ++r) {
        int32_t t = r - p->pad_l;
        if (t < 0 || t >= p->lin) {
            if (p->mode == 0) {
                for (c = 0; c < p->c; ++c) y[r * ys + c] = (uint8_t)(p->value + 128);
                continue;
            }
            if (p->mode == 1) t = t < 0 ? 0 : p->lin - 1;
            else t = t < 0 ? -t : 2 * (p->lin - 1) - t;
        }
        memcpy(y + r * ys, x + t * xs, (size_t)p->c);
    }
}

/* rescale (mean = 0) or average over all rows (mean = 1), in the host layout */
AMR_MAYBE_UNUSED static void amr_x_chan(const amr_chan_t *p, int32_t mean, const uint8_t *x,
                                        int32_t xs, uint8_t *y, int32_t ys)
{
    const int32_t zp = p->in_zp + 128;
    int32_t c, s;
    for (c = 0; c < p->c; ++c) {
        if (mean) {
            int32_t acc = p->bias[c] - p->n * zp;
            for (s = 0; s < p->n; ++s) acc += x[s * xs + c];
            y[c] = (uint8_t)(amr_requant(acc, p->mult[c], p->shift[c], p->out_zp, p->lo, p->hi) +
                             128);
            continue;
        }
        for (s = 0; s < p->n; ++s)
            y[s * ys + c] = (uint8_t)(amr_requant(x[s * xs + c] - zp + p->bias[c], p->mult[c],
                                                  p->shift[c], p->out_zp, p->lo, p->hi) + 128);
    }
}

/* the average over `rows` rows of 8 channels at a time (c a multiple of 8), requantized in
 * float32 like the convolutions; b: bias - rows * zp (u8 domain) */
AMR_MAYBE_UNUSED static void amr_x_mean8(int32_t rows, int32_t c, int32_t xs, const uint8_t *x,
                                         const int32_t *b, const float *m, float lo, float hi,
                                         int32_t zp, uint8_t *y)
{
    int32_t ch, r;
    for (ch = 0; ch < c; ch += 8) {
        __m256i acc = _mm256_loadu_si256((const __m256i *)(const void *)(b + ch));
        for (r = 0; r < rows; ++r)
            acc = _mm256_add_epi32(acc, _mm256_cvtepu8_epi32(
                      _mm_loadl_epi64((const __m128i *)(const void *)(x + r * xs + ch))));
        amr_put8(y + ch, amr_scale8(acc, m + ch), lo, hi, zp);
    }
}

/* float frame, planar (C, L) as NumPy holds it -> u8 input rows (L, C), exactly as
 * amr_quantize_input: clamp(round_half_even(x / s) + zp) */
AMR_MAYBE_UNUSED static void amr_x_quantize_planar(const float *iq, uint8_t *dst)
{
    const float scale = AMR_INPUT_SCALE, zp = (float)AMR_INPUT_ZERO_POINT;
    const int32_t off = AMR_INPUT_OFFSET + 128;
    int32_t t = 0, c;
#if AMR_IN_CHANNELS == 2
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zp);
    const __m256 lo = _mm256_set1_ps(AMR_INPUT_MIN), hi = _mm256_set1_ps(AMR_INPUT_MAX);
    const __m256i vo = _mm256_set1_epi32(off);
    for (; t + 8 <= AMR_FRAME_LENGTH; t += 8) {
        __m256 a = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(iq + t), vs),
                                                 AMR_RN), vz);
        __m256 b = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(
                       _mm256_loadu_ps(iq + AMR_FRAME_LENGTH + t), vs), AMR_RN), vz);
        __m256i ia, ib, w;
        a = _mm256_min_ps(_mm256_max_ps(a, lo), hi);
        b = _mm256_min_ps(_mm256_max_ps(b, lo), hi);
        ia = _mm256_add_epi32(_mm256_cvttps_epi32(a), vo);
        ib = _mm256_add_epi32(_mm256_cvttps_epi32(b), vo);
        w = _mm256_or_si256(ia, _mm256_slli_epi32(ib, 8)); /* I | Q << 8 per sample */
        _mm_storeu_si128((__m128i *)(void *)(dst + 2 * t),
                         _mm_packus_epi32(_mm256_castsi256_si128(w),
                                          _mm256_extracti128_si256(w, 1)));
    }
#endif
    for (; t < AMR_FRAME_LENGTH; ++t)
        for (c = 0; c < AMR_IN_CHANNELS; ++c) {
            float v = nearbyintf(iq[c * AMR_FRAME_LENGTH + t] / scale) + zp;
            v = v < AMR_INPUT_MIN ? AMR_INPUT_MIN : (v > AMR_INPUT_MAX ? AMR_INPUT_MAX : v);
            dst[t * AMR_IN_CHANNELS + c] = (uint8_t)((int32_t)v + off);
        }
}
"""


def _blocks(path: str, cp: int) -> list[tuple[int, int]]:
    """(lanes, channel offset) of the vector blocks covering ``cp`` output channels."""
    if path == "x86-avx512vnni":
        out = [(16, 16 * i) for i in range(cp // 16)]
        if cp % 16:
            out.append((8, cp - 8))
        return out
    return [(8, 8 * i) for i in range(cp // 8)]


def _chunks(path: str, cp: int) -> list[list[tuple[int, int]]]:
    """Blocks grouped into tiles of at most :data:`CHUNK_LANES` output channels."""
    limit = CHUNK_LANES[path]
    chunks: list[list[tuple[int, int]]] = [[]]
    for lanes, off in _blocks(path, cp):
        if sum(b[0] for b in chunks[-1]) + lanes > limit:
            chunks.append([])
        chunks[-1].append((lanes, off))
    return chunks


def _tile_positions(path: str, nblocks: int, pk: int, lconv: int) -> int:
    p = max(1, ACC_REGS[path] // nblocks)
    p = min(p, MAX_TILE, lconv)
    return max(pk, p // pk * pk)


@dataclass
class _Conv:
    """What the emitter needs of one fast convolution."""

    name: str
    path: str
    xs: int  # input row stride (bytes)
    s: int  # conv stride
    k: int
    lconv: int
    pk: int
    cout: int
    cp: int
    kq: int
    ys: int
    raw: bool
    relu: bool
    simd: bool
    zp_u8: int
    lo_f: int
    hi_f: int
    fused: bool


def _vec(lanes: int) -> tuple[str, str]:
    return ("__m512i", "_mm512") if lanes == 16 else ("__m256i", "_mm256")


def _tile(c: _Conv, chunk: list[tuple[int, int]], npos: int) -> list[str]:
    """C statements of one tile: ``npos`` positions from ``t`` × the blocks of ``chunk``."""
    choff = chunk[0][1]
    chl = sum(b[0] for b in chunk)
    out = ["{", f"    const uint8_t *xt = x + t * {c.s * c.xs};"]
    for i, (lanes, off) in enumerate(chunk):
        vt, pre = _vec(lanes)
        load = f"{pre}_loadu_si{lanes * 32}((const void *)(B + {off}))"
        out.append(f"    const {vt} b{i} = {load};")
    for p in range(npos):
        for i, (lanes, _) in enumerate(chunk):
            out.append(f"    {_vec(lanes)[0]} a{p}_{i} = b{i};")
    out += ["    const int8_t *wq = W + " + str(choff * 4) + ";", "    int32_t q;"]
    out.append("    AMR_NO_UNROLL /* unrolled, GCC sums the products in trees: spills */")
    out.append(f"    for (q = 0; q < {c.kq}; ++q, wq += {c.cp * 4}) {{")
    for i, (lanes, off) in enumerate(chunk):
        vt, pre = _vec(lanes)
        out.append(
            f"        const {vt} w{i} = {pre}_loadu_si{lanes * 32}((const void *)"
            f"(wq + {(off - choff) * 4}));"
        )
    wide = any(lanes == 16 for lanes, _ in chunk)
    narrow = any(lanes == 8 for lanes, _ in chunk)
    for p in range(npos):
        src = f"amr_ld32(xt + {p * c.s * c.xs} + 4 * q)"
        if wide:
            out.append(f"        {{ const __m512i v = _mm512_set1_epi32({src});")
            if narrow:
                out.append("          const __m256i v8 = _mm512_castsi512_si256(v);")
        else:
            out.append(f"        {{ const __m256i v8 = _mm256_set1_epi32({src});")
        for i, (lanes, _) in enumerate(chunk):
            if lanes == 16:
                out.append(f"          a{p}_{i} = amr_mac16(a{p}_{i}, v, w{i});")
            else:
                out.append(f"          a{p}_{i} = amr_mac8(a{p}_{i}, v8, w{i});")
        out.append("        }")
    out.append("    }")
    out += ["    " + line for line in _epilogue(c, chunk, npos, choff, chl)]
    out.append("}")
    return out


def _epilogue(c: _Conv, chunk: list[tuple[int, int]], npos: int, choff: int, chl: int) -> list[str]:
    out: list[str] = []
    if c.raw:
        for p in range(npos):
            for i, (lanes, off) in enumerate(chunk):
                pre = _vec(lanes)[1]
                val = f"a{p}_{i}"
                if c.relu:
                    val = f"{pre}_max_epi32({val}, {pre}_setzero_si{lanes * 32}())"
                out.append(
                    f"{pre}_storeu_si{lanes * 32}((void *)((int32_t *)out + (t + {p}) * {c.ys}"
                    f" + {off}), {val});"
                )
        return out
    if not c.simd:
        out.append(f"int32_t acc[{npos * chl}];")
        for p in range(npos):
            for i, (lanes, off) in enumerate(chunk):
                pre = _vec(lanes)[1]
                at = p * chl + off - choff
                out.append(f"{pre}_storeu_si{lanes * 32}((void *)(acc + {at}), a{p}_{i});")
        out.append(f"amr_x_requant_tile(&RQ, acc, {npos}, {chl}, {choff}, t, (uint8_t *)out);")
        return out
    for g in range(npos // c.pk):
        row = f"(uint8_t *)out + (t / {c.pk} + {g}) * {c.ys}"
        for i, (lanes, off) in enumerate(chunk):
            n = "16" if lanes == 16 else "8"
            f = f"amr_scale{n}(a{g * c.pk}_{i}, M + {off})"
            for j in range(1, c.pk):
                mx = "_mm512_max_ps" if lanes == 16 else "_mm256_max_ps"
                f = f"{mx}({f}, amr_scale{n}(a{g * c.pk + j}_{i}, M + {off}))"
            out.append(f"amr_put{n}({row} + {off}, {f}, {c.lo_f}.0f, {c.hi_f}.0f, {c.zp_u8});")
    if c.fused:
        out.append("#ifdef AMR_DEBUG")
        for p in range(npos):
            for i, (lanes, off) in enumerate(chunk):
                n = "16" if lanes == 16 else "8"
                out.append(
                    f"amr_put{n}(amr_x_dbg + (t + {p}) * {c.ys} + {off}, amr_scale{n}(a{p}_{i}, "
                    f"M + {off}), {c.lo_f}.0f, {c.hi_f}.0f, {c.zp_u8});"
                )
        out.append("#endif")
    return out


def _conv_info(step: Step, path: str) -> _Conv:
    p = step.layer.params
    return _Conv(
        step.layer.name, path, step.src.stride, p["stride"], p["k"], p["lconv"], p["pk"],
        p["cout"], _ceil(p["cout"], 8), int(step.arrays["kq"]), step.dst.stride, bool(p["raw"]),
        bool(p["relu"]), step.simd_requant, p.get("out_zp", 0) + 128,
        p.get("lo", 0) - p.get("out_zp", 0), p.get("hi", 0) - p.get("out_zp", 0),
        step.layer.fused is not None,
    )  # fmt: skip


def fast_conv_source(step: Step, path: str) -> str:
    """The generated function of one fast convolution."""
    c = _conv_info(step, path)
    name = c.name
    lines = [
        f"/* {name}: {c.lconv} positions x {c.cout} channels (k {c.k}, input stride {c.xs} B"
        + (f", max-pool {c.pk}" if c.pk > 1 else "")
        + (", int32 out" if c.raw else "")
        + ("" if c.simd or c.raw else ", scalar requantization")
        + ") */",
        f"static void amr_x_{name}(const uint8_t *x, void *out)",
        "{",
        f"    const int8_t *const W = amr_{name}_xw;",
        f"    const int32_t *const B = amr_{name}_xb;",
        f"    const float *const M = amr_{name}_xm;",
        "    int32_t t;",
        "    (void)M;",
    ]
    if not c.simd and not c.raw:
        lines.insert(
            4,
            f"    static const amr_xrq_t RQ = {{{c.pk}, {c.cout}, {c.ys}, {c.zp_u8 - 128}, "
            f"{c.lo_f + c.zp_u8 - 128}, {c.hi_f + c.zp_u8 - 128}, amr_{name}_mult, "
            f"amr_{name}_shift}};",
        )
    body: list[str] = []
    for chunk in _chunks(path, c.cp):
        npos = _tile_positions(path, len(chunk), c.pk, c.lconv)
        main = c.lconv // npos * npos
        if main:
            body.append(f"for (t = 0; t < {main}; t += {npos})")
            body += _tile(c, chunk, npos)
        if c.lconv - main:
            body.append(f"t = {main};")
            body += _tile(c, chunk, c.lconv - main)
    lines += ["    " + line for line in body]
    lines.append("}")
    return "\n".join(lines) + "\n"


def arrays(prog: Program) -> list[tuple[str, np.ndarray]]:
    """The packed constant arrays of the fast convolutions (``amr_<layer>_x{w,b,m}``)."""
    out = []
    for step in prog.steps:
        for key in ("xw", "xb", "xm"):
            if step.fast and key in step.arrays:
                out.append((f"amr_{step.layer.name}_{key}", step.arrays[key]))
    return out


def _ref_struct(step: Step) -> str:
    p = step.layer.params
    vals = [p["cin"], p["lin"], p["cout"], p["k"], p["stride"], p["dil"], p["pad_l"], p["lconv"],
            p["kc_pad"], p["pk"], p["ps"], p["ppad"], p["pdil"], p["lout"], p["raw"], p["relu"],
            int(step.layer.fused is not None), p["in_zp"] + 128, p.get("out_zp", 0),
            p.get("lo", 0), p.get("hi", 0), step.src.stride, step.dst.stride]  # fmt: skip
    n = step.layer.name
    ptrs = f"amr_{n}_w, amr_{n}_bias, amr_{n}_mult, amr_{n}_shift"
    return f"static const amr_xref_t amr_xr_{n} = {{{', '.join(map(str, vals))}, {ptrs}}};\n"


def _dump(name: str, ptr: str, buf: Buf, shape: tuple[int, ...]) -> str:
    rows, chans = _spatial(shape), shape[0]
    stride = buf.stride if rows == buf.rows else chans
    return f'AMR_X_DUMP("{name}", {ptr}, {rows}, {chans}, {stride}, {buf.elem});'


def _call(prog: Program, step: Step) -> list[str]:
    layer, src, dst = step.layer, step.src, step.dst
    n, p = layer.name, layer.params
    x, y = f"A + {src.data}", f"A + {dst.data}"
    rows = _spatial(prog.plan.tensors[layer.src].shape)
    if layer.kind == "conv":
        if step.fast:
            lines = [f"amr_x_{n}(A + {src.base + (src.pad_l - p['pad_l']) * src.stride}, {y});"]
        else:
            lines = [f"amr_xref_conv(&amr_xr_{n}, {x}, {y});"]
        if layer.fused:
            shape = prog.plan.tensors[layer.fused].shape
            lines.append(
                f'AMR_X_DUMP("{layer.fused}", amr_x_dbg, {shape[1]}, {shape[0]}, {dst.stride}, 1);'
            )
    elif layer.kind == "maxpool":
        lines = [f"amr_x_maxpool(&amr_p_{n}, {x}, {src.stride}, {y}, {dst.stride});"]
    elif layer.kind == "relu":
        lines = [f"amr_x_relu({rows}, {src.chans}, {p['zp'] + 128}, {x}, {src.stride}, {y}, "
                 f"{dst.stride});"]  # fmt: skip
    elif layer.kind == "pad":
        lines = [f"amr_x_pad(&amr_p_{n}, {x}, {src.stride}, {y}, {dst.stride});"]
    elif layer.kind == "mean" and step.fast:
        zp, lo, hi = p["out_zp"] + 128, p["lo"] - p["out_zp"], p["hi"] - p["out_zp"]
        lines = [f"amr_x_mean8({rows}, {p['c']}, {src.stride}, {x}, amr_{n}_xb, amr_{n}_xm, "
                 f"{lo}.0f, {hi}.0f, {zp}, {y});"]  # fmt: skip
    elif layer.kind in ("mean", "rescale"):
        mean = int(layer.kind == "mean")
        lines = [f"amr_x_chan(&amr_p_{n}, {mean}, {x}, {src.stride}, {y}, {dst.stride});"]
    else:  # reshape: the same memory
        lines = []
    lines.append(_dump(layer.dst, f"A + {dst.data}", dst, prog.plan.tensors[layer.dst].shape))
    return lines


def _pads(prog: Program) -> list[str]:
    out = []
    seen: set[int] = set()
    for b in prog.bufs.values():
        if id(b) in seen or not (b.pad_l or b.pad_r):
            continue
        seen.add(id(b))
        if b.pad_l:
            out.append(f"memset(A + {b.base}, {b.fill}, {b.pad_l * b.stride});")
        if b.pad_r:
            end = b.data + b.rows * b.stride
            out.append(f"memset(A + {end}, {b.fill}, {b.pad_r * b.stride});")
    return out


def network_source(prog: Program, struct: object) -> str:
    """The x86 network: the fast convolutions, the reference layers' tables, the arena and
    ``amr_classify``. ``struct(layer)`` gives a portable layer's table (codegen)."""
    plan = prog.plan
    parts = [
        f"#define AMR_X_DEBUG_BYTES {max(prog.debug_bytes, 1)}",
        X86_COMMON,
        "/* ---- the network (host layout: u8 = stored + 128, padded rows) ---- */",
        f"static uint8_t amr_x_arena[{prog.arena_bytes}] __attribute__((aligned(64)));",
        "",
    ]
    for step in prog.steps:
        layer = step.layer
        if layer.kind == "conv":
            parts.append(fast_conv_source(step, prog.path) if step.fast else _ref_struct(step))
        elif layer.kind in ("maxpool", "pad", "mean", "rescale") and not step.fast:
            parts.append(struct(layer))  # type: ignore[operator]
    inp = prog.bufs["input"]
    c, length = plan.input_shape
    body = ["    uint8_t *const A = amr_x_arena;", "    int32_t c, best = 0;"]
    body.append(f'    AMR_X_DUMP("input", A + {inp.data}, {length}, {c}, {inp.stride}, 1);')
    for step in prog.steps:
        body += [f"    {line}" for line in _call(prog, step)]
    out = prog.bufs[plan.output]
    out_shape = plan.tensors[plan.output].shape
    chans = out_shape[0] if _spatial(out_shape) == out.rows else out.stride
    if out.elem == 4:
        read = f"((const int32_t *)(const void *)(A + {out.data}))"
        val = f"{read}[c / {chans} * {out.stride} + c % {chans}]"
    else:
        val = f"(int32_t)(A + {out.data})[c / {chans} * {out.stride} + c % {chans}] - 128"
        val += " - AMR_OUTPUT_OFFSET"
    body.append(f"    for (c = 0; c < AMR_NUM_CLASSES; ++c) logits[c] = {val};")
    body.append("    for (c = 1; c < AMR_NUM_CLASSES; ++c) if (logits[c] > logits[best]) best = c;")
    body.append("    return (int)best;")
    parts.append("static int amr_x_network(int32_t *logits)\n{\n" + "\n".join(body) + "\n}\n")
    pads = "\n".join(f"        {line}" for line in _pads(prog))
    parts.append(
        "/* the rows of zero point around the buffers (written once: no layer writes them) */\n"
        "static void amr_x_pads(void)\n{\n    static int done = 0;\n"
        "    uint8_t *const A = amr_x_arena;\n    (void)A;\n"
        f"    if (!done) {{\n{pads}\n        done = 1;\n    }}\n}}\n"
    )
    parts.append(f"""int amr_classify(const int8_t *iq, int32_t *logits)
{{
    uint8_t *const in = amr_x_arena + {inp.data};
    int32_t i;
    amr_x_pads();
    for (i = 0; i < {c * length}; ++i) in[i] = (uint8_t)((uint8_t)iq[i] ^ 0x80u);
    return amr_x_network(logits);
}}

/* float frame, planar (C, L) -> the final integers (the c runtime's entry) */
AMR_MAYBE_UNUSED static int amr_x_classify_planar(const float *iq, int32_t *logits)
{{
    amr_x_pads();
    amr_x_quantize_planar(iq, amr_x_arena + {inp.data});
    return amr_x_network(logits);
}}
""")
    return "\n".join(parts)
