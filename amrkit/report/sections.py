"""The report, one function per section: ``section(results) -> list[Block]``.

:data:`SECTIONS` is the order of the page; a new section is one function added there. Every
number comes from ``results`` through amrkit.report.formats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amrkit.report import prose
from amrkit.report.document import Block, BulletList, Figure, Heading, Paragraph, Table
from amrkit.report.formats import (
    f_int,
    f_mb,
    f_mean_sd,
    f_minutes,
    f_num,
    f_pct,
    f_signed,
    short_value,
)

Results = dict[str, Any]


def _first_proto(results: Results) -> dict[str, Any]:
    return results["protocols"][-1]  # figures and confusion use the last protocol's models


def _kernel(results: Results) -> str:
    return prose.kernel(results.get("runtime") or {})


def title(results: Results) -> list[Block]:
    cfg = results["config"]
    protos = "; ".join(
        f"{p['label']}: {p['train_config']['epochs']} epochs, augmentation "
        f"`{p['train_config']['augment']}`"
        for p in results["protocols"]
    )
    scale = (
        f"{cfg['frames_per_class']:,} frames per class at {cfg['snr_db']:g} dB, SNR convention "
        f"`{cfg['snr_convention']}`, {protos}, wall time "
        f"{f_minutes(results['provenance']['wall_time_s'])}"
    )
    b: list[Block] = [Heading("amrkit reproduce — AMR CNN compression study", 1)]
    if results["quick"]:
        text = (
            f"**Quick run** ({scale}): every table and figure of the paper on a budget of "
            "≤ 10 minutes on 2 CPU cores. `amrkit reproduce --full` runs the paper's scale "
            "(10,000 frames per class) with both the paper's protocol and amrkit's recipe."
        )
    else:
        text = f"**Full run** ({scale}): the paper's scale."
    pre = results.get("pretrained") or {}
    if pre.get("shown"):
        names = ", ".join(f"`{pre['entries'][n]['ref']}`" for n in pre["order"])
        text += (
            f" Beside the models this run trains, the pretrained models shipped with amrkit "
            f"({names}; trained at the paper's scale, `amrkit zoo show NAME` prints each card) "
            "are evaluated on this run's test split and sweep: their own row group of Table III "
            "and series of Fig. 6."
        )
    b.append(Paragraph(text))
    b.append(BulletList(headline(results)))
    return b


def headline(results: Results) -> list[str]:
    """Table III in one line per protocol: what a reader remembers."""
    out = []
    for p in results["protocols"]:
        rows = [r for r in results["table3"] if r["protocol"] == p["name"]]
        parts = [
            f"{r['row']} **{f_mean_sd(r['accuracy_pct'], r['accuracy_sd_pt'])} %**"
            + (f" (paper {f_pct(r['paper']['accuracy_pct'])} %)" if r["paper"] else "")
            for r in rows
        ]
        out.append(
            f"{p['label']}, test split at {results['config']['snr_db']:g} dB: " + ", ".join(parts)
        )
    pre = results.get("pretrained") or {}
    if pre.get("shown"):
        rows = [r for r in results["table3"] if r["protocol"] == "pretrained"]
        parts = [
            f"{r['row']} **{f_pct(r['accuracy_pct'])} %**"
            + (f" (paper {f_pct(r['paper']['accuracy_pct'])} %)" if r["paper"] else "")
            for r in rows
        ]
        out.append(f"{pre['label']}, same test split: " + ", ".join(parts))
    return out


def table1(results: Results) -> list[Block]:
    models = results["models"]
    rows = [
        [
            models[n]["display_name"],
            layer["layer"],
            layer["type"],
            f_int(layer["learnables"]),
            layer["hyperparameters"],
            f_int(layer["macs"]),
        ]
        for n in results["models_order"]
        for layer in models[n]["fp32"]["layers"]
    ]
    return [
        Heading("Table I — architecture of the models"),
        Table(
            ["Model", "Layer", "Type", "Learnables", "Hyperparameters", "MACs"],
            rows,
            caption="Conv and fully connected layers (each conv: 'same' padding, batch norm, "
            "ReLU); batch-norm learnables are not counted, as in the paper.",
            align=["l", "l", "l", "r", "l", "r"],
        ),
    ]


def table2(results: Results) -> list[Block]:
    names = results["models_order"]
    proto = _first_proto(results)
    b: list[Block] = [Heading("Table II — stored type of each learnable in the quantized model")]
    for n in [results["target"]] + names[:-1]:
        q = results["runs"][proto["name"]][n]["int8"]["quantization"]
        rows = [
            [
                r["layer"],
                "Weights" if r["learnable"] == "weight" else "Bias",
                f"{'×'.join(str(s) for s in r['shape'])} {r['stored_type']}",
            ]
            for r in q["learnables"]
        ]
        target = f", target `{q['target']}`" if q.get("target") else ""
        b.append(
            Table(
                ["Layer", "Parameter", "Value"],
                rows,
                caption=f"{results['models'][n]['display_name']} + INT8{target}: quantized "
                f"layers {', '.join(q['quantized_layers'])}; ONNX Runtime runs integer kernels "
                f"{', '.join(q['integer_kernels'])}.",
            )
        )
    return b


def _table3_rows(results: Results) -> list[list[str]]:
    rows, last = [], None
    for r in results["table3"]:
        p, d = r["paper"], r["diff_vs_paper"]
        group = f"**{r['protocol_label']}**" if r["protocol"] != last else ""
        last = r["protocol"]
        rows.append(
            [
                group,
                r["row"],
                f_mean_sd(r["accuracy_pct"], r["accuracy_sd_pt"]),
                f_int(r["macs"]),
                f_mb(r["parameter_memory_mb"]),
                f_pct(p["accuracy_pct"]) if p else "–",
                f_signed(d["accuracy_pt"]) if d else "–",
                f"{d['macs']:+,}" if d else "–",
                f_signed(d["parameter_memory_mb"], 4) if d else "–",
            ]
        )
    return rows


def _protocol_caption(results: Results) -> str:
    parts = []
    for p in results["protocols"]:
        parts.append(
            f"{p['label']}: {prose.schedule(p['train_config'])}, "
            f"{prose.augmentation(p['train_config'])}"
        )
    return "; ".join(parts)


def table3(results: Results) -> list[Block]:
    cfg = results["config"]
    seeds = len(cfg["seeds"])
    spread = f"mean ± s.d. over seeds {', '.join(map(str, cfg['seeds']))}; " if seeds > 1 else ""
    header = ["Training", "Model", "Accuracy (%)", "MACs", "Memory (MB)", "Paper acc. (%)"]
    header += ["Δ acc. (pt)", "Δ MACs vs paper", "Δ memory (MB)"]
    caption = (
        f"Top-1 accuracy on the disjoint test split at {cfg['snr_db']:g} dB ({spread}INT8 rows "
        f"computed by {_kernel(results)}); paper: 8,127,520 / 2,491,798 MACs, 0.3694 / 0.1920 "
        "/ 0.0521 MB. MB = bytes / 2^20 (FP32: 4 B per learnable; INT8: 1 B per weight, 4 B "
        f"per int32 bias). {_protocol_caption(results)}."
    )
    pre = results.get("pretrained") or {}
    if pre.get("shown"):
        caption += (
            f" {pre['label'][0].upper()}{pre['label'][1:]}: the models shipped with amrkit "
            "(`zoo:NAME`), trained once at the paper's scale; their cards report their own "
            "independent test sets (`amrkit zoo show NAME`)."
        )
    reductions = [
        [
            f"{r['protocol_label']}: {r['row']}" if len(results["protocols"]) > 1 else r["row"],
            f_pct(r["macs_reduction_pct"]),
            f_pct(r["memory_reduction_pct"]),
            f_signed(r["accuracy_change_pt"]),
        ]
        for r in results["table3"]
    ]
    base = results["models"][results["baseline"]]["display_name"]
    return [
        Heading("Table III — accuracy, MACs and parameter memory"),
        Table(header, _table3_rows(results), caption=caption, align=["l", "l"] + ["r"] * 7),
        Table(
            ["Model", "MACs reduction (%)", "Memory reduction (%)", "Accuracy change (pt)"],
            reductions,
            caption=f"Reductions relative to {base} FP32 of the same training.",
            align=["l", "r", "r", "r"],
        ),
    ]


def fig4(results: Results) -> list[Block]:
    cfg, proto = results["config"], _first_proto(results)
    tname = results["models"][results["target"]]["display_name"]
    q = results["runs"][proto["name"]][results["target"]]["int8"]["quantization"]
    rows = [
        [
            layer,
            f"{f_num(e.get('weight_min'), 4)} … {f_num(e.get('weight_max'), 4)}",
            f"{f_num(e.get('bias_min'), 4)} … {f_num(e.get('bias_max'), 4)}",
            f"{f_num(e.get('output_min'), 4)} … {f_num(e.get('output_max'), 4)}",
        ]
        for layer, e in q["layers"].items()
    ]
    return [
        Heading("Fig. 4 — calibrated dynamic ranges"),
        Figure(results["figures"]["fig4"], f"{tname} ({proto['label']}): per-layer ranges"),
        Table(
            ["Layer", "Weights (min … max)", "Biases (min … max)", "Activations (min … max)"],
            rows,
            caption=f"{prose.calibration(proto['quantization'])}; validation accuracy FP32 "
            f"{f_pct(q['val_accuracy_fp32_pct'])} % → INT8 {f_pct(q['val_accuracy_int8_pct'])} "
            f"% ({_kernel(results)}); calibration seed {cfg['seeds'][0]}.",
        ),
    ]


def fig5(results: Results) -> list[Block]:
    f5 = results["fig5"]
    tname = results["models"][results["target"]]["display_name"]
    b: list[Block] = [Heading("Fig. 5 — accuracy of the INT8 model at different SNRs")]
    what = "; ".join(f"{s['label']}: {s['epochs']} epochs" for s in f5["series"].values())
    b.append(
        Figure(
            results["figures"]["fig5"],
            f"{tname}: one model trained ({f5['frames_per_class']:,} frames per class; {what}), "
            f"quantized and tested at each SNR (INT8 by {_kernel(results)})",
        )
    )
    for s in f5["series"].values():
        rows = [
            [
                f"{p['snr_db']:g}",
                f_int(p["test_frames"]),
                f_pct(p["fp32_accuracy_pct"]),
                f_pct(p["int8_accuracy_pct"]),
                "yes" if p["is_main_model"] else "no",
            ]
            for p in s["points"]
        ]
        b.append(
            Table(
                [
                    "SNR (dB)",
                    "Test frames",
                    "FP32 accuracy (%)",
                    "INT8 accuracy (%)",
                    "Table III model",
                ],
                rows,
                caption=f"{s['label']}, {s['epochs']} epochs.",
                align=["r", "r", "r", "r", "l"],
            )
        )
    b.append(Paragraph(fig5_note(results)))
    return b


def fig5_note(results: Results) -> str:
    """How Fig. 5's models relate to Table III's (the same data size and recipe, or not)."""
    cfg = results["config"]
    small = cfg["fig5_frames_per_class"] not in (None, cfg["frames_per_class"])
    if not small and cfg["fig5_epochs"] is None:
        return (
            f"Each SNR's model is trained on the same data size ({cfg['frames_per_class']:,} "
            f"frames per class) and with the same protocol as Table III's, so the "
            f"{cfg['snr_db']:g} dB point is Table III's model itself (first seed); the other "
            "points differ from it only by the SNR and the data seed."
        )
    frames = cfg["fig5_frames_per_class"] or cfg["frames_per_class"]
    epochs = f"{cfg['fig5_epochs']} epochs" if cfg["fig5_epochs"] else "the epochs"
    if cfg.get("fig5_finetune"):
        return (
            f"To fit the budget, the model of each other SNR starts from Table III's "
            f"{cfg['snr_db']:g} dB model and is fine-tuned for {epochs} of the same protocol on "
            f"{frames:,} frames per class at its own SNR (Table III: {cfg['frames_per_class']:,} "
            f"frames per class from the initialization), so it shares the {cfg['snr_db']:g} dB "
            f"model's features; the {cfg['snr_db']:g} dB point is Table III's model itself. "
            "`--full` trains every SNR from scratch like the main models."
        )
    return (
        f"To fit the budget, the model of each other SNR is trained on {frames:,} frames per "
        f"class (Table III: {cfg['frames_per_class']:,}) with {epochs} of the same protocol, "
        f"so those points sit lower than a full-size model would; the {cfg['snr_db']:g} dB "
        "point is Table III's model itself. `--full` trains every SNR like the main models."
    )


def fig6(results: Results) -> list[Block]:
    cfg, f6 = results["config"], results["fig6"]
    labels = list(f6["series"])
    keys = list(next(iter(f6["series"].values())))
    drops = "; ".join(
        f"{p['label']}: "
        + ", ".join(
            f"{results['models'][n]['display_name']} {f_pct(v)} pt"
            for n, v in f6["worst_int8_drop_pt_at_snr_ge_0"][p["name"]].items()
        )
        for p in results["protocols"]
    )
    pre = results.get("pretrained") or {}
    if "pretrained" in f6["worst_int8_drop_pt_at_snr_ge_0"]:
        drops += f"; {pre['label']}: " + ", ".join(
            f"{pre['entries'][n]['ref']} {f_pct(v)} pt"
            for n, v in f6["worst_int8_drop_pt_at_snr_ge_0"]["pretrained"].items()
        )
    return [
        Heading(f"Fig. 6 — the {cfg['snr_db']:g} dB models tested across SNR"),
        Figure(
            results["figures"]["fig6"],
            f"Independent sweep test set, {f6['frames_per_snr']:,} frames per SNR (INT8 by "
            f"{_kernel(results)})",
        ),
        Table(
            ["SNR (dB)"] + [f"{lab} (%)" for lab in labels],
            [[k] + [f_pct(f6["series"][lab].get(k)) for lab in labels] for k in keys],
            align=["r"] * (len(labels) + 1),
        ),
        Paragraph(f"Largest INT8 accuracy drop at SNR ≥ 0 dB: {drops}."),
    ]


def confusion(results: Results) -> list[Block]:
    target, proto = results["target"], _first_proto(results)
    tname = results["models"][target]["display_name"]
    b: list[Block] = [Heading("Confusion matrices")]
    items = []
    for prec in ("fp32", "int8"):
        b.append(
            Figure(
                results["figures"][f"confusion_{prec}"],
                f"{tname} {prec.upper()} ({proto['label']}), test split",
            )
        )
        for m in results["runs"][proto["name"]][target][prec]["test"]["most_confused"][:3]:
            items.append(
                f"{tname} {prec.upper()}: {m['true']} is taken for {m['predicted']} in "
                f"{m['count']} test frames ({f_pct(m['share_of_true_pct'])} % of {m['true']})."
            )
    b.append(BulletList(items or ["No confusions on the test split."]))
    return b


def latency(results: Results) -> list[Block]:
    models = results["models"]
    threads = results["provenance"]["machine"]["threads"]
    rows = [
        [
            models[r["model"]]["display_name"],
            r["runtime"],
            f_int(r["batch"]),
            f_num(r["frames_per_s"], 1),
            f_num(r["ms_per_batch"], 3),
        ]
        for r in results["latency"]
    ]
    speedups = "; ".join(
        f"{models[n]['display_name']} {f_num(v)}×"
        for n, v in results["int8_speedup_vs_torch_b256"].items()
    )
    return [
        Heading("Latency and throughput"),
        Table(
            ["Model", "Runtime", "Batch", "Frames/s", "ms per batch"],
            rows,
            caption=f"Median over interleaved repeats, {threads} threads, random frames of "
            f"length {results['frame_length']}; INT8 by {_kernel(results)}. INT8 throughput "
            f"vs torch FP32 at batch 256: {speedups}.",
            align=["l", "l", "r", "r", "r"],
        ),
    ]


def golden(results: Results) -> list[Block]:
    if not results.get("golden"):
        return []
    rows = []
    for p in results["protocols"]:
        g = results["golden"].get(p["name"])
        if g is None:
            continue
        exact = {True: "yes", False: "no", None: "–"}[g.get("bit_exact")]
        rows.append(
            [
                p["label"],
                f_int(g["frames"]),
                f_pct(g["accuracy_pct"]),
                f_pct(g["ort_accuracy_pct"]),
                f_pct(g["top1_agreement_pct"]),
                f_int(g["disagreements"]),
                f_int(g["output_max_lsb"]),
                exact,
            ]
        )
    tname = results["models"][results["target"]]["display_name"]
    return [
        Heading("Golden model vs runtime"),
        Table(
            [
                "Training",
                "Frames",
                "Golden acc. (%)",
                "ORT acc. (%)",
                "Top-1 agreement (%)",
                "Disagreements",
                "Max output diff (LSB)",
                "Bit-exact",
            ],
            rows,
            caption=f"{tname} + INT8 on test frames: amrkit's integer-only golden model "
            f"(NumPy) against {prose.runtime(results.get('runtime') or {})}.",
            align=["l"] + ["r"] * 7,
        ),
    ]


def mcu(results: Results) -> list[Block]:
    """On a microcontroller: the generated C library's cost on an emulated Cortex-M4."""
    rows, missing = [], []
    for name, m in (results.get("mcu") or {}).items():
        label = results["models"][name]["display_name"] + " + INT8"
        if not m.get("toolchain_available"):
            missing.append(f"{label}: {m.get('reason') or 'toolchain not installed'}")
            continue
        exact = {True: "yes", False: "no", None: "–"}[m.get("bit_exact")]
        rows.append(
            [
                label,
                f_int(m["flash_bytes"]),
                f_int(m["ram_bytes"]),
                f_int(m["instructions_per_frame"]),
                f_num(m["instructions_per_mac"], 1),
                f"{m['variant']} ({m['cpu']})",
                exact,
            ]
        )
    if not rows and not missing:
        return []
    blocks: list[Block] = [Heading("On a microcontroller")]
    if rows:
        headers = ["Model", "Flash (B)", "RAM (B)", "Instructions / frame", "per MAC"]
        blocks.append(
            Table(
                headers + ["Kernels", "Bit-exact"],
                rows,
                caption="The C library 'amrkit deploy' generates from the INT8 file, "
                "cross-compiled with arm-none-eabi-gcc -O2 and run under QEMU (mps2-an386): "
                "flash = code + constants, RAM = data + arena + stack high-water + the input "
                "frame; instructions counted by QEMU (a cycle proxy); bit-exact = the same "
                "final integers as the golden model.",
                align=["l"] + ["r"] * 4 + ["l", "l"],
            )
        )
    blocks += [Paragraph(f"Not measured — {line}.") for line in missing]
    return blocks


