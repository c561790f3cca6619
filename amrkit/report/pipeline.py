"""``amrkit reproduce``: the paper's study from one command.

Stages (each cached by a hash of its config under ``<out>/stages/``): generate the 30 dB
dataset and an independent SNR-sweep test set → train every model → PTQ → evaluate FP32 and
INT8 → Fig. 5 (train + quantize + test at each SNR) → latency → ``results.json``,
``report.md``, ``report.html`` and ``figures/``.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amrkit import __version__
from amrkit.config import to_dict
from amrkit.errors import AmrkitError
from amrkit.fileio import json_safe, write_json, write_text
from amrkit.report.config import ReproduceConfig
from amrkit.report.stages import StageCache, StageRecord

RESULTS_FILE = "results.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"

# seeds of the independent data sets, offset from the study's seed
SWEEP_SEED_OFFSET = 1000
FIG5_SEED_OFFSET = 2000


def _slugs(names: tuple[str, ...]) -> dict[str, str]:
    """File-name-safe, unique stage names for the --models entries."""
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem if "/" in name else name)[-40:]
        out[name] = slug if slug not in out.values() else f"{slug}-{i + 1}"
    return out


def _resolve_models(cfg: ReproduceConfig) -> dict[str, Any]:
    """Each --models entry → CNNSpec (11 classes); bad entries fail before any work."""
    from amrkit.models import get_spec
    from amrkit.signals.catalog import CLASSES

    specs = {}
    for name in cfg.models:
        try:
            specs[name] = get_spec(name, num_classes=len(CLASSES))
        except AmrkitError as exc:
            raise AmrkitError(f"--models entry {name!r}: {exc}") from None
    return specs


def _synth(cfg: ReproduceConfig, snrs: tuple[float, ...], frames_per_class: int, seed: int):
    from amrkit.data.synth import preset_config

    return preset_config(
        "matlab",
        frames_per_class=frames_per_class,
        snrs=snrs,
        snr_convention=cfg.snr_convention,
        seed=seed,
    )


# ---- stage bodies -----------------------------------------------------------------------
def _generate(synth_cfg: Any, workers: int) -> Callable[[Path], dict[str, Any]]:
    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.synth import synthesize

        summary = synthesize(synth_cfg, work / "frames.h5", workers=workers)
        return {
            "file": "frames.h5",
            "frames": summary["frames"],
            "frames_per_s": summary["frames_per_s"],
            "seed": synth_cfg.seed,
            "frame_length": synth_cfg.frame_length,
        }

    return run


def _train_config(cfg: ReproduceConfig, epochs: int) -> Any:
    from amrkit.train.config import TrainConfig

    return TrainConfig(
        epochs=epochs,
        lr_drop_epoch=cfg.drop_epoch(epochs),
        augment=cfg.augment,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
    )


def _ptq_config(cfg: ReproduceConfig) -> Any:
    from amrkit.quant import PTQConfig

    return PTQConfig(calib_frames=cfg.calib_frames, seed=cfg.seed)


def _train(
    data: Path, spec: Any, cfg: ReproduceConfig, tcfg: Any, progress: bool
) -> Callable[[Path], dict[str, Any]]:
    def run(work: Path) -> dict[str, Any]:
        from amrkit.train.runner import train_model

        run_dir = work / "run"
        resume = (run_dir / "run.json").is_file() and (run_dir / "checkpoint.pt").is_file()
        metrics = train_model(
            data,
            spec,
            run_dir,
            tcfg,
            given=set() if resume else None,
            resume=resume,
            force=not resume,
            device="cpu",
            threads=cfg.threads,
            progress=progress,
        )
        return {
            "run": "run",
            "best_epoch": metrics.get("best_epoch"),
            "val_accuracy": metrics.get("best_val_accuracy"),
            "test_accuracy": metrics.get("test_accuracy"),
            "train_frames_per_s": metrics.get("train_frames_per_s"),
        }

    return run


def _ptq(run_dir: Path, data: Path, cfg: ReproduceConfig) -> Callable[[Path], dict[str, Any]]:
    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.open import open_frames
        from amrkit.quant import quantize

        with open_frames(data) as frames:
            quantize(
                run_dir,
                _ptq_config(cfg),
                frames,
                work / "ptq",
                plot=True,
                threads=cfg.threads,
            )
        return {"dir": "ptq", "int8": "ptq/model_int8.onnx", "fp32": "ptq/model_fp32.onnx"}

    return run


def _evaluate(
    artifacts: dict[str, Path], tests: dict[str, tuple[Path, str]], threads: int
) -> Callable[[Path], dict[str, Any]]:
    """Reports of every artifact on every (data file, split)."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.open import open_frames
        from amrkit.infer import load_predictor
        from amrkit.metrics.evaluate import evaluate_predictor

        out: dict[str, Any] = {}
        for label, path in artifacts.items():
            pred = load_predictor(path, threads=threads)
            out[label] = {}
            for test, (data, split) in tests.items():
                with open_frames(data) as frames:
                    rep = evaluate_predictor(pred, frames, split=split)
                rep.pop("data", None)
                out[label][test] = rep
        return out

    return run


