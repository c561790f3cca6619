"""``amrkit zoo add``: a trained run becomes a zoo entry with a measured model card.

The run is copied (weights, run.json, metrics.json, history.csv; no checkpoint), quantized
(portable PTQ by default) from the copy, measured (:mod:`amrkit.zoo.measure`), and the card
is written; the complete folder is then moved into the zoo and the index updated
(:func:`amrkit.pretrained.install_entry`). Nothing is left behind on an error.

``--int8 QDIR`` (an ``amrkit quantize RUN --qat`` output) replaces the PTQ step: the entry's
INT8 file and quantization.json are QDIR's, checked against the run and its data; the card
records the QATConfig, and a rebuild reruns QAT with it (``qat=``).

A run trained with ``amrkit train --synth`` (run.json's ``synth``) has no data file: its
synthesizer config is the card's test generator, the card's test seeds must differ from the
synth seed, every epoch's training seed and the validation seed, and the INT8 file is
calibrated (and QAT fine-tuned) on epoch 0's training frames, synthesized again in memory
(:func:`synth_quant_frames`), its accuracy measured on the run's validation frames. A run
on a mixture of sources (``--synth A,B``) records every source: the card's
``commands.configs.data`` is the first source's config (the test generator), ``data_mix``
the others', ``training.data.synth.mix`` their frames and epoch seeds; calibration uses
epoch 0's frames of every source.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from amrkit import __version__, pretrained
from amrkit.artifacts import load_run, source_commit
from amrkit.config import from_dict, to_dict
from amrkit.errors import AmrkitError
from amrkit.fileio import read_json, staging_folder, write_json
from amrkit.pretrained import CARD_FILE, INT8_FILE, QUANT_FILE, RUN_DIR
from amrkit.zoo.cards import REPORT_GROUPS, SCHEMA, headline, recipe
from amrkit.zoo.measure import CardConfig, measure, test_configs

RUN_COPY = ("run.json", "model.pt", "metrics.json", "history.csv")
TRAIN_METRICS = ("epochs", "best_epoch", "best_val_accuracy", "test_accuracy", "train_frames",
                 "val_frames", "wall_time_s", "epoch_seconds_total", "train_frames_per_s",
                 "resumed", "complete")  # fmt: skip


def machine() -> str:
    from amrkit.runtime import cpu_info

    return f"{cpu_info().get('cpu') or platform.processor() or '?'} ({platform.machine()})"


def _open_training_data(run: Any, data: str | Path) -> Any:
    """The run's training data, opened as ``amrkit train`` opened it; refused when it is not
    the file the run records (other config hash, size or classes)."""
    from amrkit.data.open import open_frames
    from amrkit.data.split import resolve_split_seed

    opts = run.info.get("data_options") or {}
    kw = {k: opts.get(k) for k in ("format", "classes", "classes_file", "snr_min", "snr_max")}
    frames = open_frames(data, split_seed=resolve_split_seed(None, run.info), **kw)
    want = {k: v for k, v in (run.info.get("dataset") or {}).items() if k != "path"}
    got = {k: v for k, v in frames.identity().items() if k != "path"}
    if want != got:
        frames.close()
        raise AmrkitError(
            f"--train-data {str(data)!r} is not the data run {str(run.path)!r} was trained on "
            f"(config hash {got.get('config_hash')}, {got.get('num_frames')} frames; the run "
            f"records {want.get('config_hash')}, {want.get('num_frames')}); give that file"
        )
    return frames


def _synth_of(run: Any, train_data: str | Path | None, int8: str | Path | None) -> Any:
    """The run's ``--synth`` data (a SynthData), or None for a run trained on a file; refuses
    --train-data for a --synth run and a missing one for a file run."""
    from amrkit.train.synth import SynthData

    where, record = str(run.path), run.info.get("synth")
    if record is None:
        if train_data is None:
            raise AmrkitError(
                f"run {where!r} was trained on a data file; give --train-data FILE (that file)"
            )
        return None
    if train_data is not None:
        raise AmrkitError(
            f"run {where!r} was trained with --synth on frames synthesized per epoch, not on "
            f"--train-data {str(train_data)!r}; drop --train-data (run.json's synth config is used)"
        )
    synth = SynthData.from_dict(record, where=f"{where}/run.json synth")
    if synth.eval_frames_per_class == 0:
        raise AmrkitError(
            f"run {where!r} validated on a DATA file's val/test splits (--synth with DATA); zoo "
            "add takes --synth runs with synthesized validation frames: retrain without DATA"
        )
    if int8 is not None:
        raise AmrkitError(
            f"--int8 {str(int8)!r}: run {where!r} was trained with --synth, and an 'amrkit "
            "quantize --qat' folder cannot be tied to its frames; give --qat-config FILE "
            "instead (QAT here, on the run's epoch-0 frames)"
        )
    return synth


def _synth_epochs(run: Any) -> int:
    """Epochs of a --synth run: epoch e (0-based) trained on the seed ``train_seed(seed, e)``."""
    return int((run.info.get("train_config") or {}).get("epochs", 0))


def _check_synth_seeds(synth: Any, epochs: int, card: CardConfig) -> None:
    """The card's test seeds differ from every seed of the run's frames: the synth seed, each
    epoch's training seed and the validation/test seed."""
    from amrkit.train.synth import eval_seed

    seed = synth.config.seed
    used = {seed: "the synth seed", eval_seed(seed): "the validation/test frames' seed"}
    for e in range(epochs):
        for i, s in enumerate(synth.epoch_seeds(e)):
            used[s] = f"epoch {e + 1}'s training seed" + (f" (source {i + 1})" if i else "")
    for s in (card.test_seed, card.sweep_seed):
        if s in used:
            raise AmrkitError(
                f"--test-seed {card.test_seed} (sweep: {card.sweep_seed}): {s} is {used[s]} of "
                f"the --synth run (synth seed {seed}); choose another so the test frames are "
                "independent"
            )