def budget(results: Results) -> list[Block]:
    """Quick runs only: this run against the accuracy other budgets reached."""
    if not results.get("budget_points"):
        return []
    cfg, target = results["config"], results["target"]
    rows = [
        [f_int(b["frames_per_class"]), b["training"], f_int(b["batch_size"])]
        + [f_int(b["frame_epochs"]), b["accuracy"]]
        for b in results["budget_points"]
    ]
    for p in results["protocols"]:
        run = results["runs"][p["name"]][target]
        tc = p["train_config"]
        rows.append(
            [
                f_int(cfg["frames_per_class"]),
                f"**this run**: {p['label']}, {tc['epochs']} epochs",
                f_int(tc["batch_size"]),
                f_int(run["training"]["train_frames"] * tc["epochs"]),
                f"test {f_pct(run['fp32_mean_pct'])} % (INT8 {f_pct(run['int8_mean_pct'])} %)",
            ]
        )
    name = results["models"][target]["display_name"]
    return [
        Heading("Accuracy against budget"),
        Table(
            ["Frames/class", "Training", "Mini-batch", "Frame-epochs", "Accuracy"],
            rows,
            caption=f"{name} at 30 dB, measured SNR convention, seed 1: runs measured while "
            f"choosing the quick default (amrkit/report/budget.py) and this run.{_cost(results)}",
            align=["r", "l", "r", "r", "l"],
        ),
    ]


