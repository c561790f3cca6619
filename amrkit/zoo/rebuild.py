"""``amrkit zoo rebuild NAME --out DIR``: rerun an entry's card — generate its training data,
train, quantize, measure — and compare the new card with the shipped one.

``DIR`` receives the configs the card records (``data.json``, ``train.json``, ``ptq.json``
— or ``qat.json`` for an entry whose INT8 file came from ``amrkit quantize --qat``: the
rebuild reruns QAT with it —, ``card.json``, ``spec.json``: the rebuild commands of the card
read them), ``data.h5``,
``run/`` (resumable: a rebuild that was interrupted continues from its checkpoint),
``zoo/<NAME>/`` (the rebuilt entry with its card) and ``comparison.json``.

An entry of a run trained with ``amrkit train --synth`` (its card's training data has
``synth``) has no data file: ``DIR`` gets ``synth.json`` (the synthesizer config, as
``amrkit train --synth FILE`` reads it; a mixture's further sources ``synth-mix1.json``, ...)
instead of ``data.json`` and ``data.h5``, the run is
retrained on frames synthesized per epoch with the recorded frames per class, synth seed and
evaluation frames, and added without ``--train-data``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amrkit.config import from_dict
from amrkit.errors import AmrkitError
from amrkit.fileio import output_lock, read_json, write_json, write_text
from amrkit.zoo.check import load_card
from amrkit.zoo.measure import CardConfig

TOLERANCE_PT = 0.3  # issue 25: a rebuild lands within 0.3 pt of its card


def _data(card: dict[str, Any], out: Path, workers: int, log: Callable[[str], None]) -> Path:
    """The training data, regenerated from the card's config (kept when already there with
    the recorded config hash: synthesis is deterministic)."""
    from amrkit.data.open import open_frames
    from amrkit.data.synth import config_from_mapping, synthesize

    want = card["training"]["data"]["config_hash"]
    h5 = out / "data.h5"
    if h5.is_file():
        with open_frames(h5) as frames:
            if frames.source.get("config_hash") == want:
                log(f"reusing {h5} (config hash {want})")
                return h5
        raise AmrkitError(
            f"{str(h5)!r} is not the card's training data (other config hash); remove it or "
            "choose another --out"
        )
    cfg = config_from_mapping(card["commands"]["configs"]["data"], where="card")
    log(f"generating the training data: {cfg.num_frames:,} frames, seed {cfg.seed}")
    synthesize(cfg, h5, workers=workers)
    with open_frames(h5) as frames:
        got = frames.source.get("config_hash")
    if got != want:
        raise AmrkitError(
            f"the regenerated data's config hash {got} differs from the card's {want}; this "
            "amrkit's synthesizer is not the one that made the entry"
        )
    return h5


def synth_of(card: dict[str, Any]) -> Any:
    """The SynthData of a --synth entry's run (None for an entry trained on a file)."""
    from amrkit.data.synth import config_from_mapping
    from amrkit.train.synth import SynthData

    synth = card["training"]["data"].get("synth")
    if synth is None:
        return None
    configs = card["commands"]["configs"]
    cfg = config_from_mapping(configs["data"], where="card")
    mix = tuple(
        config_from_mapping(c, where=f"card data_mix[{i}]")
        for i, c in enumerate(configs.get("data_mix") or [])
    )
    return SynthData(cfg, int(synth["eval_frames_per_class"]), mix)


def _train(card: dict[str, Any], h5: Path | None, out: Path, synth: Any = None, **kw: Any) -> Path:
    """Train (or resume) the card's run in ``out/run``: on ``h5``, or on frames synthesized
    per epoch (``synth``, with ``h5`` None)."""
    from amrkit.models import CNNSpec
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import DataOptions, train_model

    configs = card["commands"]["configs"]
    if not configs.get("train"):
        raise AmrkitError(
            f"zoo entry {card['name']!r} records no training config (its run was not made by "
            "'amrkit train'); run the card's source commands instead"
        )
    run = out / "run"
    metrics = run / "metrics.json"
    if metrics.is_file() and read_json(metrics).get("complete"):
        return run
    resume = (run / "run.json").is_file() and (run / "checkpoint.pt").is_file()
    opts = {k: v for k, v in (card["training"].get("data_options") or {}).items()
            if k in DataOptions.__dataclass_fields__}  # fmt: skip
    train_model(
        h5,
        CNNSpec.from_dict(configs["spec"], where="card"),
        run,
        from_dict(TrainConfig, configs["train"], where="card train config"),
        given=set() if resume else None,
        resume=resume,
        force=not resume,
        data_options=DataOptions(**opts),
        synth=synth,
        **kw,
    )
    return run


def quant_step(configs: dict[str, Any]) -> dict[str, Any]:
    """The rebuild's quantization step, as :func:`~amrkit.zoo.build.add_entry` keywords:
    ``{"qat": QATConfig}`` when the card records a QAT config (its INT8 file came from
    ``amrkit quantize --qat``), else ``{"ptq": PTQConfig}``."""
    from amrkit.quant import PTQConfig, QATConfig

    if "qat" in configs:
        return {"qat": from_dict(QATConfig, configs["qat"], where="card qat config")}
    return {"ptq": from_dict(PTQConfig, configs["ptq"], where="card ptq config")}


