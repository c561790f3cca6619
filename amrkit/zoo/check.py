"""Honest numbers: re-measure a shipped entry on a fresh independent test set and compare
it with its card, within a margin sized to both sets' standard errors.

The margin for an accuracy is ``k`` standard errors of the difference of two independent
binomial estimates, ``k · sqrt(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂)`` with Agresti–Coull's
``p = (correct + 2) / (n + 4)`` (never 0, so a perfect score still has a margin).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from amrkit import pretrained
from amrkit.errors import AmrkitError
from amrkit.fileio import read_json
from amrkit.zoo.cards import check_card
from amrkit.zoo.measure import evaluate_pair, golden, synth_frames

HONEST_SEED = 4242  # first seed tried for a fresh test set (skipped when a card used it)
K_SE = 4.0


def load_card(name: str | pretrained.Entry, zoo_dir: str | Path | None = None) -> dict[str, Any]:
    """The card of an entry, after every file of the entry was checked."""
    e = pretrained.verify(name, zoo_dir)
    path = e.path / pretrained.CARD_FILE
    return check_card(read_json(path), str(path))


def used_seeds(card: dict[str, Any]) -> set[int]:
    """Seeds a fresh measurement must avoid: the data's, the card's, and for a ``--synth``
    run every epoch's (of every source of a mixture) and the evaluation frames'."""
    ev, data = card["evaluation"], card["training"]["data"]
    synth = data.get("synth") or {}
    extra = [*synth.get("epoch_seeds", []), *([synth["eval_seed"]] if "eval_seed" in synth else [])]
    extra += [s for mix in synth.get("mix", []) for s in mix.get("epoch_seeds", [])]
    seeds = {int(data["seed"]), int(ev["test"]["seed"]), int(ev["sweep"]["seed"])}
    return seeds | {int(s) for s in extra}


def fresh_seed(card: dict[str, Any], start: int = HONEST_SEED) -> int:
    seed, used = start, used_seeds(card)
    while seed in used:
        seed += 1
    return seed


def remeasure(
    name: str,
    *,
    frames_per_class: int = 200,
    seed: int | None = None,
    golden_frames: int = 128,
    workers: int = 1,
    threads: int | None = None,
    zoo_dir: str | Path | None = None,
) -> dict[str, Any]:
    """FP32 and INT8 accuracy of entry ``name`` on a new test set at the card's test SNR
    (``seed``: default the first one neither the training nor the card used), and the golden
    model against ONNX Runtime on ``golden_frames`` of it."""
    from amrkit.data.synth import config_from_mapping

    e = pretrained.verify(name, zoo_dir)
    card = load_card(e)
    seed = fresh_seed(card) if seed is None else seed
    if seed in used_seeds(card):
        raise AmrkitError(
            f"--seed {seed} was used by the entry's training or card ({sorted(used_seeds(card))})"
            "; a re-measurement needs frames neither has seen"
        )
    data = config_from_mapping(card["commands"]["configs"]["data"], where="card")
    snr = float(card["evaluation"]["test"]["snr_db"])
    cfg = dataclasses.replace(data, seed=seed, frames_per_class=frames_per_class, snrs=(snr,))
    frames = synth_frames(cfg, workers)
    acc = evaluate_pair(e.file("fp32"), e.file("int8"), frames, threads)
    return {
        "entry": e.name,
        "seed": seed,
        "snr_db": snr,
        "frames_per_class": frames_per_class,
        **acc,
        "golden": golden(e.file("int8"), frames, golden_frames, threads),
    }


def margin_pt(a: dict[str, Any], b: dict[str, Any], k: float = K_SE) -> float:
    """k standard errors (in points) of the difference of accuracies ``a`` and ``b`` (each
    with ``correct`` and ``frames``)."""
    var = 0.0
    for acc in (a, b):
        n = int(acc["frames"])
        p = (int(acc["correct"]) + 2) / (n + 4)
        var += p * (1 - p) / max(n, 1)
    return round(100 * k * math.sqrt(var), 2)


def compare_to_card(
    card: dict[str, Any], measured: dict[str, Any], k: float = K_SE
) -> dict[str, Any]:
    """Each precision's card and measured accuracy, their difference and margin; ``ok`` when
    both are within their margins and the golden model matched ONNX Runtime bit for bit."""
    test = card["evaluation"]["test"]
    rows = {}
    for prec in ("fp32", "int8"):
        c, m = test[prec], measured[prec]
        diff = round(m["accuracy_pct"] - c["accuracy_pct"], 2)
        margin = margin_pt(c, m, k)
        rows[prec] = {
            "card_pct": c["accuracy_pct"],
            "measured_pct": m["accuracy_pct"],
            "diff_pt": diff,
            "margin_pt": margin,
            "within": abs(diff) <= margin,
        }
    gold = measured.get("golden", {})
    exact = bool(gold.get("bit_exact")) if gold.get("measured") else None
    return {
        "entry": card["name"],
        "seed": measured.get("seed"),
        "frames": measured["fp32"]["frames"],
        **rows,
        "golden_bit_exact": exact,
        "ok": all(r["within"] for r in rows.values()) and exact is not False,
    }