def _cost(results: Results) -> str:
    """This run's measured training time per frame-epoch, per model (last protocol)."""
    proto = results["protocols"][-1]
    crop = int(proto["train_config"].get("crop", 0) or 0)
    parts = []
    for model, run in results["runs"][proto["name"]].items():
        fps = run["training"].get("train_frames_per_s")
        if fps:
            parts.append(f"{results['models'][model]['display_name']} {1000 / fps:.2f} ms")
    if not parts:
        return ""
    where = f" (on {crop}-sample windows)" if crop else ""
    return f" This run's training took {', '.join(parts)} per frame-epoch{where}."


def _beyond_rows(b: dict[str, Any]) -> list[list[str]]:
    rows = [
        [f"`{p['spec']}`", f_int(p["macs"]), f_num(p["int8_kb"])]
        + [f_pct(p[k]) for k in ("proxy_accuracy_pct", "fp32_test_accuracy_pct")]
        + [f_pct(p["int8_test_accuracy_pct"]), f_pct(p["golden_agreement_pct"])]
        for p in b["points"]
    ]
    ref = b["reference"]
    rows.append(
        [f"**{ref['row']}** (this run, {ref['protocol_label']}): `{ref['spec']}`"]
        + [f_int(ref["macs"]), f_num(ref["int8_kb"]), "–", f_pct(ref["fp32_accuracy_pct"])]
        + [f_pct(ref["accuracy_pct"]), "–"]
    )
    return rows