def _new_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """TrainConfig fields this amrkit has that the card's config lacks: the rebuild used
    their defaults (a newer amrkit's option can explain a difference)."""
    from amrkit.config import to_dict
    from amrkit.train.config import TrainConfig

    return {k: v for k, v in to_dict(TrainConfig()).items() if k not in recorded}


def compare_cards(card: dict[str, Any], new: dict[str, Any], tolerance_pt: float) -> dict:
    """The rebuilt card against the shipped one: accuracies (test and sweep), sizes, golden
    model, data identity, training time; ``within_tolerance`` for FP32 and INT8 at the test
    SNR."""
    a, b = card["evaluation"], new["evaluation"]
    out: dict[str, Any] = {"entry": card["name"], "tolerance_pt": tolerance_pt}
    for prec in ("fp32", "int8"):
        x, y = a["test"][prec]["accuracy_pct"], b["test"][prec]["accuracy_pct"]
        out[f"{prec}_test"] = {"card": x, "rebuild": y, "diff_pt": round(y - x, 2)}
        sa, sb = a["sweep"][prec]["per_snr_pct"], b["sweep"][prec]["per_snr_pct"]
        diffs = [abs(sb[k] - sa[k]) for k in sa if sa[k] is not None and sb.get(k) is not None]
        out[f"{prec}_sweep_max_abs_diff_pt"] = round(max(diffs), 2) if diffs else None
    out["int8_drop_pt"] = {"card": a["test"]["int8_drop_pt"], "rebuild": b["test"]["int8_drop_pt"]}
    for key in ("macs", "learnables", "int8_bytes"):
        out[key] = {"card": card["model"][key], "rebuild": new["model"][key]}
    out["golden_bit_exact"] = {"card": card["golden"].get("bit_exact"),
                               "rebuild": new["golden"].get("bit_exact")}  # fmt: skip
    out["data_identical"] = (
        card["training"]["data"]["config_hash"] == new["training"]["data"]["config_hash"]
    )
    out["train_wall_time_s"] = {
        "card": card["training"]["metrics"].get("wall_time_s"),
        "rebuild": new["training"]["metrics"].get("wall_time_s"),
    }
    out["machine"] = {"card": card["training"].get("machine"), "rebuild": new["build"]["machine"]}
    out["within_tolerance"] = all(
        abs(out[f"{p}_test"]["diff_pt"]) <= tolerance_pt for p in ("fp32", "int8")
    )
    return out


def rebuild(
    name: str,
    out: str | Path,
    *,
    device: str = "auto",
    workers: int = 1,
    threads: int | None = None,
    tolerance_pt: float = TOLERANCE_PT,
    mcu: bool | None = None,
    progress: bool = True,
    zoo_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Rebuild entry ``name`` into ``out`` from its card; returns (and writes) the comparison."""
    from amrkit.zoo.build import add_entry, mix_files

    say = log or (lambda _m: None)
    card = load_card(name, zoo_dir)
    configs = card["commands"]["configs"]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AmrkitError(f"--out {str(out)!r} is a file; give a folder for the rebuild")
    with output_lock(out):
        out.mkdir(parents=True, exist_ok=True)
        card_cfg = from_dict(CardConfig, configs["card"], where="card config")
        if mcu is not None:
            card_cfg = from_dict(CardConfig, {**configs["card"], "mcu": mcu})
        quant, synth = quant_step(configs), synth_of(card)
        for key in ("data", "train", *quant, "card", "spec"):
            file = "synth.json" if key == "data" and synth is not None else f"{key}.json"
            write_json(out / file, configs[key])
        for file, cfg in zip(mix_files(out, len(synth.mix) if synth else 0),
                             configs.get("data_mix") or [], strict=True):  # fmt: skip
            write_json(Path(file), cfg)
        write_text(out / "commands.txt", "\n".join(card["commands"]["rebuild"]) + "\n")
        h5 = _data(card, out, workers, say) if synth is None else None
        say(f"training {card['model']['spec_short']} ({configs['train'].get('epochs')} epochs"
            + (", frames synthesized per epoch)" if synth is not None else ")"))  # fmt: skip
        run = _train(card, h5, out, synth, device=device, threads=threads, progress=progress,
                     synth_workers=workers)  # fmt: skip
        add_entry(
            run, h5, card["name"], card_config=card_cfg, **quant,
            summary=card.get("summary", ""),
            source_commands=[f"amrkit zoo rebuild {card['name']} --out {out}"],
            report_group=card.get("report_group"), zoo_dir=out / "zoo", force=True,
            workers=workers, threads=threads, log=say,
        )  # fmt: skip
        new = load_card(card["name"], out / "zoo")
        result = compare_cards(card, new, tolerance_pt)
        result["train_defaults_not_in_card"] = _new_defaults(configs["train"])
        result["rebuilt_card"] = str(out / "zoo" / card["name"] / "card.json")
        write_json(out / "comparison.json", json.loads(json.dumps(result)))
    return result