def synth_quant_frames(synth: Any, workers: int = 1) -> Any:
    """The frames a --synth run's INT8 file is made with: epoch 0's training frames of every
    source (``synth.epoch_configs(0)``, split 0: calibration, QAT fine-tuning) and the run's
    validation frames (``synth.eval_config()``'s split 1: accuracy), synthesized in memory."""
    import numpy as np

    from amrkit.config import config_hash
    from amrkit.data.frames import array_frameset
    from amrkit.data.synth import synthesize_arrays
    from amrkit.train.synth import epoch_arrays

    (train_cfg, *mix), eval_cfg = synth.epoch_configs(0), synth.eval_config()
    train = epoch_arrays(synth, 0, workers)  # every source's, in source order
    ev = synthesize_arrays(eval_cfg, workers=workers)
    hashed = {"train": train_cfg, "val": eval_cfg, **({"mix": mix} if mix else {})}
    val = ev["split"] == 1
    n_train, n_val = len(train["label"]), int(val.sum())
    cfg = synth.config
    return array_frameset(
        np.concatenate([train.pop("iq"), ev.pop("iq")[val]]),  # (n_train + n_val, 2, L)
        np.concatenate([train["label"], ev["label"][val]]), cfg.classes,
        np.concatenate([train["snr_db"], ev["snr_db"][val]]),
        np.concatenate([np.zeros(n_train, np.uint8), np.ones(n_val, np.uint8)]),
        sample_rate_hz=cfg.sample_rate_hz, samples_per_symbol=cfg.samples_per_symbol,
        snr_convention=cfg.snr_convention,
        source={"format": "synth", "frames": "epoch 0 (train) + validation",
                "config_hash": config_hash(hashed),
                "train_seed": train_cfg.seed, "eval_seed": eval_cfg.seed,
                **({"mix_seeds": [c.seed for c in mix]} if mix else {})},
    )  # fmt: skip


def _synth_config(frames: Any, data: str | Path) -> Any:
    from amrkit.data.synth import GENERATOR, config_from_mapping

    cfg = frames.config
    if not isinstance(cfg, dict) or cfg.get("generator") != GENERATOR:
        raise AmrkitError(
            f"--train-data {str(data)!r} was not made by 'amrkit data generate'; a zoo entry's "
            "test sets are synthesized like its training data, so train it on synthesized data"
        )
    return config_from_mapping(cfg, where=str(data))


def _read_extra(path: str | Path) -> list[dict[str, Any]]:
    """``--extra FILE``: {"sections": [{"title", "text"?, "table"?: {"columns", "rows"},
    "source"?}]} — card sections measured by other tools (a search's Pareto rank, a
    leave-one-out table), each naming the command that made it."""
    data = read_json(path)
    sections = data.get("sections") if isinstance(data, dict) else None
    if not isinstance(sections, list):
        raise AmrkitError(f"--extra {str(path)!r} must be a JSON object with a 'sections' list")
    for i, sec in enumerate(sections):
        table = sec.get("table") if isinstance(sec, dict) else None
        ok = isinstance(sec, dict) and isinstance(sec.get("title"), str) and sec["title"]
        if table is not None:
            ok = ok and isinstance(table, dict) and isinstance(table.get("columns"), list)
            ok = ok and isinstance(table.get("rows"), list)
        if not ok:
            raise AmrkitError(
                f"--extra {str(path)!r}: section {i} needs a 'title' and optionally 'text', "
                "'source' and 'table': {'columns': [...], 'rows': [[...]]}"
            )
    return sections