def _basis(entry: dict[str, Any]) -> str:
    if entry["basis"] == "proxy":
        return "proxy validation accuracy only (a subset, few epochs; not retrained or tested)"
    return "INT8 test accuracy"


def _beyond_comparison(b: dict[str, Any], results: Results) -> list[str]:
    ref, budget = b["reference"], b["paper_optimized_macs"]
    hand = f"this run's {ref['row']} ({f_pct(ref['accuracy_pct'])} %, {f_int(ref['macs'])} MACs)"
    best, close = b["best_within_budget"], b["smallest_within_1pt"]
    out = []
    if best is None:
        out.append(f"No Pareto model has ≤ {f_int(budget)} MACs (the paper's optimized budget).")
    else:
        out.append(
            f"Best Pareto model at ≤ {f_int(budget)} MACs (the paper's optimized budget): "
            f"`{best['spec']}`, {f_pct(best['accuracy_pct'])} % {_basis(best)} with "
            f"{f_int(best['macs'])} MACs and {f_num(best['int8_kb'])} kB, against {hand}: "
            f"{f_signed(best['vs_reference_pt'])} pt."
        )
    within = f"within {b['within_pt']:g} pt of {ref['row']}"
    if close is None:
        top = b["most_accurate"]
        tail = "" if top is None else f"; the most accurate is `{top['spec']}` at "
        tail += "" if top is None else f"{f_pct(top['accuracy_pct'])} % ({_basis(top)})"
        out.append(f"No Pareto model is {within}{tail}.")
    else:
        out.append(
            f"Smallest Pareto model {within}: `{close['spec']}`, {f_int(close['macs'])} MACs "
            f"({f_pct(close['macs_share_pct'])} % of the hand design's) and "
            f"{f_num(close['int8_kb'])} kB ({f_pct(close['int8_bytes_share_pct'])} %), "
            f"{f_pct(close['accuracy_pct'])} % {_basis(close)}."
        )
    sc, tc = b["config"], results["protocols"][-1]["train_config"]
    out.append(
        f"The Pareto models were retrained for {prose.plural(sc['final_epochs'], 'epoch')} at "
        f"mini-batch "
        f"{sc['batch_size']} (augmentation `{sc['augment']}`), the hand design for "
        f"{prose.plural(tc['epochs'], 'epoch')} at mini-batch {tc['batch_size']} (augmentation "
        f"`{tc['augment']}`), on the same training split and tested on the same "
        f"{f_int(ref['test_frames'])} test frames (one frame is {f_pct(ref['frame_pt'])} pt), "
        "so a difference is not the architecture's alone."
    )
    return out