def _bench(
    run_dir: Path, fp32: Path, int8: Path, cfg: ReproduceConfig
) -> Callable[[Path], dict[str, Any]]:
    def run(work: Path) -> dict[str, Any]:
        from amrkit.artifacts import load_run
        from amrkit.metrics.speed import time_artifacts

        loaded = load_run(run_dir)
        rows = time_artifacts(
            loaded.model,
            {"ORT FP32": fp32, "ORT INT8": int8},
            loaded.frame_length,
            batches=(1, 256),
            threads=cfg.threads,
            min_time=cfg.bench_min_time,
        )
        return {"rows": rows, "threads": cfg.threads, "load_avg_1m": os.getloadavg()[0]}

    return run


# ---- the pipeline -----------------------------------------------------------------------
def machine_info(threads: int) -> dict[str, Any]:
    import numpy
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "threads": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
    }


def reproduce(
    cfg: ReproduceConfig,
    out: str | Path,
    *,
    force: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the study into ``out``; returns the content of ``results.json``."""
    import torch

    specs = _resolve_models(cfg)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AmrkitError(f"--out {str(out)!r} is a file; give a folder for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AmrkitError(f"cannot create --out {str(out)!r} ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise AmrkitError(f"--out {str(out)!r} is not writable; choose another folder")
    torch.set_num_threads(cfg.threads)
    started = time.time()
    cache = StageCache(out, force=force, log=log)

    def stage(name: str, config: dict[str, Any], fn: Callable[[Path], dict]) -> StageRecord:
        return cache.run(name, {"amrkit": __version__, **config}, fn)

    # data
    main_synth = _synth(cfg, (cfg.snr_db,), cfg.frames_per_class, cfg.seed)
    sweep_synth = _synth(
        cfg,
        cfg.sweep_snrs,
        cfg.sweep_frames_per_snr * len(cfg.sweep_snrs),
        cfg.seed + SWEEP_SEED_OFFSET,
    )
    data_main = stage("data-main", to_dict(main_synth), _generate(main_synth, cfg.workers))
    data_sweep = stage("data-sweep", to_dict(sweep_synth), _generate(sweep_synth, cfg.workers))
    main_h5 = data_main.path / "frames.h5"
    sweep_h5 = data_sweep.path / "frames.h5"

    # models at the main SNR
    per_model: dict[str, dict[str, Any]] = {}
    slugs = _slugs(cfg.models)
    for name, spec in specs.items():
        slug = slugs[name]
        tcfg = _train_config(cfg, cfg.epochs)
        tr = stage(
            f"train-{slug}",
            {"data": data_main.key, "spec": spec.to_dict(), "train": to_dict(tcfg)},
            _train(main_h5, spec, cfg, tcfg, progress),
        )
        run_dir = tr.path / "run"
        pq = stage(
            f"ptq-{slug}",
            {"train": tr.key, "ptq": to_dict(_ptq_config(cfg))},
            _ptq(run_dir, main_h5, cfg),
        )
        int8 = pq.path / "ptq" / "model_int8.onnx"
        ev = stage(
            f"eval-{slug}",
            {"train": tr.key, "ptq": pq.key, "sweep": data_sweep.key},
            _evaluate(
                {"fp32": run_dir, "int8": int8},
                {"test": (main_h5, "test"), "sweep": (sweep_h5, "all")},
                cfg.threads,
            ),
        )
        per_model[name] = {"spec": spec, "train": tr, "ptq": pq, "eval": ev}

    # Fig. 5: the last model, trained, quantized and tested at each SNR
    target = cfg.models[-1]
    tspec = specs[target]
    fig5: list[dict[str, Any]] = []
    for i, snr in enumerate(cfg.fig5_snrs):
        if (
            snr == cfg.snr_db
            and cfg.fig5_frames_per_class == cfg.frames_per_class
            and cfg.fig5_epochs == cfg.epochs
        ):  # the same study as the main target model: reuse it
            m = per_model[target]
            ev, pq = m["eval"], m["ptq"]
            fig5.append({"snr_db": snr, "eval": ev, "ptq": pq, "seed": cfg.seed})
            continue
        seed = cfg.seed + FIG5_SEED_OFFSET + i
        syn = _synth(cfg, (snr,), cfg.fig5_frames_per_class, seed)
        tag = f"{snr:g}dB"
        d = stage(f"fig5-data-{tag}", to_dict(syn), _generate(syn, cfg.workers))
        h5 = d.path / "frames.h5"
        tcfg = _train_config(cfg, cfg.fig5_epochs)
        tr = stage(
            f"fig5-train-{tag}",
            {"data": d.key, "spec": tspec.to_dict(), "train": to_dict(tcfg)},
            _train(h5, tspec, cfg, tcfg, progress),
        )
        pq = stage(
            f"fig5-ptq-{tag}",
            {"train": tr.key, "ptq": to_dict(_ptq_config(cfg))},
            _ptq(tr.path / "run", h5, cfg),
        )
        ev = stage(
            f"fig5-eval-{tag}",
            {"train": tr.key, "ptq": pq.key},
            _evaluate(
                {"fp32": tr.path / "run", "int8": pq.path / "ptq" / "model_int8.onnx"},
                {"test": (h5, "test")},
                cfg.threads,
            ),
        )
        fig5.append({"snr_db": snr, "eval": ev, "ptq": pq, "seed": seed})

    # latency of every model's three artifacts
    bench: dict[str, StageRecord] = {}
    for name, m in per_model.items():
        pq_dir = m["ptq"].path / "ptq"
        bench[name] = stage(
            f"bench-{slugs[name]}",
            {"ptq": m["ptq"].key, "threads": cfg.threads, "min_time": cfg.bench_min_time},
            _bench(
                m["train"].path / "run", pq_dir / "model_fp32.onnx", pq_dir / "model_int8.onnx", cfg
            ),
        )

    from amrkit.report.build import assemble, render

    results = assemble(
        cfg,
        out,
        per_model=per_model,
        fig5=fig5,
        bench=bench,
        data={"main": data_main, "sweep": data_sweep},
        stages=cache.records,
        machine=machine_info(cfg.threads),
        started=started,
    )
    results = json_safe(results)
    blocks = render(results, out, per_model[target]["ptq"].path / "ptq" / "quantization.png")
    from amrkit.report.document import to_html, to_markdown

    write_json(out / RESULTS_FILE, results)
    write_text(out / REPORT_MD, to_markdown(blocks))
    write_text(out / REPORT_HTML, to_html(blocks, "amrkit reproduce report", out))
    log(f"wrote {out / REPORT_MD}, {out / REPORT_HTML}, {out / RESULTS_FILE}")
    return results
