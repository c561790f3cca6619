"""The fixed C source of a generated library: kernels, requantization, I/O helpers and the
example program. ``codegen`` adds the model's layer table and weights and renames the
``amr_`` / ``AMR_`` prefix when ``--name`` asks for another.

The kernels follow CMSIS-NN's int8 conventions (channel-last activations, ``[C_out][K][C_in]``
weights, per-channel multiplier and shift, the input offset applied in the MAC), so a
CMSIS-NN call can replace a loop; they are plain C99, with a Cortex-M Helium (MVE, VMLADAVA)
dot product where ``__ARM_FEATURE_MVE`` is defined, else a DSP (SMLAD) inner loop where
``__ARM_FEATURE_DSP`` is (``-DAMR_USE_MVE=0`` / ``-DAMR_USE_DSP=0`` turn them off). The x86
host kernels are in :mod:`amrkit.deploy.x86`.
"""

from __future__ import annotations

# The types and declarations every build needs (goes into amr_model.h after the constants).
HEADER_API = r"""
/* The convolutions use Helium (MVE: VMLADAVA, 16 MACs per instruction) where the compiler
 * targets it (Cortex-M55, M85), else the Cortex-M DSP extension (SMLAD); -DAMR_USE_MVE=0 and
 * -DAMR_USE_DSP=0 turn them off (portable C loops). */
#ifndef AMR_USE_MVE
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define AMR_USE_MVE 1
#else
#define AMR_USE_MVE 0
#endif
#endif
#ifndef AMR_USE_DSP
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !AMR_USE_MVE
#define AMR_USE_DSP 1
#else
#define AMR_USE_DSP 0
#endif
#endif

/* Requantization ties (AMR_ROUNDING, set above from the golden model). */
#define AMR_ROUND_HALF_EVEN 0
#define AMR_ROUND_HALF_AWAY 1
#define AMR_ROUND_HALF_UP 2
#define AMR_ROUND_FLOAT32 3

/* Class names, in the order of the logits. */
extern const char *const amr_class_names[AMR_NUM_CLASSES];

/* Classify one frame.
 * iq:     AMR_FRAME_LENGTH x 2 int8, channel-last: iq[2*t] = I(t), iq[2*t+1] = Q(t)
 *         (quantized by amr_quantize_input).
 * logits: AMR_NUM_CLASSES int32: the network's final integers, exactly those of
 *         `amrkit simulate` (dequantize with amr_dequantize_logits).
 * Returns the index of the largest logit (the first one on ties).
 * Not reentrant: the activations live in one static arena of AMR_ARENA_BYTES. */
int amr_classify(const int8_t *iq, int32_t *logits);

/* Scale a float frame (AMR_FRAME_LENGTH x 2, interleaved I/Q) to unit average power,
 * mean(I^2 + Q^2) = 1, in place (the convention amrkit trains with). */
void amr_normalize_power(float *iq);

/* Float frame (AMR_FRAME_LENGTH x 2, interleaved) -> int8 input of amr_classify:
 * q = clamp(round_half_even(x / AMR_INPUT_SCALE) + zero point), in float32 as the golden
 * model and ONNX Runtime do it (bit-exact with IEEE float32 arithmetic). */
void amr_quantize_input(const float *iq, int8_t *q);

/* Final integers -> float logits: float32(y - zero point) * float32(scale[c]). */
void amr_dequantize_logits(const int32_t *y, float *logits);

#ifdef AMR_DEBUG
/* Debug builds (-DAMR_DEBUG) call this after every layer with the layer's output tensor,
 * channel-last, as the golden model's integers plus AMR_..._OFFSET (see the README);
 * bytes_per_value is 1 (int8) or 4 (int32). The application defines it. */
void amr_debug_tensor(const char *name, int bytes_per_value, const void *data, int count);
#endif
"""