def _shipped_rows(s: dict[str, Any]) -> list[list[str]]:
    rows = [
        [f"{m['row']} (this run)", s["protocol_label"], f_int(m["macs"]), f_int(m["int8_bytes"]),
         f_pct(m["fp32_pct"]), f_pct(m["int8_pct"]), f_signed(m["vs_reference_pt"]), "–"]
        for m in s["models"]
    ]  # fmt: skip
    rows += [
        [f"`{e['ref']}`", e["source"]["text"], f_int(e["macs"]), f_int(e["int8_bytes"]),
         f_pct(e["fp32_pct"]), f_pct(e["int8_pct"]), f_signed(e["vs_reference_pt"]),
         f_pct(e["card"]["int8_test_pct"])]
        for e in s["entries"]
    ]  # fmt: skip
    return rows


def _shipped_notes(s: dict[str, Any], results: Results) -> list[str]:
    """Per entry: its size and accuracy against the reference, and how it was trained."""
    ref = next(m for m in s["models"] if m["name"] == s["reference"])
    cfg = results["config"]
    epochs = results["protocols"][-1]["train_config"]["epochs"]
    out = []
    for e in s["entries"]:
        t = e["trained"]
        out.append(
            f"`{e['ref']}` ({', '.join(e['source']['kinds'])}): {f_pct(e['macs_share_pct'])} % of "
            f"{ref['row']}'s MACs and {f_pct(e['int8_bytes_share_pct'])} % of its INT8 bytes, "
            f"INT8 {f_signed(e['vs_reference_pt'])} pt against it on this test split; trained "
            f"on {f_int(t['frames_per_class'])} frames per class for "
            f"{prose.plural(t['epochs'] or 0, 'epoch')} (its card), this run's models on "
            f"{f_int(cfg['frames_per_class'])} for {prose.plural(epochs, 'epoch')}, so a "
            "difference is also the training's."
        )
    return out