def _quantize(stage: Path, ptq: Any, frames: Any, threads: int | None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """INT8 of the staged run (``ptq``: a PTQConfig, or a QATConfig for QAT); keeps
    model_int8.onnx and quantization.json."""
    from amrkit.quant import quantize

    def on_epoch(row: dict[str, Any]) -> None:  # QAT only
        if log is not None:
            log(f"QAT epoch {row['epoch']}: train loss {row['train_loss']:.4f}")

    result = quantize(stage / RUN_DIR, ptq, frames, stage / "quant", threads=threads,
                      on_epoch=on_epoch)  # fmt: skip
    for name in (INT8_FILE, QUANT_FILE):
        shutil.move(str(stage / "quant" / name), str(stage / name))
    shutil.rmtree(stage / "quant")
    return result.details


def _int8_details(qdir: Path, loaded: Any, frames: Any) -> dict[str, Any]:
    """quantization.json of ``--int8 QDIR``, checked: a QAT output of this run (path, spec,
    classes, frame length, weights when recorded) on this training data."""
    where = f"--int8 {str(qdir)!r}"
    for f in (INT8_FILE, QUANT_FILE):
        if not (qdir / f).is_file():
            raise AmrkitError(
                f"{where} lacks {f}; give the --out folder of 'amrkit quantize RUN --qat'"
            )
    details = read_json(qdir / QUANT_FILE)
    if not isinstance(details, dict) or not isinstance(details.get("source_run"), dict):
        raise AmrkitError(f"{where}: {QUANT_FILE} is not 'amrkit quantize' output; quantize again")
    if details.get("mode") != "qat" or details.get("config_type") != "QATConfig":
        raise AmrkitError(
            f"{where} holds a {str(details.get('mode')).upper()} file; --int8 takes 'amrkit "
            "quantize RUN --qat' output (for PTQ drop --int8: zoo add quantizes the run itself)"
        )
    src, run = details["source_run"], loaded
    want = {"path": str(Path(run.path).resolve()), "spec": run.spec.to_dict(),
            "classes": list(run.classes), "frame_length": run.frame_length}  # fmt: skip
    got = {**{k: src.get(k) for k in want}, "path": str(Path(str(src.get("path"))).resolve())}
    if src.get("weights_sha256") is not None:  # recorded by newer 'amrkit quantize'
        from amrkit.artifacts import weights_hash

        want["weights_sha256"] = weights_hash(run.path)
        got["weights_sha256"] = src["weights_sha256"]
    bad = [k for k in want if want[k] != got[k]]
    if bad:
        raise AmrkitError(
            f"{where} was quantized from run {src.get('path')!r}, not {str(run.path)!r} ("
            f"{', '.join(bad)} differ{'s' if len(bad) == 1 else ''}); run 'amrkit quantize "
            f"{run.path} --qat ... --out DIR'"
        )
    _check_int8_data(where, details.get("data") or {}, frames)
    from amrkit.quant import QATConfig

    details["config"] = to_dict(from_dict(QATConfig, details.get("config") or {},
                                          where=f"{where} QAT config"))  # fmt: skip
    _check_int8_file(where, qdir / INT8_FILE, run, details)
    return details


def _check_int8_data(where: str, data: dict[str, Any], frames: Any) -> None:
    """QAT fine-tuned and calibrated on the run's training data (what a rebuild reruns)."""
    keys = ("config_hash", "num_frames", "classes", "frame_length")
    want = {k: frames.identity().get(k) for k in keys}
    got = {k: data.get(k) for k in keys}
    if want != got:
        raise AmrkitError(
            f"{where} was quantized on other data (config hash {got['config_hash']}, "
            f"{got['num_frames']} frames) than --train-data ({want['config_hash']}, "
            f"{want['num_frames']}); quantize the run on its training data"
        )


def _check_int8_file(where: str, path: Path, run: Any, details: dict[str, Any]) -> None:
    """The INT8 file passes the model checks, describes the run's network and is the QAT
    file its quantization.json describes (mode and per-layer bits in its metadata)."""
    from amrkit.artifacts import check_onnx_model, read_model_info

    check_onnx_model(path)
    info = read_model_info(path)
    spec = json.loads(info.metadata.get("amrkit.spec", "null"))
    try:
        quant = json.loads(info.metadata.get("amrkit.quantization", "{}"))
    except ValueError:
        quant = {}
    found = {"precision": info.precision, "classes": list(info.classes),
             "frame_length": info.frame_length, "spec": spec, "mode": quant.get("mode"),
             "layer_bits": quant.get("layer_bits")}  # fmt: skip
    want = {"precision": "int8", "classes": list(run.classes),
            "frame_length": run.frame_length, "spec": run.spec.to_dict(), "mode": "qat",
            "layer_bits": details.get("layer_bits")}  # fmt: skip
    bad = [k for k in want if want[k] != found[k]]
    if bad:
        raise AmrkitError(
            f"{where}: {INT8_FILE}'s {', '.join(bad)} differ from run {str(run.path)!r}'s "
            f"and its {QUANT_FILE}'s; quantize the run again"
        )


def _take_int8(stage: Path, qdir: Path, details: dict[str, Any]) -> dict[str, Any]:
    """``--int8 QDIR``: its INT8 file and quantization.json (checked by
    :func:`_int8_details`), byte for byte."""
    for name in (INT8_FILE, QUANT_FILE):
        shutil.copyfile(qdir / name, stage / name)
    return details


def _model_arg(spec: Any) -> str:
    """What ``--model`` rebuilds the spec from: its registry name, else spec.json."""
    from amrkit.models import get_spec, list_models

    if spec.name in list_models() and get_spec(spec.name, spec.num_classes) == spec:
        return spec.name
    return "{out}/spec.json"


def rebuild_commands(
    name: str,
    spec: Any,
    data_options: dict[str, Any] | None,
    qat: bool = False,
    synth: Any = None,
) -> list[str]:
    """The commands a rebuild runs (``qat``: ``amrkit quantize --qat`` with the card's
    qat.json, then ``zoo add --int8``, instead of the builder's PTQ; ``synth``: the
    SynthData of a ``--synth`` run, retrained with ``amrkit train --synth``)."""
    out = f"rebuild-{name}"
    if synth is not None:
        return _synth_rebuild_commands(name, out, _model_arg(spec).format(out=out), synth, qat)
    flags = "".join(
        f" --{k.replace('_', '-')} {v}"
        for k, v in (data_options or {}).items()
        if v is not None and k in ("format", "classes", "snr_min", "snr_max")
    )
    model = _model_arg(spec).format(out=out)
    add = (
        f"amrkit zoo add {out}/run --name {name} --train-data {out}/data.h5 --config "
        f"{out}/card.json"
    )
    quant = [f"{add} --quant-config {out}/ptq.json --zoo {out}/zoo"]
    if qat:
        quant = [
            f"amrkit quantize {out}/run --data {out}/data.h5 --qat --config {out}/qat.json "
            f"--out {out}/qat{flags}",
            f"{add} --int8 {out}/qat --zoo {out}/zoo",
        ]
    return [
        f"amrkit zoo rebuild {name} --out {out}  # runs:",
        f"amrkit generate {out}/data.h5 --config {out}/data.json",
        f"amrkit train {out}/data.h5 --model {model} --config {out}/train.json --out "
        f"{out}/run{flags}",
        *quant,
    ]


def _synth_rebuild_commands(name: str, out: str, model: str, synth: Any, qat: bool) -> list[str]:
    """A --synth entry's rebuild: ``amrkit train --synth`` with the card's synth.json (and a
    mixture's synth-mix1.json, ...) and the recorded frames per class, synth seed and
    evaluation frames, then ``zoo add``."""
    cfg = synth.config
    files = ",".join([f"{out}/synth.json", *mix_files(out, len(synth.mix))])
    fpc = ",".join(str(c.frames_per_class) for c in synth.configs)
    quant = f"--qat-config {out}/qat.json" if qat else f"--quant-config {out}/ptq.json"
    return [
        f"amrkit zoo rebuild {name} --out {out}  # runs:",
        f"amrkit train --synth {files} --frames-per-class {fpc} "
        f"--synth-seed {cfg.seed} --eval-frames-per-class {synth.eval_frames_per_class} "
        f"--model {model} --config {out}/train.json --out {out}/run",
        f"amrkit zoo add {out}/run --name {name} --config {out}/card.json {quant} --zoo {out}/zoo",
    ]


def mix_files(out: str | Path, n: int) -> list[str]:
    """The config files of a rebuild's further synth sources: ``out/synth-mix1.json``, ..."""
    return [f"{out}/synth-mix{i}.json" for i in range(1, n + 1)]


DATA_KEYS = ("preset", "seed", "frames_per_class", "snr_convention", "channel", "frame_length")


def _data_keys(data_cfg: Any) -> dict[str, Any]:
    """The card's training.data keys every entry has (a --synth run's ``seed`` is its synth
    seed and ``frames_per_class`` per epoch)."""
    from amrkit.data.synth import config_to_json

    return {
        **{k: getattr(data_cfg, k) for k in DATA_KEYS},
        "snrs": list(data_cfg.snrs),
        "config": json.loads(config_to_json(data_cfg)),
    }


def _file_data(frames: Any, data_cfg: Any) -> dict[str, Any]:
    """training.data of a run trained on a file: the generator config, the file's identity."""
    keys = _data_keys(data_cfg)
    config = keys.pop("config")
    return {**keys, "config_hash": frames.source.get("config_hash"), "num_frames": len(frames),
            "config": config}  # fmt: skip


def _synth_data(synth: Any, epochs: int) -> dict[str, Any]:
    """training.data of a --synth run: the synthesizer config, and in ``synth`` what the
    seed means, the frames per epoch and in all, each epoch's seed and the evaluation frames.
    ``config_hash`` identifies the frames (the SynthData and the epochs); ``num_frames``
    counts every frame the run made (training frames of all epochs + validation/test)."""
    from amrkit.config import config_hash
    from amrkit.train.synth import train_seed

    cfg, ev, n_epoch = synth.config, synth.eval_config(), synth.num_frames
    keys = _data_keys(cfg)
    config = keys.pop("config")
    out = {
        **keys,
        "config_hash": config_hash({"synth": synth.to_dict(), "epochs": epochs}),
        "num_frames": epochs * n_epoch + ev.num_frames,
        "config": config,
        "synth": {
            "seed": cfg.seed,
            "seed_is": "the synth seed, not a frame seed: epoch e (0-based) trains on the frames "
            "of seed amrkit.train.synth.train_seed(seed, e), validation and test on eval_seed",
            "frames_per_class_per_epoch": cfg.frames_per_class,
            "frames_per_epoch": n_epoch,
            "epochs": epochs,
            "training_frames": epochs * n_epoch,
            "epoch_seeds": [train_seed(cfg.seed, e) for e in range(epochs)],
            "eval_frames_per_class": synth.eval_frames_per_class,
            "eval_frames": ev.num_frames,
            "eval_seed": ev.seed,
        },
    }
    if synth.mix:  # frames_per_epoch above counts every source
        out["synth"]["mix"] = _synth_mix(synth, epochs)
    return out


def _synth_mix(synth: Any, epochs: int) -> list[dict[str, Any]]:
    """training.data.synth.mix: each further source's preset, frames and epoch seeds."""
    seeds = [synth.epoch_seeds(e) for e in range(epochs)]
    return [
        {
            "source": i + 1,
            "preset": c.preset,
            "frames_per_class_per_epoch": c.frames_per_class,
            "frames_per_epoch": c.num_frames,
            "seed_is": f"epoch e trains on the frames of seed "
            f"amrkit.train.synth.mix_seed(seed, e, {i})",
            "epoch_seeds": [s[i] for s in seeds],
        }
        for i, c in enumerate(synth.mix, 1)
    ]


def _training(run: Any, data: dict[str, Any]) -> dict[str, Any]:
    info = run.info
    metrics_file = run.path / "metrics.json"
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    runtime = info.get("runtime") or {}
    return {
        "data": data,
        "data_options": info.get("data_options"),
        "train_config": info.get("train_config") or {},
        "metrics": {k: metrics.get(k) for k in TRAIN_METRICS},
        "runtime": runtime,
        "machine": runtime.get("cpu") or "not recorded by the run",
        "amrkit_version": info.get("amrkit_version"),
        "amrkit_commit": runtime.get("amrkit_commit") or info.get("amrkit_commit"),
        "teacher": info.get("teacher"),
        "init_from": info.get("init_from"),
        "pruned_from": info.get("pruned_from"),
    }


def _quantization(details: dict[str, Any], synth: Any = None) -> dict[str, Any]:
    cfg = details.get("config", {})
    summary = (
        f"{details.get('mode', 'ptq').upper()} target {details.get('target')}, "
        f"{details.get('weight_bits')}-bit weights, {cfg.get('activation_type')} activations, "
        f"{cfg.get('method')} calibration on {cfg.get('calib_frames')} training frames"
    )
    if details.get("mode") == "qat":
        out = _qat_quantization(details, _quantization_common(details, summary))
    else:
        out = _quantization_common(details, summary)
    if synth is not None:
        out["frames"] = _synth_quant_record(synth, details)
    return out


def _synth_quant_record(synth: Any, details: dict[str, Any]) -> dict[str, Any]:
    """Which frames made a --synth run's INT8 file (:func:`synth_quant_frames`)."""
    train, ev = synth.epoch_config(0), synth.eval_config()
    n_train = synth.num_frames  # every source's
    n_cal, seed = (details.get("calibration") or {}).get("frames"), details["config"].get("seed")
    n_val = (details.get("accuracy") or {}).get("frames")
    qat = " and QAT fine-tuned on all of them" if details.get("mode") == "qat" else ""
    mixed = f", {len(synth.mix)} more source(s) mixed in" if synth.mix else ""
    return {
        "train": {"epoch": 0, "seed": train.seed, "frames": n_train,
                  **({"mix_seeds": list(synth.epoch_seeds(0)[1:])} if synth.mix else {})},
        "validation": {"seed": ev.seed, "frames": n_val},
        "calibration_frames": n_cal,
        "selection_seed": seed,
        "text": f"calibrated on {n_cal} of epoch 0's {n_train:,} training frames "
        f"(synthesizer seed {train.seed}{mixed}), chosen per class with seed {seed}{qat}; INT8 "
        f"accuracy on the run's {n_val} validation frames (seed {ev.seed})",
    }  # fmt: skip


def _quantization_common(details: dict[str, Any], summary: str) -> dict[str, Any]:
    acc = details.get("accuracy", {})
    cfg = details.get("config", {})
    return {
        "config": cfg,
        "summary": summary,
        "target": details.get("target"),
        "weight_bits": details.get("weight_bits"),
        "quantized_layers": details.get("quantized_layers"),
        "val_fp32_pct": None if acc.get("fp32") is None else round(100 * acc["fp32"], 2),
        "val_int8_pct": None if acc.get("int8") is None else round(100 * acc["int8"], 2),
        "val_frames": acc.get("frames"),
        "integer_kernels": details.get("onnxruntime", {}).get("integer_kernels"),
    }


def _qat_quantization(details: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """The card's quantization section of a QAT / mixed-precision file: the PTQ keys, plus
    the mode, each layer's weight bits and the 4-bit layers (two per byte in ``deploy``)."""
    qcfg, bits = details.get("config", {}), details.get("layer_bits") or {}
    low = [n for n, b in bits.items() if b <= 4]
    per_layer = ", ".join(f"{n} {b}" for n, b in bits.items())
    summary = (
        f"QAT target {details.get('target')}, {qcfg.get('epochs')} "
        f"epoch{'' if qcfg.get('epochs') == 1 else 's'} of fine-tuning (lr "
        f"{qcfg.get('lr')}, seed {qcfg.get('seed')}), "
        + ("mixed-precision " if details.get("mixed") else "")
        + f"weight bits {per_layer or details.get('weight_bits')}"
        + (f" (4-bit {', '.join(low)}: two weights per byte in the C library)" if low else "")
        + f", {qcfg.get('activation_type')} activations, {qcfg.get('method')} calibration on "
        f"{qcfg.get('calib_frames')} training frames"
    )
    return {
        **common,
        "mode": "qat",
        "summary": summary,
        "layer_bits": dict(bits),
        "mixed": bool(details.get("mixed")),
        "four_bit_layers": low,
        "parameter_bytes": details.get("bytes"),
        "packed_parameter_bytes": details.get("packed_bytes"),
        "mixed_precision": details.get("mixed_precision"),
    }


def _use(name: str, run: Any, data_cfg: Any, mix: tuple = ()) -> dict[str, Any]:
    """How to use the entry; ``mix``: the further synth sources' configs (their SNRs count)."""
    snrs = sorted({s for c in (data_cfg, *mix) for s in c.snrs})
    span = f"{snrs[0]:g} dB" if len(snrs) == 1 else f"{snrs[0]:g}…{snrs[-1]:g} dB"
    preset = " + ".join(c.preset for c in (data_cfg, *mix))
    return {
        "ref": f"{pretrained.PREFIX}{name}",
        "int8_ref": f"{pretrained.PREFIX}{name}:int8",
        "classes": list(run.classes),
        "frame_length": run.frame_length,
        "sample_rate_hz": run.sample_rate_hz,
        "samples_per_symbol": data_cfg.samples_per_symbol,
        "snr_convention": data_cfg.snr_convention,
        "snr_range": f"{span} ({data_cfg.snr_convention} SNR convention, preset {preset})",
    }


def _check_target(
    name: str, report_group: str | None, zoo_dir: str | Path | None, force: bool
) -> Path:
    """The zoo folder the entry goes to, after checking its name, group and clash."""
    pretrained.check_name(name)
    if report_group not in (None, *REPORT_GROUPS):
        raise AmrkitError(
            f"--report {report_group!r} is not one of {', '.join(REPORT_GROUPS)} or none"
        )
    base = Path(zoo_dir) if zoo_dir is not None else pretrained.root()
    if name in pretrained.names(base) and not force:
        raise AmrkitError(
            f"the zoo at {str(base)!r} already has entry {name!r}; pass --force to replace it "
            "or choose another --name"
        )
    return base


def _int8_file(
    stage: Path, loaded: Any, frames: Any, ptq: Any, int8: str | Path | None,
    given: dict[str, Any] | None, qat: Any, threads: int | None, say: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """The staged entry's INT8 file and quantization.json: a checked QAT folder, QAT run
    here, or PTQ; their details."""
    if given is not None:
        say(f"taking the QAT INT8 file of {str(int8)!r} (checked against the run)")
        return _take_int8(stage, Path(str(int8)), given)
    if qat is not None:
        say(f"quantization-aware training of {str(loaded.path)!r} (QAT epochs {qat.epochs})")
        return _quantize(stage, qat, frames, threads, say)
    say(f"quantizing {str(loaded.path)!r} ({ptq.target})")
    return _quantize(stage, ptq, frames, threads)


def _build_info(started: float, workers: int, threads: int | None) -> dict[str, Any]:
    return {
        "amrkit_version": __version__,
        "amrkit_commit": source_commit(),
        "machine": machine(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": round(time.time() - started, 1),
        "workers": workers,
        "threads": threads,
    }


def _index_record(card: dict[str, Any], loaded: Any) -> dict[str, Any]:
    """The entry's line in index.json: what listing and loading need without the card."""
    name, source = card["name"], card["commands"]["source"]
    return {
        "summary": card["summary"],
        "spec_short": loaded.spec.short(),
        "classes": list(loaded.classes),
        "frame_length": loaded.frame_length,
        "recipe": recipe(card),
        "metrics": headline(card),
        "commands": {"source": list(source),
                     "rebuild": f"amrkit zoo rebuild {name} --out rebuild-{name}"},
        "report_group": card["report_group"],
        "card_schema": SCHEMA,
        "created": card["build"]["created"],
    }  # fmt: skip


def _data_of(loaded: Any, train_data: str | Path | None, int8: str | Path | None,
             card_config: CardConfig) -> tuple[Any, Any, Any, dict[str, Any]]:  # fmt: skip
    """The run's training data, checked (nothing synthesized yet): (SynthData of a --synth
    run or None, the opened --train-data or None, the generator config the card's test sets
    reuse, the card's training.data)."""
    synth = _synth_of(loaded, train_data, int8)
    if synth is not None:
        epochs = _synth_epochs(loaded)
        _check_synth_seeds(synth, epochs, card_config)
        test_configs(synth.config, card_config)
        return synth, None, synth.config, _synth_data(synth, epochs)
    frames = _open_training_data(loaded, train_data)
    try:
        data_cfg = _synth_config(frames, str(train_data))
        test_configs(data_cfg, card_config)  # independent seeds, before any work
    except BaseException:
        frames.close()
        raise
    return None, frames, data_cfg, _file_data(frames, data_cfg)


def _sections(extra: str | Path | None, search: str | Path | None, loaded: Any) -> list:
    sections = _read_extra(extra) if extra is not None else []
    if search is not None:
        from amrkit.search.card import search_section

        sections.append(search_section(search, loaded.spec.short()))
    return sections


def _card(name: str, loaded: Any, data_cfg: Any, data: dict[str, Any],
          details: dict[str, Any], quant_cfg: dict[str, Any], measured: dict[str, Any],
          synth: Any, **kw: Any) -> dict[str, Any]:  # fmt: skip
    """The card, less ``build`` and ``files`` (``kw``: summary, source_commands,
    report_group, sections, card_config)."""
    from amrkit.data.synth import config_to_json

    rebuild = rebuild_commands(name, loaded.spec, loaded.info.get("data_options"),
                               qat="qat" in quant_cfg, synth=synth)  # fmt: skip
    return {
        "schema": SCHEMA,
        "name": name,
        "summary": kw["summary"],
        "use": _use(name, loaded, data_cfg, synth.mix if synth is not None else ()),
        "model": measured["network"],
        "training": _training(loaded, data),
        "quantization": _quantization(details, synth),
        "evaluation": measured["evaluation"],
        "golden": measured["golden"],
        "mcu": measured["mcu"],
        "commands": {
            "source": list(kw["source_commands"]),
            "rebuild": rebuild,
            "configs": {
                "data": json.loads(config_to_json(data_cfg)),
                **_data_mix(synth),
                "train": loaded.info.get("train_config") or {},
                **quant_cfg,
                "card": to_dict(kw["card_config"]),
                "spec": loaded.spec.to_dict(),
            },
        },
        "report_group": kw["report_group"],
        "extra_sections": kw["sections"],
    }


def _data_mix(synth: Any) -> dict[str, Any]:
    """commands.configs' ``data_mix`` (a --synth mixture's further sources' configs), or {}."""
    from amrkit.data.synth import config_to_json

    if synth is None or not synth.mix:
        return {}
    return {"data_mix": [json.loads(config_to_json(c)) for c in synth.mix]}


def add_entry(
    run: str | Path,
    train_data: str | Path | None,
    name: str,
    *,
    card_config: CardConfig = CardConfig(),
    ptq: Any = None,
    int8: str | Path | None = None,
    qat: Any = None,
    summary: str = "",
    source_commands: Iterable[str] = (),
    report_group: str | None = None,
    extra: str | Path | None = None,
    search: str | Path | None = None,
    zoo_dir: str | Path | None = None,
    force: bool = False,
    workers: int = 1,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> pretrained.Entry:
    """Quantize, measure and install ``run`` (trained on ``train_data``) as entry ``name``.

    ``train_data``: the file the run was trained on; None for a ``--synth`` run (its frames
    are synthesized again from run.json's ``synth``; a file is then refused).
    The INT8 file: portable PTQ (``ptq``, default :class:`PTQConfig`), or ``int8``, the
    checked output folder of ``amrkit quantize RUN --qat`` (not for a --synth run), or
    ``qat``, a QATConfig run here. At most one of the three."""
    from amrkit.quant import PTQConfig

    started, say = time.time(), log or (lambda _m: None)
    base = _check_target(name, report_group, zoo_dir, force)
    loaded = load_run(run)
    sections = _sections(extra, search, loaded)
    if sum(x is not None for x in (ptq, int8, qat)) > 1:
        raise AmrkitError(
            "give one of --quant-config (PTQ), --qat-config (QAT here) and --int8 (a QAT "
            "folder), not two"
        )
    ptq = ptq if ptq is not None or int8 is not None or qat is not None else PTQConfig()
    synth, frames, data_cfg, data = _data_of(loaded, train_data, int8, card_config)
    stage: Path | None = None
    try:
        given = _int8_details(Path(int8), loaded, frames) if int8 is not None else None
        if synth is not None:
            say("synthesizing epoch 0's training frames and the run's validation frames")
            frames = synth_quant_frames(synth, workers)
        stage = staging_folder(base / name)
        (stage / RUN_DIR).mkdir()
        for f in RUN_COPY:
            if (loaded.path / f).is_file():
                shutil.copyfile(loaded.path / f, stage / RUN_DIR / f)
        details = _int8_file(stage, loaded, frames, ptq, int8, given, qat, threads, say)
        quant_cfg = {"ptq": to_dict(ptq)} if ptq is not None else {"qat": details["config"]}
        with tempfile.TemporaryDirectory(prefix="amrkit-zoo-") as work:
            measured = measure(stage / RUN_DIR, stage / INT8_FILE, loaded.spec, data_cfg,
                               card_config, Path(work), workers=workers, threads=threads,
                               log=say)  # fmt: skip
        card = _card(
            name, loaded, data_cfg, data, details, quant_cfg, measured, synth, summary=summary,
            source_commands=source_commands, report_group=report_group, sections=sections,
            card_config=card_config,
        )  # fmt: skip
        card["build"] = _build_info(started, workers, threads)
        card["files"] = pretrained.hash_files(stage)
        write_json(stage / CARD_FILE, card)
        entry = pretrained.install_entry(stage, name, _index_record(card, loaded), base, force)
        stage = None
        return entry
    finally:
        if frames is not None:
            frames.close()
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def write_docs(out: str | Path, zoo_dir: str | Path | None = None) -> list[Path]:
    """Every entry's card as ``<out>/<name>.md``, the list as ``<out>/README.md`` and the
    figure ``<out>/pareto.png``; pages of entries no longer in the zoo (generated ones only)
    are removed."""
    from amrkit.fileio import write_text
    from amrkit.zoo.cards import render_index, render_markdown
    from amrkit.zoo.check import load_card
    from amrkit.zoo.figure import write_zoo_figure

    out = Path(out)
    cards = [load_card(e, zoo_dir) for e in pretrained.entries(zoo_dir)]
    written = [write_text(out / "README.md", render_index(cards))]
    for card in cards:
        written.append(write_text(out / f"{card['name']}.md", render_markdown(card)))
    written.append(write_zoo_figure(out, cards))
    keep = {p.name for p in written}
    for page in out.glob("*.md"):
        if page.name not in keep and "generated by 'amrkit zoo docs'" in page.read_text():
            page.unlink()
    return written
