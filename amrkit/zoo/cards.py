"""The model card: its schema's parts, its headline (the index's ``metrics``), its Markdown.

A card is JSON (``card.json`` of an entry, written by :func:`amrkit.zoo.build.add_entry`);
every figure in it was measured by the builder. :func:`render_markdown` is the page in
``docs/zoo/<name>.md`` (``amrkit zoo docs``); a test checks that the shipped pages are the
rendering of the shipped cards.
"""

from __future__ import annotations

from typing import Any

from amrkit.errors import AmrkitError
from amrkit.zoo.figure import BUDGETS, FIGURE_FILE

SCHEMA = "amrkit-model-card/1"
REPORT_GROUPS = ("paper", "beyond")  # where `amrkit reproduce` shows an entry (None: nowhere)


def check_card(card: Any, where: str) -> dict[str, Any]:
    if not isinstance(card, dict) or card.get("schema") != SCHEMA:
        found = card.get("schema") if isinstance(card, dict) else type(card).__name__
        raise AmrkitError(f"{where!r}: card schema {found!r} is not {SCHEMA!r}; rebuild the entry")
    for key in ("name", "model", "training", "evaluation", "golden", "commands", "files"):
        if key not in card:
            raise AmrkitError(f"{where!r}: the card lacks {key!r}; rebuild the entry")
    return card


def headline(card: dict[str, Any]) -> dict[str, Any]:
    """The numbers ``amrkit models`` / ``amrkit zoo list`` show (the index's ``metrics``)."""
    test, net, mcu = card["evaluation"]["test"], card["model"], card.get("mcu", {})
    return {
        "fp32_test_pct": test["fp32"]["accuracy_pct"],
        "int8_test_pct": test["int8"]["accuracy_pct"],
        "int8_drop_pt": test["int8_drop_pt"],
        "test_frames": test["fp32"]["frames"],
        "test_snr_db": test["snr_db"],
        "test_seed": test["seed"],
        "macs": net["macs"],
        "learnables": net["learnables"],
        "int8_bytes": net["int8_bytes"],
        "golden_bit_exact": card["golden"].get("bit_exact"),
        "mcu_flash_bytes": mcu.get("flash_bytes"),
        "mcu_ram_bytes": mcu.get("ram_bytes"),
    }


def recipe(card: dict[str, Any]) -> dict[str, Any]:
    """The index's ``recipe``: data and training in a few fields (the card has them all)."""
    data, train = card["training"]["data"], card["training"]["train_config"]
    keys = ("recipe", "epochs", "batch_size", "lr", "optimizer", "schedule", "augment", "crop",
            "seed", "teacher", "init_from")  # fmt: skip
    out = {
        k: data.get(k)
        for k in ("preset", "seed", "frames_per_class", "snrs", "snr_convention", "channel")
    }
    if data.get("synth"):  # a --synth run: seed = synth seed, frames_per_class per epoch
        synth = data["synth"]
        out["synth"] = {k: synth.get(k) for k in ("epochs", "training_frames",
                                                  "eval_frames_per_class")}  # fmt: skip
        if synth.get("mix"):  # a mixture: the further sources
            out["synth"]["mix"] = [{k: m.get(k) for k in ("preset", "frames_per_class_per_epoch")}
                                   for m in synth["mix"]]  # fmt: skip
    return {
        "data": out,
        "train": {k: train.get(k) for k in keys if k in train},
        "quantize": card["quantization"]["config"],
    }