def shipped(results: Results) -> list[Block]:
    """The zoo's ``beyond`` entries evaluated in this run (none shipped: nothing)."""
    s = (results.get("beyond") or {}).get("shipped") or {}
    head = Heading("Shipped models beyond the paper", 3)
    names = ", ".join(f"`zoo:{n}`" for n in s.get("not_loaded", []))
    if not s.get("shown"):
        if not names:
            return []
        return [head, Paragraph(
            f"The zoo ships {names} (`amrkit zoo add --report beyond`). A `--full` run trains "
            "its own models at the paper's scale and loads no shipped model (as for Table "
            "III's shipped group); a quick `amrkit reproduce` evaluates them on its test split "
            "here. Their cards: docs/zoo/, with their figure docs/zoo/pareto.png."
        )]  # fmt: skip
    ref = next(m for m in s["models"] if m["name"] == s["reference"])
    intro = (
        f"The zoo's entries of the `beyond` group (`amrkit zoo add --report beyond`), evaluated "
        f"in this run in FP32 and INT8 ({_kernel(results)}) on its test split at "
        f"{results['config']['snr_db']:g} dB ({f_int(s['test_frames'])} frames; one frame is "
        f"{f_pct(s['frame_pt'])} pt), beside this run's models ({s['protocol_label']}). MACs "
        "and INT8 bytes are computed from each model's files; how each was made is what its "
        "card says."
    )
    cards = "; ".join(
        f"`{e['ref']}` {f_int(e['card']['test_frames'])} frames at "
        f"{f_num(e['card']['test_snr_db'], 0)} dB"
        for e in s["entries"]
    )
    return [
        head,
        Paragraph(intro),
        Table(
            ["Model", "Made by", "MACs", "INT8 bytes", "FP32 (%)", "INT8 (%)"]
            + [f"Δ INT8 vs {ref['row']} (pt)", "Card INT8 (%)"],
            _shipped_rows(s),
            caption="INT8 bytes: weights 1 B, biases 4 B (int32). Card INT8: the entry's own "
            f"independent test set (`amrkit zoo show NAME`; {cards}).",
            align=["l", "l"] + ["r"] * 6,
        ),
        Figure(
            results["figures"]["beyond_zoo"],
            "Accuracy against MACs (FP32 open, INT8 filled) and INT8 accuracy against INT8 "
            "parameter bytes: this run's models and every shipped model it evaluated, at this "
            "run's numbers; the paper's at MATLAB's (Table III). The zoo's own figure, from "
            "the cards: docs/zoo/pareto.png.",
        ),
        Paragraph(" ".join(_shipped_notes(s, results))),
    ]