KERNELS = r"""
#include <string.h>
#include <math.h>

#if AMR_USE_DSP
#include <arm_acle.h>
#elif AMR_USE_MVE
#include <arm_mve.h>
#endif

#if AMR_USE_DSP
#define AMR_FOLDED(array) 0 /* not referenced: the linker drops it */
#else
#define AMR_FOLDED(array) array
#endif
/* Helium with floating point (MVE-F): the requantization of 4 channels at a time */
#if AMR_USE_MVE && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define AMR_MVE_FP 1
#define AMR_MVEF(array) array
#else
#define AMR_MVE_FP 0
#define AMR_MVEF(array) 0 /* not referenced: the linker drops it */
#endif
#if defined(__GNUC__)
#define AMR_ALIGNED __attribute__((aligned(4)))
#define AMR_MAYBE_UNUSED __attribute__((unused)) /* kernels this network does not call */
#define AMR_ALWAYS_INLINE static inline __attribute__((always_inline))
#define AMR_NOINLINE static __attribute__((noinline)) /* keeps the int8 path's inlining */
#else
#define AMR_ALIGNED
#define AMR_MAYBE_UNUSED
#define AMR_ALWAYS_INLINE static inline
#define AMR_NOINLINE static
#endif

#ifdef AMR_DEBUG
#define AMR_DUMP(name, ptr, bytes, count) amr_debug_tensor((name), (bytes), (ptr), (count))
AMR_MAYBE_UNUSED static int8_t amr_debug_buf[AMR_DEBUG_BYTES > 0 ? AMR_DEBUG_BYTES : 1];
#else
#define AMR_DUMP(name, ptr, bytes, count) ((void)0)
#endif

/* ---- requantization: y = clamp(round(acc * M0 / 2^n) + zp, lo, hi) ------------------- */
#if AMR_ROUNDING == AMR_ROUND_FLOAT32
static inline int32_t amr_clz32(uint32_t v) /* v != 0 */
{
#if defined(__GNUC__)
    return __builtin_clz(v);
#else
    int32_t n = 0;
    while (!(v & 0x80000000u)) {
        v <<= 1;
        ++n;
    }
    return n;
#endif
}

/* p rounded to 24 significant bits, ties to even: the float32 product float(acc)*float(M)
 * of ONNX Runtime's requantization, in integers (exact as |acc| < 2^24). */
static inline int64_t amr_round24(int64_t p)
{
    uint64_t a = p < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;
    if (a >> 24) {
        int s = 0;
        uint64_t q, r, half;
#if defined(__GNUC__)
        s = 40 - __builtin_clzll(a); /* bit length - 24 */
#else
        while ((a >> s) >> 24) ++s;
#endif
        q = a >> s;
        r = a & (((uint64_t)1 << s) - 1u);
        half = (uint64_t)1 << (s - 1);
        if (r > half || (r == half && (q & 1u))) ++q;
        a = q << s;
    }
    return p < 0 ? -(int64_t)a : (int64_t)a;
}
#endif

/* The one requantization of the library (round_shift as the golden model's `rounding`).
 * Right shifts of negative values are arithmetic (GCC, Clang, Arm Compiler). */
AMR_ALWAYS_INLINE int32_t amr_requant(int32_t acc, int32_t m0, int32_t n, int32_t zp, int32_t lo,
                                  int32_t hi)
{
    int64_t p = (int64_t)acc * m0;
    int64_t y;
#if AMR_ROUNDING == AMR_ROUND_FLOAT32
    if (n > 32) { /* far from a tie, rounding p to 24 bits first (|change| < 2^31) cannot
                   * move p across one: round_shift(p, n) is the answer (the usual case) */
        const int32_t h = (int32_t)(p >> 32), k = n - 32, half = (int32_t)1 << (k - 1);
        const int32_t hm = h & ((half << 1) - 1); /* ties lie at hm = half, l = 0 */
        if (hm != half && hm != half - 1) {
            const int32_t r = ((h + half) >> k) + zp; /* not a tie: nearest */
            return r < lo ? lo : (r > hi ? hi : r);
        }
    }
    { /* near a tie, in 32-bit arithmetic: |p| = ahi:alo has s + 24 bits, 9 <= s <= 31;
       * q = |p| rounded to 24 significant bits (q * 2^s), then q / 2^(n - s), ties even */
        const uint64_t a = p < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;
        const uint32_t ahi = (uint32_t)(a >> 32), alo = (uint32_t)a;
        if (ahi != 0 && ahi < (1u << 23)) {
            const int32_t s = 40 - amr_clz32(ahi), d = n - s;
            if (d >= 1 && d <= 30) {
                const uint32_t r = alo & ((1u << s) - 1u), h = 1u << (s - 1);
                uint32_t q = (ahi << (32 - s)) | (alo >> s);
                int32_t v;
                q += r > h || (r == h && (q & 1u));
                v = p < 0 ? -(int32_t)q : (int32_t)q;
                v = ((v + ((1 << (d - 1)) - 1) + ((v >> d) & 1)) >> d) + zp;
                return v < lo ? lo : (v > hi ? hi : v);
            }
        }
    }
    p = amr_round24(p);
#endif
    if (n > 32) { /* the usual case: 32-bit arithmetic on the high word h (k = n - 32) */
        const int32_t h = (int32_t)(p >> 32), k = n - 32, half = (int32_t)1 << (k - 1);
        const uint32_t l = (uint32_t)p; /* the low word: ties need it */
        int32_t r;
        (void)l;
#if AMR_ROUNDING == AMR_ROUND_HALF_UP
        r = (h + half) >> k;
#elif AMR_ROUNDING == AMR_ROUND_HALF_AWAY
        r = (h + half - (h < 0 && l == 0)) >> k;
#else
        r = (h + half - (l == 0 && !((h >> k) & 1))) >> k;
#endif
        r += zp; /* |r| < 2^30 */
        return r < lo ? lo : (r > hi ? hi : r);
    }
    if (n == 0) {
        y = p;
    } else { /* the golden model's closed forms of round_shift (|p| < 2^62: no overflow) */
        const int64_t half = (int64_t)1 << (n - 1);
#if AMR_ROUNDING == AMR_ROUND_HALF_UP
        y = (p + half) >> n;
#elif AMR_ROUNDING == AMR_ROUND_HALF_AWAY
        y = (p + half - (p < 0)) >> n;
#else
        y = (p + (half - 1) + ((p >> n) & 1)) >> n;
#endif
    }
    y += zp;
    return (int32_t)(y < lo ? lo : (y > hi ? hi : y));
}

/* ---- convolution (and dense: a 1-tap conv of a length-1 input), fused max-pool -------- */
typedef struct {
    int32_t cin, lin, cout, k, stride, dil, pad_l, lconv, kc, kc_pad;
    int32_t pk, ps, ppad, pdil, lout, raw, relu, fused;
    int32_t in_zp, out_zp, lo, hi, scratch, fpreq, packed;
    const int8_t *w;            /* [cout][kc_pad]: [C_out][K][C_in], rows zero-padded
                                 * (null where packed) */
    const uint8_t *wp;          /* packed: [cout][kc_pad / 2], two 4-bit weights per byte
                                 * (amr_unpack4); null where not packed */
    const int32_t *bias;        /* [cout] accumulator units */
    const int32_t *bias_folded; /* bias - in_zp * sum(w): interior windows sum x * w
                                 * (portable kernel only; null in DSP builds) */
    const int32_t *mult;        /* [cout] M0 */
    const int8_t *shift;        /* [cout] n */
    const float *mf;            /* [cout] M0 * 2^-n as float32 where fpreq (Helium builds) */
} amr_conv_t;

AMR_MAYBE_UNUSED static int amr_interior(const amr_conv_t *p, int32_t t)
{
    const int32_t start = t * p->stride - p->pad_l;
    return p->dil == 1 && start >= 0 && start + p->k <= p->lin;
}

/* the pooled accumulator: max where M0 >= 0 (requantization increasing), else min */
static inline int32_t amr_pick(int32_t a, int32_t b, int up)
{
    return up ? (a > b ? a : b) : (a < b ? a : b);
}

/* Packed 4-bit weights: in each group of 8 taps of a row (4 bytes), byte j (0..3) holds tap j
 * in its low nibble and tap j + 4 in its high nibble, excess-8 (nibble = w + 8, w = -8..7).
 * The order lets the DSP kernel turn one word into the int8 weight words of taps 0..3 and
 * 4..7. amr_unpack4: a row of n (a multiple of 8) int8 weights from n / 2 packed bytes. */
AMR_MAYBE_UNUSED static void amr_unpack4(const uint8_t *src, int8_t *dst, int32_t n)
{
    int32_t i, j;
    for (i = 0; i < n; i += 8, src += 4, dst += 8)
        for (j = 0; j < 4; ++j) {
            dst[j] = (int8_t)((int32_t)(src[j] & 15u) - 8);
            dst[j + 4] = (int8_t)((int32_t)(src[j] >> 4) - 8);
        }
}

static inline void amr_store(const amr_conv_t *p, void *out, int32_t idx, int32_t o, int32_t acc)
{
    if (p->raw)
        ((int32_t *)out)[idx] = p->relu && acc < 0 ? 0 : acc;
    else
        ((int8_t *)out)[idx] = (int8_t)amr_requant(acc, p->mult[o], p->shift[o], p->out_zp,
                                                   p->lo, p->hi);
}

#ifdef AMR_DEBUG
AMR_MAYBE_UNUSED static void amr_debug_put(const amr_conv_t *p, int32_t t, int32_t o,
                                           int32_t acc)
{
    if (p->fused) /* the conv output that the fused pool hides */
        amr_debug_buf[t * p->cout + o] =
            (int8_t)amr_requant(acc, p->mult[o], p->shift[o], p->out_zp, p->lo, p->hi);
}
#endif

#if AMR_USE_DSP
static inline uint32_t amr_read32(const void *ptr)
{
    uint32_t v;
    memcpy(&v, ptr, 4);
    return v;
}

static inline uint32_t amr_sxtb16_ror8(uint32_t v) /* bytes 1 and 3, sign-extended */
{
    uint32_t r;
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static inline uint32_t amr_pack(int32_t lo, int32_t hi) /* two int16 in a word */
{
    return (uint32_t)(uint16_t)(int16_t)lo | ((uint32_t)(uint16_t)(int16_t)hi << 16);
}

/* The windows of positions ta and tb as int16 (x - in_zp), zeros for padding, interleaved
 * per group of four taps as the words a0|a2, a1|a3, b0|b2, b1|b3: SXTB16 of a weight word
 * gives w0|w2, SXTB16 ROR 8 gives w1|w3, so SMLAD pairs them up. */
AMR_MAYBE_UNUSED static void amr_im2col(const amr_conv_t *p, const int8_t *x, int32_t ta,
                                        int32_t tb, uint32_t *col)
{
    const int32_t zp = p->in_zp, kc = p->kc;
    int32_t i, r, k, c;
    if (amr_interior(p, ta) && amr_interior(p, tb) && (kc & 3) == 0) {
        const int8_t *a = x + (ta * p->stride - p->pad_l) * p->cin;
        const int8_t *b = x + (tb * p->stride - p->pad_l) * p->cin;
        const uint32_t zz = amr_pack(zp, zp);
        for (i = 0; i < kc; i += 4, col += 4) { /* SXTB16 gives the pairs, SSUB16 centres */
            const uint32_t u = amr_read32(a + i), v = amr_read32(b + i);
            col[0] = __ssub16(__sxtb16(u), zz);
            col[1] = __ssub16(amr_sxtb16_ror8(u), zz);
            col[2] = __ssub16(__sxtb16(v), zz);
            col[3] = __ssub16(amr_sxtb16_ror8(v), zz);
        }
        return;
    }
    for (i = 0; i < p->kc_pad; i += 4, col += 4) {
        int32_t v[2][4];
        for (r = 0; r < 8; ++r) { /* tap i + (r & 3) of window (r < 4 ? a : b) */
            const int32_t n = i + (r & 3), t = r < 4 ? ta : tb;
            int32_t pos;
            k = n / p->cin;
            c = n - k * p->cin;
            pos = t * p->stride - p->pad_l + k * p->dil;
            v[r >> 2][r & 3] = n < kc && pos >= 0 && pos < p->lin ? x[pos * p->cin + c] - zp : 0;
        }
        col[0] = amr_pack(v[0][0], v[0][2]);
        col[1] = amr_pack(v[0][1], v[0][3]);
        col[2] = amr_pack(v[1][0], v[1][2]);
        col[3] = amr_pack(v[1][1], v[1][3]);
    }
}

/* *a, *b += one weight row times the two windows: 8 MACs per 4 SMLAD (dual 16-bit MAC), the
 * scheme of CMSIS-NN's arm_nn_mat_mult_kernel_s8_s16. n: a multiple of 8. */
static inline void amr_dot_1x2(const uint32_t *col, const int8_t *w, int32_t n, int32_t *a,
                               int32_t *b)
{
    int32_t sa = *a, sb = *b;
    const int8_t *const end = w + n;
#if defined(__GNUC__)
    uint32_t u, u02, u13, c0, c1, c2, c3;
    __asm volatile(
        "1:\n\t"
        "ldr %[u], [%[w]], #4\n\t"
        "ldrd %[c2], %[c3], [%[col], #8]\n\t"
        "ldrd %[c0], %[c1], [%[col]], #16\n\t"
        "sxtb16 %[u02], %[u]\n\t"
        "sxtb16 %[u13], %[u], ror #8\n\t"
        "smlad %[sa], %[c0], %[u02], %[sa]\n\t"
        "smlad %[sa], %[c1], %[u13], %[sa]\n\t"
        "smlad %[sb], %[c2], %[u02], %[sb]\n\t"
        "smlad %[sb], %[c3], %[u13], %[sb]\n\t"
        "ldr %[u], [%[w]], #4\n\t"
        "ldrd %[c2], %[c3], [%[col], #8]\n\t"
        "ldrd %[c0], %[c1], [%[col]], #16\n\t"
        "sxtb16 %[u02], %[u]\n\t"
        "sxtb16 %[u13], %[u], ror #8\n\t"
        "smlad %[sa], %[c0], %[u02], %[sa]\n\t"
        "smlad %[sa], %[c1], %[u13], %[sa]\n\t"
        "smlad %[sb], %[c2], %[u02], %[sb]\n\t"
        "smlad %[sb], %[c3], %[u13], %[sb]\n\t"
        "cmp %[w], %[end]\n\t"
        "bne 1b"
        : [sa] "+r"(sa), [sb] "+r"(sb), [w] "+r"(w), [col] "+r"(col), [u] "=&r"(u),
          [u02] "=&r"(u02), [u13] "=&r"(u13), [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2),
          [c3] "=&r"(c3)
        : [end] "r"(end)
        : "cc", "memory");
#else
    while (w < end) {
        const uint32_t u = amr_read32(w), u02 = __sxtb16(u), u13 = amr_sxtb16_ror8(u);
        sa = __smlad(col[0], u02, sa);
        sa = __smlad(col[1], u13, sa);
        sb = __smlad(col[2], u02, sb);
        sb = __smlad(col[3], u13, sb);
        w += 4;
        col += 4;
    }
#endif
    *a = sa;
    *b = sb;
}

/* amr_dot_1x2 with packed 4-bit weights (amr_unpack4's order): one word holds 8 taps; its low
 * nibbles (AND 0x0F0F0F0F, then SSUB8 8 per byte: excess-8 to signed) are the int8 weight
 * word of taps 0..3, its high nibbles that of taps 4..7, each used as in amr_dot_1x2. */
AMR_NOINLINE void amr_dot_1x2_p4(const uint32_t *col, const uint8_t *w, int32_t n, int32_t *a,
                                 int32_t *b)
{
    int32_t sa = *a, sb = *b;
    const uint8_t *const end = w + (n >> 1);
    const uint32_t k8 = 0x08080808u, m4 = 0x0F0F0F0Fu;
    while (w < end) {
        const uint32_t u = amr_read32(w);
        const uint32_t lo = __ssub8(u & m4, k8), hi = __ssub8((u >> 4) & m4, k8);
        uint32_t u02 = __sxtb16(lo), u13 = amr_sxtb16_ror8(lo);
        sa = __smlad(col[0], u02, sa);
        sa = __smlad(col[1], u13, sa);
        sb = __smlad(col[2], u02, sb);
        sb = __smlad(col[3], u13, sb);
        u02 = __sxtb16(hi);
        u13 = amr_sxtb16_ror8(hi);
        sa = __smlad(col[4], u02, sa);
        sa = __smlad(col[5], u13, sa);
        sb = __smlad(col[6], u02, sb);
        sb = __smlad(col[7], u13, sb);
        w += 4;
        col += 8;
    }
    *a = sa;
    *b = sb;
}

/* row o of int8 weights w, or (packed) of packed weights wp, against the column pair */
AMR_ALWAYS_INLINE void amr_dot_row(const uint32_t *col, const int8_t *w, const uint8_t *wp,
                                   int packed, int32_t o, int32_t kcp, int32_t *a, int32_t *b)
{
    if (packed) amr_dot_1x2_p4(col, wp + o * (kcp >> 1), kcp, a, b);
    else amr_dot_1x2(col, w + o * kcp, kcp, a, b);
}

/* the layer; packed: its weights are packed (a constant where the network's layers are all
 * int8 or all packed, so the inlined kernel has no per-row test) */
AMR_ALWAYS_INLINE void amr_conv_dsp(const amr_conv_t *p, const int8_t *x, void *out,
                                    uint8_t *arena, const int packed)
{
    /* locals: int8 stores may alias the struct, so its fields are read once */
    const int32_t cout = p->cout, kcp = p->kc_pad, pk = p->pk, raw = p->raw, lout = p->lout;
    const int8_t *const w = p->w;
    const uint8_t *const wp = p->wp;
    const int32_t *const mult = p->mult, *const bias = p->bias;
    uint32_t *const cols = (uint32_t *)(void *)(arena + p->scratch);
    int32_t q, o, j, ts[8];
    if (pk == 1) { /* no pool: positions q, q + 1 share the column pair */
        for (q = 0; q < lout; q += 2) {
            const int32_t qb = q + 1 < lout ? q + 1 : q;
            const int32_t zp = p->out_zp, lo = p->lo, hi = p->hi;
            const int8_t *const shift = p->shift;
            int8_t *const da = (int8_t *)out + q * cout, *const db = (int8_t *)out + qb * cout;
            amr_im2col(p, x, q, qb, cols);
            for (o = 0; o < cout; ++o) {
                int32_t a = bias[o], b = bias[o];
                amr_dot_row(cols, w, wp, packed, o, kcp, &a, &b);
#ifdef AMR_DEBUG
                amr_debug_put(p, q, o, a);
                if (qb != q) amr_debug_put(p, qb, o, b);
#endif
                if (raw) {
                    amr_store(p, out, q * cout + o, o, a);
                    if (qb != q) amr_store(p, out, qb * cout + o, o, b);
                } else {
                    const int32_t m0 = mult[o], n = shift[o];
                    db[o] = (int8_t)amr_requant(b, m0, n, zp, lo, hi); /* qb may be q */
                    da[o] = (int8_t)amr_requant(a, m0, n, zp, lo, hi);
                }
            }
        }
        return;
    }
    for (q = 0; q < lout; ++q) {
        int32_t nt = 0;
        for (j = 0; j < pk; ++j) { /* conv positions of pool window q */
            const int32_t t = q * p->ps - p->ppad + j * p->pdil;
            if (t >= 0 && t < p->lconv) ts[nt++] = t;
        }
        if (nt == 2 && !raw) { /* the usual 2-wide pool window: one column pair */
            const int32_t zp = p->out_zp, lo = p->lo, hi = p->hi;
            const int8_t *const shift = p->shift;
            int8_t *const dst = (int8_t *)out + q * cout;
            amr_im2col(p, x, ts[0], ts[1], cols);
            for (o = 0; o < cout; ++o) {
                const int32_t m0 = mult[o];
                int32_t a = bias[o], b = a;
                amr_dot_row(cols, w, wp, packed, o, kcp, &a, &b);
#ifdef AMR_DEBUG
                amr_debug_put(p, ts[0], o, a);
                amr_debug_put(p, ts[1], o, b);
#endif
                a = amr_pick(a, b, m0 >= 0);
                dst[o] = (int8_t)amr_requant(a, m0, shift[o], zp, lo, hi);
            }
            continue;
        }
        for (j = 0; j < nt; j += 2)
            amr_im2col(p, x, ts[j], ts[j + 1 < nt ? j + 1 : j], cols + j * kcp / 2);
        for (o = 0; o < cout; ++o) {
            const int up = raw || mult[o] >= 0;
            int32_t best = 0;
            for (j = 0; j < nt; j += 2) {
                int32_t a = bias[o], b = bias[o];
                amr_dot_row(cols + j * kcp / 2, w, wp, packed, o, kcp, &a, &b);
#ifdef AMR_DEBUG
                amr_debug_put(p, ts[j], o, a);
                if (j + 1 < nt) amr_debug_put(p, ts[j + 1], o, b);
#endif
                a = amr_pick(a, b, up);
                best = j == 0 ? a : amr_pick(best, a, up);
            }
            amr_store(p, out, q * cout + o, o, best);
        }
    }
}

AMR_MAYBE_UNUSED static void amr_conv(const amr_conv_t *p, const int8_t *x, void *out,
                                      uint8_t *arena)
{
#if !AMR_PACKED_LAYERS
    amr_conv_dsp(p, x, out, arena, 0);
#elif !AMR_INT8_LAYERS
    amr_conv_dsp(p, x, out, arena, 1);
#else
    amr_conv_dsp(p, x, out, arena, p->packed); /* mixed storage: a test per row */
#endif
}
#else
/* sum over the valid taps of (x - in_zp) * w, + bias: windows that touch the padding */
AMR_MAYBE_UNUSED static int32_t amr_dot_edge(const amr_conv_t *p, const int8_t *x, int32_t t,
                                             int32_t o, const int8_t *w) /* w: row o */
{
    int32_t acc = p->bias[o], k, c;
    for (k = 0; k < p->k; ++k) {
        const int32_t pos = t * p->stride - p->pad_l + k * p->dil;
        if (pos < 0 || pos >= p->lin) continue;
        for (c = 0; c < p->cin; ++c)
            acc += ((int32_t)x[pos * p->cin + c] - p->in_zp) * w[k * p->cin + c];
    }
    return acc;
}

#if AMR_USE_MVE
/* acc[0..3] += the four dot products of two windows and two weight rows: 16 MACs per
 * VMLADAVA, the tail predicated (VCTP), so nothing past the window is read */
AMR_MAYBE_UNUSED static void amr_dot_2x2(const int8_t *xa, const int8_t *xb, const int8_t *wa,
                                         const int8_t *wb, int32_t n, int32_t *acc)
{
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, i;
    const int32_t full = n & ~15;
    for (i = 0; i < full; i += 16) {
        const int8x16_t va = vldrbq_s8(xa + i), vb = vldrbq_s8(xb + i);
        const int8x16_t u = vldrbq_s8(wa + i), v = vldrbq_s8(wb + i);
        a0 = vmladavaq_s8(a0, va, u);
        a1 = vmladavaq_s8(a1, va, v);
        b0 = vmladavaq_s8(b0, vb, u);
        b1 = vmladavaq_s8(b1, vb, v);
    }
    if (i < n) { /* the tail: VCTP predication, nothing past the window is read */
        const mve_pred16_t pr = vctp8q((uint32_t)(n - i));
        const int8x16_t va = vldrbq_z_s8(xa + i, pr), vb = vldrbq_z_s8(xb + i, pr);
        const int8x16_t u = vldrbq_z_s8(wa + i, pr), v = vldrbq_z_s8(wb + i, pr);
        a0 = vmladavaq_s8(a0, va, u);
        a1 = vmladavaq_s8(a1, va, v);
        b0 = vmladavaq_s8(b0, vb, u);
        b1 = vmladavaq_s8(b1, vb, v);
    }
    acc[0] += a0;
    acc[1] += a1;
    acc[2] += b0;
    acc[3] += b1;
}
#else
/* acc[0..3] += the four dot products of two windows and two weight rows (portable C) */
AMR_MAYBE_UNUSED static void amr_dot_2x2(const int8_t *xa, const int8_t *xb, const int8_t *wa,
                        const int8_t *wb, int32_t n, int32_t *acc)
{
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, i;
    for (i = 0; i < n; ++i) {
        const int32_t va = xa[i], vb = xb[i], u = wa[i], v = wb[i];
        a0 += va * u;
        a1 += va * v;
        b0 += vb * u;
        b1 += vb * v;
    }
    acc[0] += a0;
    acc[1] += a1;
    acc[2] += b0;
    acc[3] += b1;
}
#endif

/* accumulators of position t for rows o, o2 (acc[0], acc[1]; their weights wa, wb) */
AMR_MAYBE_UNUSED static void amr_conv_col(const amr_conv_t *p, const int8_t *x, int32_t t,
                                          int32_t o, int32_t o2, const int8_t *wa,
                                          const int8_t *wb, int32_t *acc)
{
    if (amr_interior(p, t)) {
        const int8_t *s = x + (t * p->stride - p->pad_l) * p->cin;
        int32_t tmp[4] = {0, 0, 0, 0};
        amr_dot_2x2(s, s, wa, wb, p->kc, tmp);
        acc[0] = tmp[0] + p->bias_folded[o];
        acc[1] = tmp[1] + p->bias_folded[o2];
    } else {
        acc[0] = amr_dot_edge(p, x, t, o, wa);
        acc[1] = amr_dot_edge(p, x, t, o2, wb);
    }
}

#if AMR_MVE_FP
/* r[0..3] = windows a, b x weight rows u, v (a.u, a.v, b.u, b.v): 16 MACs per VMLADAVA over
 * n16 whole vectors, then (tailed) one vector predicated by `pr` (VCTP: lanes past the
 * window are neither read nor added) */
AMR_ALWAYS_INLINE void amr_mve_dot(const int8_t *xa, const int8_t *xb, const int8_t *u,
                                   const int8_t *v, int32_t n16, int tailed, mve_pred16_t pr,
                                   int32_t *r)
{
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, i;
    for (i = 0; i < n16; ++i) {
        const int8x16_t va = vldrbq_s8(xa), vb = vldrbq_s8(xb), wu = vldrbq_s8(u);
        const int8x16_t wv = vldrbq_s8(v);
        xa += 16;
        xb += 16;
        u += 16;
        v += 16;
        a0 = vmladavaq_s8(a0, va, wu);
        b0 = vmladavaq_s8(b0, vb, wu);
        a1 = vmladavaq_s8(a1, va, wv);
        b1 = vmladavaq_s8(b1, vb, wv);
    }
    if (tailed) {
        const int8x16_t va = vldrbq_z_s8(xa, pr), vb = vldrbq_z_s8(xb, pr);
        const int8x16_t wu = vldrbq_z_s8(u, pr), wv = vldrbq_z_s8(v, pr);
        a0 = vmladavaq_s8(a0, va, wu);
        b0 = vmladavaq_s8(b0, vb, wu);
        a1 = vmladavaq_s8(a1, va, wv);
        b1 = vmladavaq_s8(b1, vb, wv);
    }
    r[0] = a0;
    r[1] = a1;
    r[2] = b0;
    r[3] = b1;
}

/* the window of conv position t: in x when interior, else copied to buf with the zero point
 * in place of the padding (with the folded bias, x = zp adds exactly nothing) */
static const int8_t *amr_mve_window(const amr_conv_t *p, const int8_t *x, int32_t t,
                                    int8_t *buf)
{
    const int32_t start = t * p->stride - p->pad_l, cin = p->cin;
    int32_t j;
    if (start >= 0 && start + p->k <= p->lin) return x + start * cin;
    for (j = 0; j < p->k; ++j) {
        const int32_t pos = start + j;
        if (pos >= 0 && pos < p->lin) memcpy(buf + j * cin, x + pos * cin, (size_t)cin);
        else memset(buf + j * cin, p->in_zp, (size_t)cin);
    }
    return buf;
}

/* output channels o..o+3 of windows a and b: dot products, then
 * y = clamp(rint(float32(acc) * M)) + zp for 4 channels at once; pooled (the max of the
 * products: rint and the clamp are monotone, also where M < 0) into da, else a -> da, b -> db */
AMR_ALWAYS_INLINE void amr_mve_block(const amr_conv_t *p, const int8_t *xa, const int8_t *xb,
                                     int32_t ta, int32_t tb, int8_t *da, int8_t *db,
                                     const int8_t *w, int32_t o0, int32_t cout,
                                     int32_t n16, int tailed, mve_pred16_t pr, int pooled)
{ /* channels o0..cout-1; row o at w + (o - o0) * kc_pad */
    const int32_t kcp = p->kc_pad;
    const int32_t *const bias = p->bias_folded;
    const float *const mf = p->mf;
    const float32x4_t lo = vdupq_n_f32((float)(p->lo - p->out_zp));
    const float32x4_t hi = vdupq_n_f32((float)(p->hi - p->out_zp));
    const int32x4_t zp = vdupq_n_s32(p->out_zp);
    const uint32x4_t gather_a = {0, 1, 4, 5}, gather_b = {2, 3, 6, 7};
    int32_t o;
    (void)ta;
    (void)tb;
    for (o = o0; o < cout; o += 4) {
        const mve_pred16_t pc = vctp32q((uint32_t)(cout - o));
        const int32_t o1 = o + 1 < cout ? o + 1 : o, o2 = o + 2 < cout ? o + 2 : o;
        const int32_t o3 = o + 3 < cout ? o + 3 : o;
        int32_t acc[8];
        int32x4_t a, b, bv;
        float32x4_t fa, fb, m;
        amr_mve_dot(xa, xb, w + (o - o0) * kcp, w + (o1 - o0) * kcp, n16, tailed, pr, acc);
        amr_mve_dot(xa, xb, w + (o2 - o0) * kcp, w + (o3 - o0) * kcp, n16, tailed, pr, acc + 4);
        bv = vldrwq_z_s32(bias + o, pc);
        a = vaddq_s32(vldrwq_gather_shifted_offset_s32(acc, gather_a), bv);
        b = vaddq_s32(vldrwq_gather_shifted_offset_s32(acc, gather_b), bv);
#ifdef AMR_DEBUG
        {
            static const int32_t ia[4] = {0, 1, 4, 5}; /* window a; b: + 2 */
            int32_t c;
            for (c = 0; c < 4 && o + c < cout; ++c) {
                amr_debug_put(p, ta, o + c, acc[ia[c]] + bias[o + c]);
                amr_debug_put(p, tb, o + c, acc[ia[c] + 2] + bias[o + c]);
            }
        }
#endif
        m = vldrwq_z_f32(mf + o, pc);
        fa = vmulq_f32(vcvtq_f32_s32(a), m);
        fb = vmulq_f32(vcvtq_f32_s32(b), m);
        if (pooled) {
            fa = vminnmq_f32(vmaxnmq_f32(vmaxnmq_f32(fa, fb), lo), hi);
            vstrbq_p_s32(da + o, vaddq_s32(vcvtnq_s32_f32(fa), zp), pc);
        } else {
            fa = vminnmq_f32(vmaxnmq_f32(fa, lo), hi);
            fb = vminnmq_f32(vmaxnmq_f32(fb, lo), hi);
            vstrbq_p_s32(db + o, vaddq_s32(vcvtnq_s32_f32(fb), zp), pc); /* db may be da */
            vstrbq_p_s32(da + o, vaddq_s32(vcvtnq_s32_f32(fa), zp), pc);
        }
    }
}

/* 1 when the Helium layer kernel computes this layer: float32 requantization (fpreq),
 * dilation 1, and no pool or a pool of 2 over 2 conv positions in every window */
static int amr_mve_ok(const amr_conv_t *p)
{
    if (!p->fpreq || p->raw || p->dil != 1) return 0;
    if (p->pk == 1) return 1;
    return p->pk == 2 && p->ppad == 0 && p->pdil == 1 && (p->lout - 1) * p->ps + 1 < p->lconv;
}

/* a layer on Helium: windows pairwise (the two conv positions of a pool window, or two output
 * rows), edge windows through a padded copy in the layer's scratch. Packed weights: blocks of
 * 4 output channels outer, their rows unpacked once per frame into the scratch (after the two
 * window copies) */
static void amr_mve_conv(const amr_conv_t *p, const int8_t *x, int8_t *out, uint8_t *arena)
{
    const int32_t kc = p->kc, kcp = p->kc_pad, n16 = kc >> 4, cout = p->cout;
    const int32_t pooled = p->pk == 2, packed = AMR_PACKED_LAYERS && p->packed;
    const int32_t step = packed ? 4 : cout;
    const mve_pred16_t pr = vctp8q((uint32_t)(kc & 15));
    int8_t *const bufa = (int8_t *)(arena + p->scratch), *const bufb = bufa + kc;
    int8_t *const rows = bufb + kc;
    int32_t q, o0, o;
    for (o0 = 0; o0 < cout; o0 += step) {
        const int32_t oe = o0 + step < cout ? o0 + step : cout;
        const int8_t *w = p->w;
        if (packed) {
            for (o = o0; o < oe; ++o)
                amr_unpack4(p->wp + o * (kcp >> 1), rows + (o - o0) * kcp, kcp);
            w = rows;
        }
        for (q = 0; q < p->lout; q += pooled ? 1 : 2) {
            const int32_t ta = pooled ? q * p->ps : q;
            const int32_t tb = pooled ? ta + 1 : (q + 1 < p->lout ? q + 1 : q);
            const int8_t *xa = amr_mve_window(p, x, ta, bufa), *xb = amr_mve_window(p, x, tb, bufb);
            int8_t *const da = out + q * cout, *const db = out + tb * cout;
            if (kc & 15) {
                if (pooled) amr_mve_block(p, xa, xb, ta, tb, da, db, w, o0, oe, n16, 1, pr, 1);
                else amr_mve_block(p, xa, xb, ta, tb, da, db, w, o0, oe, n16, 1, pr, 0);
            } else {
                if (pooled) amr_mve_block(p, xa, xb, ta, tb, da, db, w, o0, oe, n16, 0, pr, 1);
                else amr_mve_block(p, xa, xb, ta, tb, da, db, w, o0, oe, n16, 0, pr, 0);
            }
        }
    }
}
#endif

/* the conv positions of pool window q (ts), their number; *interior: all of them interior */
static inline int32_t amr_window_taps(const amr_conv_t *p, int32_t q, int32_t *ts, int *interior)
{
    int32_t j, nt = 0;
    *interior = 1;
    for (j = 0; j < p->pk; ++j) {
        const int32_t t = q * p->ps - p->ppad + j * p->pdil;
        if (t >= 0 && t < p->lconv) {
            ts[nt++] = t;
            *interior &= amr_interior(p, t);
        }
    }
    return nt;
}

/* output q of channels o, o2 (rows wa, wb), pooled over the conv positions ts[0..nt) */
AMR_ALWAYS_INLINE void amr_conv_out(const amr_conv_t *p, const int8_t *x, void *out, int32_t q,
                                    int32_t o, int32_t o2, const int8_t *wa, const int8_t *wb,
                                    const int32_t *ts, int32_t nt, int interior)
{
    const int32_t raw = p->raw, cout = p->cout;
    const int32_t *const bias = p->bias_folded;
    const int up0 = raw || p->mult[o] >= 0, up1 = raw || p->mult[o2] >= 0;
    int32_t best0 = 0, best1 = 0, j;
    for (j = 0; j < nt; j += 2) {
        const int32_t jb = j + 1 < nt ? j + 1 : j;
        int32_t acc[4];
        if (interior) {
            acc[0] = acc[2] = bias[o];
            acc[1] = acc[3] = bias[o2];
            amr_dot_2x2(x + (ts[j] * p->stride - p->pad_l) * p->cin,
                        x + (ts[jb] * p->stride - p->pad_l) * p->cin, wa, wb, p->kc, acc);
        } else {
            amr_conv_col(p, x, ts[j], o, o2, wa, wb, acc);
            amr_conv_col(p, x, ts[jb], o, o2, wa, wb, acc + 2);
        }
#ifdef AMR_DEBUG
        amr_debug_put(p, ts[j], o, acc[0]);
        amr_debug_put(p, ts[j], o2, acc[1]);
        amr_debug_put(p, ts[jb], o, acc[2]);
        amr_debug_put(p, ts[jb], o2, acc[3]);
#endif
        acc[0] = amr_pick(acc[0], acc[2], up0);
        acc[1] = amr_pick(acc[1], acc[3], up1);
        best0 = j == 0 ? acc[0] : amr_pick(best0, acc[0], up0);
        best1 = j == 0 ? acc[1] : amr_pick(best1, acc[1], up1);
    }
    amr_store(p, out, q * cout + o, o, best0);
    if (o2 != o) amr_store(p, out, q * cout + o2, o2, best1);
}

AMR_MAYBE_UNUSED static void amr_conv(const amr_conv_t *p, const int8_t *x, void *out,
                                      uint8_t *arena)
{
    /* locals: int8 stores may alias the struct, so its fields are read once */
    const int32_t cout = p->cout, kcp = p->kc_pad, lout = p->lout;
    const int8_t *const w = p->w;
    int32_t q, o, nt, ts[8];
    int interior;
    (void)arena;
#if AMR_MVE_FP
    if (amr_mve_ok(p)) {
        amr_mve_conv(p, x, (int8_t *)out, arena);
        return;
    }
#endif
    if (AMR_PACKED_LAYERS && p->packed) {
        /* channel pairs outer: each packed row is unpacked once per frame, into the layer's
         * scratch (2 rows of kc_pad bytes) */
        int8_t *const ra = (int8_t *)(arena + p->scratch), *const rb = ra + kcp;
        for (o = 0; o < cout; o += 2) {
            const int32_t o2 = o + 1 < cout ? o + 1 : o; /* odd count: compute o twice */
            amr_unpack4(p->wp + o * (kcp >> 1), ra, kcp);
            amr_unpack4(p->wp + o2 * (kcp >> 1), rb, kcp);
            for (q = 0; q < lout; ++q) {
                nt = amr_window_taps(p, q, ts, &interior);
                amr_conv_out(p, x, out, q, o, o2, ra, rb, ts, nt, interior);
            }
        }
        return;
    }
    for (q = 0; q < lout; ++q) {
        nt = amr_window_taps(p, q, ts, &interior);
        for (o = 0; o < cout; o += 2) {
            const int32_t o2 = o + 1 < cout ? o + 1 : o; /* odd count: compute o twice */
            amr_conv_out(p, x, out, q, o, o2, w + o * kcp, w + o2 * kcp, ts, nt, interior);
        }
    }
}
#endif

/* ---- average pool (sum over time), re-scale, max-pool, ReLU, pad ---------------------- */
typedef struct {
    int32_t c, n, in_zp, out_zp, lo, hi;
    const int32_t *bias, *mult;
    const int8_t *shift;
} amr_chan_t;

AMR_MAYBE_UNUSED static void amr_mean(const amr_chan_t *p, const int8_t *x, int8_t *y)
{
    int32_t c, s;
    for (c = 0; c < p->c; ++c) {
        int32_t acc = p->bias[c] - p->n * p->in_zp;
        for (s = 0; s < p->n; ++s) acc += x[s * p->c + c];
        y[c] = (int8_t)amr_requant(acc, p->mult[c], p->shift[c], p->out_zp, p->lo, p->hi);
    }
}

AMR_MAYBE_UNUSED static void amr_rescale(const amr_chan_t *p, const int8_t *x, int8_t *y)
{
    int32_t c, s;
    for (s = 0; s < p->n; ++s)
        for (c = 0; c < p->c; ++c) {
            const int32_t acc = x[s * p->c + c] - p->in_zp + p->bias[c];
            y[s * p->c + c] =
                (int8_t)amr_requant(acc, p->mult[c], p->shift[c], p->out_zp, p->lo, p->hi);
        }
}

typedef struct {
    int32_t c, lin, k, s, pad_l, dil, lout;
} amr_pool_t;

AMR_MAYBE_UNUSED static void amr_maxpool(const amr_pool_t *p, const int8_t *x, int8_t *y)
{
    int32_t q, c, j;
    for (q = 0; q < p->lout; ++q)
        for (c = 0; c < p->c; ++c) {
            int8_t best = -128; /* padding (the type's minimum) never wins */
            for (j = 0; j < p->k; ++j) {
                const int32_t t = q * p->s - p->pad_l + j * p->dil;
                if (t >= 0 && t < p->lin && x[t * p->c + c] > best) best = x[t * p->c + c];
            }
            y[q * p->c + c] = best;
        }
}

AMR_MAYBE_UNUSED static void amr_relu(int32_t n, int32_t zp, const int8_t *x, int8_t *y)
{
    int32_t i;
    for (i = 0; i < n; ++i) y[i] = (int8_t)(x[i] > zp ? x[i] : zp);
}

typedef struct {
    int32_t c, lin, pad_l, pad_r, mode, value; /* mode 0 constant, 1 edge, 2 reflect */
} amr_pad_t;

AMR_MAYBE_UNUSED static void amr_pad(const amr_pad_t *p, const int8_t *x, int8_t *y)
{
    const int32_t lout = p->lin + p->pad_l + p->pad_r;
    int32_t r, c;
    for (r = 0; r < lout; ++r) {
        int32_t t = r - p->pad_l;
        if (t < 0 || t >= p->lin) {
            if (p->mode == 0) {
                for (c = 0; c < p->c; ++c) y[r * p->c + c] = (int8_t)p->value;
                continue;
            }
            if (p->mode == 1) t = t < 0 ? 0 : p->lin - 1;
            else t = t < 0 ? -t : 2 * (p->lin - 1) - t;
        }
        memcpy(y + r * p->c, x + t * p->c, (size_t)p->c);
    }
}

/* ---- float boundary helpers ------------------------------------------------------------ */
void amr_normalize_power(float *iq)
{
    double power = 0.0;
    int32_t i;
    for (i = 0; i < 2 * AMR_FRAME_LENGTH; ++i) power += (double)iq[i] * (double)iq[i];
    power /= AMR_FRAME_LENGTH;
    if (power > 0.0) {
        const float s = (float)(1.0 / sqrt(power));
        for (i = 0; i < 2 * AMR_FRAME_LENGTH; ++i) iq[i] *= s;
    }
}

void amr_quantize_input(const float *iq, int8_t *q)
{
    const float scale = AMR_INPUT_SCALE, zp = (float)AMR_INPUT_ZERO_POINT;
    int32_t i;
    for (i = 0; i < 2 * AMR_FRAME_LENGTH; ++i) {
        float v = nearbyintf(iq[i] / scale) + zp;
        v = v < AMR_INPUT_MIN ? AMR_INPUT_MIN : (v > AMR_INPUT_MAX ? AMR_INPUT_MAX : v);
        q[i] = (int8_t)((int32_t)v + AMR_INPUT_OFFSET);
    }
}

void amr_dequantize_logits(const int32_t *y, float *logits)
{
    int32_t c;
    for (c = 0; c < AMR_NUM_CLASSES; ++c)
        logits[c] = (float)(y[c] - AMR_OUTPUT_ZERO_POINT) * amr_output_scale[c];
}
"""

