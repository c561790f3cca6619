"""Packed 4-bit weights: two weights per byte in the generated C (``amrkit deploy --pack``).

A conv/dense layer whose centered weights all lie in ``-8..7`` (QAT or mixed precision at
4 bits: ``amrkit quantize --qat --bits 4`` / ``--layer-bits`` / ``--max-packed-kb``, recorded
in the INT8 file's ``amrkit.quantization`` metadata as ``layer_bits``; any other file: the
weights' own range decides) stores its ``[C_out][kc_pad]`` rows in ``kc_pad / 2`` bytes per
row instead of ``kc_pad``. Widths 5..7 stay int8: a 5- or 6-bit field does not divide a byte,
and its unpacking would cost more instructions per MAC than the 4-bit nibbles do.

**Nibble order** (rows are padded to a multiple of 8 taps, :data:`~amrkit.deploy.plan.ROW_ALIGN`):
each group of 8 taps ``w[8g .. 8g+7]`` of a row is 4 bytes; byte ``4g + j`` (j = 0..3) holds
tap ``8g + j`` in its low nibble and tap ``8g + j + 4`` in its high nibble, each **excess-8**
(the nibble is ``w + 8``, 0..15)::

    byte 4g+j = (w[8g+j] + 8) | (w[8g+j+4] + 8) << 4        w = nibble - 8

The order is the one the Cortex-M DSP kernel needs: a 32-bit load of 4 bytes gives the low
nibbles (``AND 0x0F0F0F0F``, ``SSUB8 0x08080808``) as taps 0..3 and the high nibbles as taps
4..7, each an ordinary int8 weight word for its SXTB16/SMLAD pairs (5 more instructions per
8 taps than two int8 word loads, 16 MACs). The portable C kernel unpacks each row once per
frame (output channels outer); x86 builds keep int8 weights (see :func:`storage`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

PACK_MODES = ("auto", "off")
PACK_BITS = 4
LO, HI = -(2 ** (PACK_BITS - 1)), 2 ** (PACK_BITS - 1) - 1  # -8, 7
GROUP = 8  # taps per 4 packed bytes


def check_mode(pack: str) -> str:
    if pack not in PACK_MODES:
        raise AmrkitError(
            f"--pack {pack!r} is not one of {', '.join(PACK_MODES)}; use --pack auto (4-bit "
            "layers two weights per byte) or --pack off (one weight per byte)"
        )
    return pack


def recorded_bits(metadata: Mapping[str, str]) -> dict[str, int]:
    """Layer → weight bits from the ``amrkit.quantization`` metadata (``{}`` when absent)."""
    raw = metadata.get("amrkit.quantization")
    if not raw:
        return {}
    try:
        bits = json.loads(raw).get("layer_bits") or {}
        return {str(k): int(v) for k, v in bits.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def fits(rows: np.ndarray) -> bool:
    """True when every weight fits the signed 4-bit grid ``-8..7`` (and rows pack whole)."""
    return rows.shape[1] % GROUP == 0 and int(rows.min()) >= LO and int(rows.max()) <= HI


def pack_rows(rows: np.ndarray) -> np.ndarray:
    """(cout, kc_pad) int8 weights in -8..7 → (cout, kc_pad / 2) uint8 (the module doc's order)."""
    if not fits(rows):
        raise AmrkitError(
            f"weights in [{rows.min()}, {rows.max()}] with rows of {rows.shape[1]} do not fit "
            f"{PACK_BITS}-bit packing ({LO}..{HI}, rows a multiple of {GROUP}); use --pack off"
        )
    cout, kcp = rows.shape
    g = (rows.astype(np.int16) + 8).reshape(cout, kcp // GROUP, 2, 4)  # (cout, groups, lo|hi, j)
    return (g[:, :, 0, :] | (g[:, :, 1, :] << 4)).astype(np.uint8).reshape(cout, kcp // 2)


def unpack_rows(packed: np.ndarray) -> np.ndarray:
    """The inverse of :func:`pack_rows`: (cout, kc_pad / 2) uint8 → (cout, kc_pad) int8."""
    cout, half = packed.shape
    b = packed.astype(np.int16).reshape(cout, half // 4, 1, 4)
    g = np.concatenate([(b & 15) - 8, (b >> 4) - 8], axis=2)  # (cout, groups, lo|hi, j)
    return g.reshape(cout, 2 * half).astype(np.int8)


def pack_plan(
    layers: list, recorded: Mapping[str, int], enabled: bool = True
) -> list[dict[str, Any]]:
    """Pack the weights of every conv layer that fits 4 bits (when ``enabled``), in place
    (``arrays["w"]`` → ``arrays["wp"]``, ``params["packed"] = 1``); returns one storage row
    per conv layer (``fits_4_bits`` also when not packed). Packed layers' scratch grows:
    re-run :func:`amrkit.deploy.plan.allocate` afterwards."""
    rows = []
    for layer in layers:
        if layer.kind != "conv":
            continue
        w = layer.arrays.get("w")
        bits = recorded.get(layer.name)
        fit = w is not None and fits(w)
        ok = enabled and fit
        if enabled and bits is not None and bits <= PACK_BITS and not fit:
            raise AmrkitError(
                f"layer {layer.name} is recorded at {bits}-bit weights but they span "
                f"[{int(w.min())}, {int(w.max())}]; the INT8 file is inconsistent: quantize "
                "again, or deploy with --pack off"
            )
        if ok:
            layer.arrays["wp"] = pack_rows(layer.arrays.pop("w"))
            layer.params["packed"] = 1
            # unpacked rows in the scratch: 2 (portable), 4 after the 2 window copies (Helium)
            p = layer.params
            layer.scratch = max(layer.scratch, 2 * p["kc"] + 4 * p["kc_pad"])
        data = layer.arrays["wp"] if ok else w
        rows.append(
            {
                "layer": layer.name,
                "recorded_bits": bits,
                "fits_4_bits": bool(fit),
                "storage": "int4x2" if ok else "int8",
                "weight_bytes": int(data.nbytes),
                "unpacked_bytes": int(data.nbytes * (2 if ok else 1)),
            }
        )
    return rows