def beyond(results: Results) -> list[Block]:
    """Beyond the paper: amrkit's architecture search, then the zoo's shipped beyond models."""
    return _search(results) + shipped(results)


def _search(results: Results) -> list[Block]:
    """The architecture search of amrkit (not in the paper), next to the hand design."""
    b = results.get("beyond") or {}
    head = Heading("Beyond the paper: architecture search")
    if not b.get("ran"):
        return [
            head,
            Paragraph(
                "Not run: this run's `search_trials` is 0 (the quick default gives its minutes "
                "to Table III's models). `--search-trials 8` adds a small search (1–2 minutes "
                "on 2 cores), `amrkit reproduce --search-trials 40` (the `--full` default) a "
                "multi-objective architecture search on the main data — accuracy against MACs "
                "and INT8 bytes, the Pareto set retrained and quantized — compared with the "
                "hand design; `amrkit search` runs one on its own (docs/search.md)."
            ),
        ]
    sc, t = b["config"], b["trials"]
    classes = len(results["runs"][results["protocols"][-1]["name"]][results["target"]]["int8"]
                  ["test"]["classes"])  # fmt: skip
    intro = prose.search(sc) + (
        f" Trials: {t['complete']} complete, {t['pruned']} stopped by halving, {t['fail']} failed."
    )
    if results["quick"]:
        intro = f"**{prose.search_label(sc, classes)}.** " + intro
    return [
        head,
        Paragraph(intro),
        Table(
            ["Model", "MACs", "INT8 kB", "Proxy val. (%)", "FP32 test (%)", "INT8 test (%)"]
            + ["Golden = ORT (%)"],
            _beyond_rows(b),
            caption="The retrained Pareto set (kB = 1,000 bytes of INT8 weights and int32 "
            "biases), then this run's hand-designed model; test split of the main data. "
            f"Every trial and model: `{b['pareto_json']}`.",
            align=["l"] + ["r"] * 6,
        ),
        Figure(
            results["figures"]["beyond_pareto"],
            "amrkit search's plot: proxy trials (grey), the retrained INT8 Pareto set and the "
            "paper's three models at MATLAB's figures (Table III).",
        ),
        Paragraph(" ".join(_beyond_comparison(b, results))),
    ]