def origin(card: dict[str, Any], run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """How the entry was made, as its card (and its ``run/run.json``) says: ``kinds`` (of
    search, prune, distillation, fine-tuning, training) and a ``text`` for the report.

    search: an extra section or source command names ``amrkit search``/a search; prune: the
    run (or the card's training) records ``pruned_from`` or a source command is ``amrkit
    prune``; distillation: the
    training had a teacher; fine-tuning: it started from another run's weights; qat: the INT8
    file comes from quantization-aware training (``zoo add --int8``)."""
    tr = card.get("training", {})
    cfg, info = tr.get("train_config") or {}, run_info or {}
    cmds = " ".join(card.get("commands", {}).get("source", []))
    extra = card.get("extra_sections", [])
    said = " ".join(f"{s.get('title', '')} {s.get('source', '')}" for s in extra).lower()
    parts: list[tuple[str, str]] = []
    if "search" in said or "amrkit search" in cmds:
        parts.append(("search", "architecture search"))
    pruned = info.get("pruned_from") or tr.get("pruned_from")
    if pruned or "amrkit prune" in cmds:
        run = pruned.get("run") if isinstance(pruned, dict) else None
        parts.append(("prune", "pruning" + (f" of `{_short(run)}`" if run else "")))
    teacher = tr.get("teacher") or cfg.get("teacher")
    if teacher:
        path = teacher.get("path") if isinstance(teacher, dict) else teacher
        parts.append(("distillation", f"distillation from `{_short(path)}`"))
    init = tr.get("init_from") or cfg.get("init_from")
    if init and not pruned:
        path = init.get("path") if isinstance(init, dict) else init
        parts.append(("fine-tuning", f"fine-tuned from `{_short(path)}`"))
    if not parts:
        parts.append(("training", "trained from scratch"))
    quant = card.get("quantization") or {}
    if quant.get("mode") == "qat":
        low = quant.get("four_bit_layers") or []
        parts.append(("qat", "quantization-aware training"
                      + (f" ({', '.join(low)} at 4 bits, packed)" if low else "")))  # fmt: skip
    text = " + ".join(t for _, t in parts)
    if extra:
        text += " (card: " + ", ".join(s["title"] for s in extra) + ")"
    return {"kinds": [k for k, _ in parts], "text": text}


def _short(path: Any) -> str:
    """A run's name without the folders of the machine that made it (``zoo:NAME`` kept)."""
    text = str(path)
    return text if text.startswith("zoo:") else text.rstrip("/").rsplit("/", 1)[-1]


# ---- Markdown ---------------------------------------------------------------------------------
def _f(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return out + [""]


def _accuracy_part(card: dict[str, Any]) -> list[str]:
    ev = card["evaluation"]
    test, sweep, gen = ev["test"], ev["sweep"], ev["generator"]
    lines = [
        "## Accuracy (independent test sets)",
        "",
        f"Synthesized by the card builder with the training data's generator (preset "
        f"`{gen['preset']}`, SNR convention `{gen['snr_convention']}`, channel "
        f"`{gen['channel']}`) and seeds the training never used: {test['fp32']['frames']:,} "
        f"frames at {test['snr_db']:g} dB (seed {test['seed']}), and "
        f"{sweep['frames_per_snr_per_class']:,} frames per class at each SNR of the sweep "
        f"(seed {sweep['seed']}).",
        "",
    ]
    lines += _table(
        ["", "FP32", "INT8"],
        [
            [f"top-1 at {test['snr_db']:g} dB (%)", test["fp32"]["accuracy_pct"],
             test["int8"]["accuracy_pct"]],
            ["correct / frames", f"{test['fp32']['correct']:,} / {test['fp32']['frames']:,}",
             f"{test['int8']['correct']:,} / {test['int8']['frames']:,}"],
            ["INT8 drop (pt)", "", test["int8_drop_pt"]],
        ],
    )  # fmt: skip
    per_class, per_snr = test["int8"]["per_class_pct"], sweep["int8"]["per_snr_pct"]
    lines += ["### Per class", ""]
    lines += _table(
        ["class", "FP32 (%)", "INT8 (%)"],
        [[c, v, per_class.get(c)] for c, v in test["fp32"]["per_class_pct"].items()],
    )
    lines += ["### Per SNR", ""]
    lines += _table(
        ["SNR (dB)", "FP32 (%)", "INT8 (%)"],
        [[k, v, per_snr.get(k)] for k, v in sweep["fp32"]["per_snr_pct"].items()],
    )
    return lines


def _cost_part(card: dict[str, Any]) -> list[str]:
    net, gold, mcu = card["model"], card["golden"], card.get("mcu", {})
    lines = ["## Network, golden model, Cortex-M", ""]
    rows = [
        ["layers", f"`{net['spec_short']}`"],
        ["MACs per frame", net["macs"]],
        ["learnables (+ batch norm)", f"{net['learnables']:,} (+{net['bn_learnables']:,})"],
        ["FP32 parameter bytes", net["fp32_bytes"]],
        ["INT8 parameter bytes", net["int8_bytes"]],
    ]
    if gold.get("measured"):
        rows.append(["golden model = ONNX Runtime, bit for bit",
                     f"{_f(gold.get('bit_exact'))} ({gold.get('frames', 0):,} test frames, "
                     f"{gold.get('cpu', '?')})"])  # fmt: skip
    else:
        rows.append(["golden model", f"not measured: {gold.get('reason')}"])
    if mcu.get("measured"):
        rows.append([f"{mcu['cpu']} flash bytes", mcu["flash_bytes"]])
        if mcu.get("flash_bytes_unpacked") is not None:
            packed = ", ".join(mcu.get("weight_packing", {}).get("packed_layers", []))
            rows[-1][0] += f" (4-bit {packed}: two weights per byte)"
            rows.append([f"{mcu['cpu']} flash bytes with --pack off",
                         f"{mcu['flash_bytes_unpacked']:,} (packing saves "
                         f"{mcu['flash_saving_pct']:.1f} %)"])  # fmt: skip
        rows += [
            [f"{mcu['cpu']} RAM bytes", mcu["ram_bytes"]],
            [f"{mcu['cpu']} instructions per frame", mcu["instructions_per_frame"]],
            ["C library = golden model (QEMU)", mcu.get("bit_exact")],
        ]
    else:
        rows.append(["Cortex-M cost", f"not measured: {mcu.get('reason', 'not asked')}"])
    return lines + _table(["", "value"], rows)


def _training_part(card: dict[str, Any]) -> list[str]:
    tr = card["training"]
    data, cfg, m = tr["data"], tr["train_config"], tr.get("metrics", {})
    lines = [
        "## How it was made",
        "",
        _data_line(data),
        f"- training: recipe `{cfg.get('recipe')}`, {cfg.get('epochs')} epochs, batch "
        f"{cfg.get('batch_size')}, {cfg.get('optimizer')} lr {cfg.get('lr')} "
        f"({cfg.get('schedule')}), augmentation `{cfg.get('augment')}`, seed {cfg.get('seed')}"
        + (f", teacher `{cfg['teacher']}`" if cfg.get("teacher") else "")
        + (f", started from `{cfg['init_from']}`" if cfg.get("init_from") else ""),
        f"- best epoch {m.get('best_epoch')} of {m.get('epochs')}, validation "
        f"{_f(None if m.get('best_val_accuracy') is None else 100 * m['best_val_accuracy'])} %",
        f"- machine: {tr.get('machine')}; device {tr.get('runtime', {}).get('device')}, "
        f"threads {tr.get('runtime', {}).get('threads')}; training wall time "
        f"{_f(m.get('wall_time_s'), 1)} s" + (" (resumed)" if m.get("resumed") else ""),
        f"- amrkit {tr.get('amrkit_version')}, commit "
        f"`{tr.get('amrkit_commit') or 'not recorded'}`",
        f"- quantization: {card['quantization'].get('summary')}",
        *([f"- INT8 frames: {card['quantization']['frames']['text']}"]
          if card["quantization"].get("frames") else []),
        "",
    ]  # fmt: skip
    b = card.get("build", {})
    lines += [
        f"Card measured by amrkit {b.get('amrkit_version')} (commit "
        f"`{b.get('amrkit_commit') or 'unknown'}`) on {b.get('machine')} in "
        f"{_f(b.get('wall_time_s'), 0)} s, {b.get('created')}.",
        "",
    ]
    return lines


def _data_line(data: dict[str, Any]) -> str:
    snrs = ", ".join(f"{s:g}" for s in data.get("snrs", []))
    at = f"at {snrs} dB (SNR convention `{data.get('snr_convention')}`)"
    synth = data.get("synth")
    if synth is None:
        return (
            f"- data: preset `{data.get('preset')}`, {data.get('frames_per_class', 0):,} frames "
            f"per class {at}, seed {data.get('seed')}, config hash `{data.get('config_hash')}`"
        )
    return (
        f"- data: synthesized afresh every epoch (`amrkit train --synth`): preset "
        f"`{data.get('preset')}`, {synth['frames_per_class_per_epoch']:,} frames per class and "
        f"epoch {at} × {synth['epochs']} epochs = {synth['training_frames']:,} distinct "
        f"training frames; synth seed {synth['seed']} (not a frame seed: epoch e's frames use "
        f"`train_seed(seed, e)`); validation and test {synth['eval_frames_per_class']:,} frames "
        f"per class, seed {synth['eval_seed']}; config hash `{data.get('config_hash')}`"
        + "".join(
            f"; mixed in every epoch: {m['frames_per_class_per_epoch']:,} frames per class of "
            f"preset `{m['preset']}` (seeds `mix_seed(seed, e, {m['source']})`)"
            for m in synth.get("mix", [])
        )
    )


def _commands_part(card: dict[str, Any]) -> list[str]:
    cmds = card["commands"]
    lines = ["## Commands", ""]
    if cmds.get("source"):
        lines += ["What made it (as run):", "", "```", *cmds["source"], "```", ""]
    lines += ["What rebuilds it (`amrkit zoo rebuild` runs these steps):", "", "```"]
    return lines + [*cmds["rebuild"], "```", ""]


def _extra_part(card: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for sec in card.get("extra_sections", []):
        lines += [f"## {sec['title']}", ""]
        if sec.get("text"):
            lines += [sec["text"], ""]
        if sec.get("table"):
            lines += _table(sec["table"]["columns"], sec["table"]["rows"])
        if sec.get("source"):
            lines += [f"Source: `{sec['source']}`", ""]
    return lines


def _ranges(cfg: dict[str, Any]) -> list[str]:
    """What a training config's per-frame ranges vary (its signal_ranges, multipath and
    impairments; empty for the reference preset's fixed values)."""
    sr, mp = cfg.get("signal_ranges") or {}, cfg.get("multipath") or {}
    imp, rate = cfg.get("impairments") or {}, float(cfg.get("sample_rate_hz") or 0)
    out = []
    if sr.get("sps_max", 0) > 0:
        out.append(f"{sr['sps_min']:g}–{sr['sps_max']:g} samples per symbol")
    if sr.get("pulses"):
        out.append(f"pulses {', '.join(sr['pulses'])} (roll-off {sr.get('rolloff_min', 0):g}–"
                   f"{sr.get('rolloff_max', 0):g})")  # fmt: skip
    if mp.get("delay_spread_max", 0) > 0:
        out.append(f"multipath delay spread up to {mp['delay_spread_max']:g} samples (Rician K "
                   f"{mp.get('k_factor_min', 0):g}–{mp.get('k_factor_max', 0):g})")  # fmt: skip
    out += _channel(cfg)
    if imp.get("cfo_max", 0) > 0:
        khz = f" = ±{imp['cfo_max'] * rate / 1e3:g} kHz" if rate else ""
        out.append(f"frequency offset up to ±{imp['cfo_max']:g} fs{khz}")
    if imp.get("phase_noise_hz", 0) > 0:
        out.append(f"phase noise up to {imp['phase_noise_hz']:g} Hz linewidth")
    if imp.get("iq_gain_db", 0) > 0 or imp.get("iq_phase_deg", 0) > 0:
        out.append(f"I/Q imbalance up to {imp.get('iq_gain_db', 0):g} dB, "
                   f"{imp.get('iq_phase_deg', 0):g}°")  # fmt: skip
    return out


def _channel(cfg: dict[str, Any]) -> list[str]:
    """The channel where it is not the named preset's own (e.g. `wide` frames through the
    reference's multipath channel): the preset's name alone would hide it."""
    from amrkit.data.synth.config import PRESETS, SynthConfig

    own = PRESETS.get(cfg.get("preset") or "", {}).get("channel", SynthConfig.channel)
    channel = cfg.get("channel")
    if channel is None or channel == own:
        return []
    if channel != "full":
        return [f"channel `{channel}`"]
    m = cfg.get("channel_model") or {}
    delays = ", ".join(f"{d:g}" for d in m.get("path_delays", ()))
    gains = ", ".join(f"{g:g}" for g in m.get("path_gains_db", ()))
    k, ppm = m.get("k_factor", 0), m.get("max_ppm", 0)
    return [
        f"channel `full` (Rician paths at {delays} samples, {gains} dB, K {k:g}; "
        f"clock offsets up to {ppm:g} ppm)"
    ]


def _input_line(card: dict[str, Any]) -> str:
    """Classes, frame, rate and what the training data varied: what the model assumes."""
    use = card["use"]
    cfg = ((card.get("commands") or {}).get("configs") or {}).get("data") or {}
    mix = ((card.get("commands") or {}).get("configs") or {}).get("data_mix") or []
    ranges, sps = _ranges(cfg), use.get("samples_per_symbol")
    varied = [*ranges, *(r for c in mix for r in _ranges(c))]
    fixed_sps = sps and not any("samples per symbol" in r for r in varied)
    return (
        f"Classes: {', '.join(use['classes'])}. Input: {use['frame_length']:,} I/Q samples "
        f"per frame at {_f(use.get('sample_rate_hz'), 0)} Hz"
        + (f", {sps} samples per symbol" if fixed_sps else "")
        + f"; trained at {use['snr_range']}"
        + (f", each training frame drawn from: {'; '.join(ranges)}" if ranges and not mix else "")
        + (_mix_part(cfg, ranges, mix) if mix else "")
        + "."
    )


def _mix_part(cfg: dict[str, Any], ranges: list[str], mix: list[dict[str, Any]]) -> str:
    """The training mixture of a --synth run on several sources, for the input line."""

    def part(c: dict[str, Any], r: list[str]) -> str:
        what = f" (drawn from: {'; '.join(r)})" if r else ""
        return (
            f"{c.get('frames_per_class', 0):,} per class per epoch of `{c.get('preset')}` "
            f"preset frames{what}"
        )

    return f", a mixture: {part(cfg, ranges)}" + "".join(
        f"; plus {part(c, _ranges(c))}" for c in mix
    )


def render_markdown(card: dict[str, Any]) -> str:
    """The card as a Markdown page."""
    name = card["name"]
    test = card["evaluation"]["test"]
    lines = [
        f"# zoo:{name} — {card.get('summary') or card['model']['spec_short']}",
        "",
        f"<!-- generated by 'amrkit zoo docs' from amrkit/pretrained/{name}/card.json; "
        "do not edit -->",
        "",
        f"FP32 **{_f(test['fp32']['accuracy_pct'])} %**, INT8 **"
        f"{_f(test['int8']['accuracy_pct'])} %** at {test['snr_db']:g} dB on "
        f"{test['fp32']['frames']:,} independent frames; {card['model']['macs']:,} MACs, "
        f"{card['model']['int8_bytes']:,} INT8 parameter bytes.",
        "",
        _input_line(card),
        "",
        "```",
        f"amrkit classify zoo:{name} capture.sigmf-meta",
        f"amrkit evaluate zoo:{name}:int8 data.h5",
        f'python -c "from amrkit.zoo import pretrained; print(pretrained(\'{name}\'))"',
        "```",
        "",
    ]  # fmt: skip
    lines += _accuracy_part(card) + _cost_part(card) + _training_part(card)
    lines += _commands_part(card) + _extra_part(card)
    lines += ["## Files", ""]
    lines += _table(
        ["file", "bytes", "SHA-256"],
        [[f"`{k}`", v["bytes"], f"`{v['sha256']}`"] for k, v in card["files"].items()],
    )
    return "\n".join(lines).rstrip() + "\n"


def render_index(cards: list[dict[str, Any]]) -> str:
    """docs/zoo/README.md: one row per entry."""
    lines = [
        "# amrkit's pretrained models",
        "",
        "<!-- generated by 'amrkit zoo docs'; do not edit -->",
        "",
        "How the zoo works: [../zoo.md](../zoo.md). Each row links to the entry's card.",
        "",
        f"![Accuracy against MACs and INT8 parameter bytes]({FIGURE_FILE})",
        "",
        f"[{FIGURE_FILE}]({FIGURE_FILE}): each entry's accuracy on its card's independent test "
        "set against its MACs (FP32 open, INT8 filled) and its INT8 parameter bytes, beside "
        "the paper's models (MATLAB, Table III) and the budgets of "
        + " and ".join(f"{macs:,}" for macs, _ in BUDGETS)
        + " MACs; drawn from the cards by `amrkit zoo docs`.",
        "",
    ]
    rows = []
    for c in cards:
        h = headline(c)
        rows.append([f"[zoo:{c['name']}]({c['name']}.md)", c.get("summary") or "",
                     h["fp32_test_pct"], h["int8_test_pct"], h["test_frames"], h["macs"],
                     h["int8_bytes"], h["golden_bit_exact"]])  # fmt: skip
    if not rows:
        return "\n".join(lines + ["No entry is shipped yet.", ""])
    return (
        "\n".join(lines)
        + "\n"
        + "\n".join(
            _table(
                [
                    "entry",
                    "summary",
                    "FP32 (%)",
                    "INT8 (%)",
                    "test frames",
                    "MACs",
                    "INT8 bytes",
                    "golden bit-exact",
                ],
                rows,
            )  # fmt: skip
        )
    )