EXAMPLE_MAIN = r"""/* Example: classify the frames of a file with the generated amr library.
 *
 *   cc -std=c99 -O2 amr_model.c amr_weights.c example_main.c -lm -o amr_example
 *   ./amr_example FRAMES [--int8] [--no-normalize]
 *
 * FRAMES: consecutive frames of AMR_FRAME_LENGTH complex samples, interleaved I/Q:
 *   float32 little-endian (an SDR .cf32 / NumPy complex64 recording; each frame is scaled
 *   to unit average power unless --no-normalize), or int8 already quantized, exactly as
 *   amr_classify takes them (--int8).
 * Prints one line per frame: index, class index, class name, the integer logits.
 * Built with -DAMR_DEBUG it also writes every layer's output tensor to FRAMES.dump:
 *   per tensor: name (NUL-terminated), int32 bytes per value, int32 count, the values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amr_model.h"

#ifdef AMR_DEBUG
static FILE *dump_file;

void amr_debug_tensor(const char *name, int bytes_per_value, const void *data, int count)
{
    const int32_t head[2] = {bytes_per_value, count};
    fwrite(name, 1, strlen(name) + 1, dump_file);
    fwrite(head, sizeof head, 1, dump_file);
    fwrite(data, (size_t)bytes_per_value, (size_t)count, dump_file);
}
#endif

int main(int argc, char **argv)
{
    static float frame[2 * AMR_FRAME_LENGTH];
    static int8_t q[2 * AMR_FRAME_LENGTH];
    int32_t logits[AMR_NUM_CLASSES];
    int as_int8 = 0, normalize = 1, i, c;
    long n = 0;
    FILE *f;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FRAMES [--int8] [--no-normalize]\n", argv[0]);
        return 2;
    }
    for (i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "--int8")) as_int8 = 1;
        else if (!strcmp(argv[i], "--no-normalize")) normalize = 0;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
#ifdef AMR_DEBUG
    {
        char path[4096];
        snprintf(path, sizeof path, "%s.dump", argv[1]);
        dump_file = fopen(path, "wb");
        if (!dump_file) {
            perror(path);
            return 1;
        }
    }
#endif
    for (;;) {
        if (as_int8) {
            if (fread(q, 1, sizeof q, f) != sizeof q) break;
        } else {
            if (fread(frame, sizeof frame[0], 2 * AMR_FRAME_LENGTH, f) != 2 * AMR_FRAME_LENGTH)
                break;
            if (normalize) amr_normalize_power(frame);
            amr_quantize_input(frame, q);
        }
        c = amr_classify(q, logits);
        printf("%ld %d %s", n++, c, amr_class_names[c]);
        for (i = 0; i < AMR_NUM_CLASSES; ++i) printf(" %ld", (long)logits[i]);
        printf("\n");
    }
    fclose(f);
#ifdef AMR_DEBUG
    fclose(dump_file);
#endif
    return 0;
}
"""