def differences(results: Results) -> list[Block]:
    from amrkit.report.differences import differences as items

    return [Heading("How this differs from the paper"), BulletList(items(results))]


def provenance(results: Results) -> list[Block]:
    prov, cfg = results["provenance"], results["config"]
    mach = prov["machine"]
    rt = results.get("runtime") or {}
    device = mach.get("device", "cpu") + (f" ({mach['gpu']})" if mach.get("gpu") else "")
    items = [
        f"amrkit {prov['amrkit_version']}, torch {mach['torch']}, onnxruntime "
        f"{mach['onnxruntime']}, numpy {mach['numpy']}, Python {mach['python']}",
        f"machine: {mach['cpu']}, {mach['cpus']} CPUs, {mach['threads']} threads, training "
        f"device {device}, {mach['platform']}",
        f"INT8 runtime: {prose.runtime(rt, mach['onnxruntime'])}",
        f"seeds: data {prov['seeds']['main_data']}, sweep {prov['seeds']['sweep_data']}, "
        f"Fig. 5 data {', '.join(map(str, prov['seeds']['fig5_data']))}, training "
        f"{', '.join(map(str, prov['seeds']['training']))}, calibration "
        f"{prov['seeds']['calibration']}",
        f"started {prov['started']}, finished {prov['finished']}: wall time of this run "
        f"{f_num(prov['wall_time_s'], 1)} s, CPU time {f_num(prov['cpu_time_s'], 1)} s; all "
        f"stages, cached ones included, {f_num(prov['stages_total_s'], 1)} s",
        "config: `" + ", ".join(f"{k}={short_value(v)}" for k, v in cfg.items()) + "`",
    ]
    return [
        Heading("Provenance"),
        BulletList(items),
        Table(
            ["Stage", "Key", "Cached", "Seconds"],
            [
                [s["stage"], s["key"], "yes" if s["cached"] else "no", f_num(s["seconds"], 1)]
                for s in prov["stages"]
            ],
            caption="Wall time per stage (a cached stage took its time in an earlier run).",
            align=["l", "l", "l", "r"],
        ),
    ]


SECTIONS: list[Callable[[Results], list[Block]]] = [
    title,
    table1,
    table2,
    table3,
    fig4,
    fig5,
    fig6,
    confusion,
    golden,
    mcu,
    latency,
    budget,
    beyond,
    differences,
    provenance,
]


def render(results: Results, sections: list[Callable] | None = None) -> list[Block]:
    """The report's blocks, section by section."""
    return [block for section in sections or SECTIONS for block in section(results)]
