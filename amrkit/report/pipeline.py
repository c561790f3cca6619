"""``amrkit reproduce``: the paper's study from one command.

Stages (each cached by a hash of its config under ``<out>/stages/``): generate the main
dataset and an independent SNR-sweep test set → for every protocol, model and seed: train →
PTQ → evaluate FP32 and INT8 → Fig. 5 (the last model trained, quantized and tested at each
SNR, per protocol) → the integer-only golden model against ONNX Runtime → latency →
``results.json``, ``report.md``, ``report.html`` and ``figures/``.

The stages are listed once without running (``StageCache(plan=True)``) so the progress bar
knows the whole run, then run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amrkit import __version__
from amrkit.config import to_dict
from amrkit.errors import AmrkitError
from amrkit.fileio import json_safe, write_json, write_text
from amrkit.report import costs
from amrkit.report.config import Protocol, ReproduceConfig
from amrkit.report.stages import StageCache, StageRecord

RESULTS_FILE = "results.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"

# seeds of the independent data sets, offset from the study's seed
SWEEP_SEED_OFFSET = 1000
FIG5_SEED_OFFSET = 2000


@dataclass
class ModelRun:
    """The stages of one (protocol, model, seed)."""

    train: StageRecord
    ptq: StageRecord
    eval: StageRecord


@dataclass
class Study:
    """Every stage record the report is assembled from."""

    cfg: ReproduceConfig
    specs: dict[str, Any]
    data: dict[str, StageRecord] = field(default_factory=dict)
    runs: dict[tuple[str, str, int], ModelRun] = field(default_factory=dict)
    fig5: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # protocol → points
    golden: dict[str, StageRecord] = field(default_factory=dict)  # protocol → golden stage
    bench: dict[str, StageRecord] = field(default_factory=dict)  # model → latency stage
    mcu: dict[str, StageRecord] = field(default_factory=dict)  # model → Cortex-M stage
    search: StageRecord | None = None  # "Beyond the paper" (None: search_trials 0)
    pretrained: dict[str, StageRecord] = field(default_factory=dict)  # zoo entry → eval stage
    pretrained_skipped: list[dict[str, str]] = field(default_factory=list)


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


def ptq_config(cfg: ReproduceConfig) -> Any:
    """The PTQ of the study: the default target (portable), calibrated with the data seed."""
    from amrkit.quant import PTQConfig

    return PTQConfig(calib_frames=cfg.calib_frames, seed=cfg.seed)


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


def _train(
    data: Path, spec: Any, cfg: ReproduceConfig, tcfg: Any, init_from: Path | None = None
) -> Callable:
    """Train ``spec`` on ``data``; ``init_from``: a run folder whose weights start the training
    (fine-tuning) instead of the config's initialization."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.artifacts import load_run
        from amrkit.train.runner import train_model

        run_dir = work / "run"
        resume = (run_dir / "run.json").is_file() and (run_dir / "checkpoint.pt").is_file()
        init = None if init_from is None else load_run(init_from).model.state_dict()
        metrics = train_model(
            data,
            spec,
            run_dir,
            tcfg,
            given=set() if resume else None,
            resume=resume,
            force=not resume,
            device=cfg.device,
            threads=cfg.threads,
            progress=False,  # the run's own bar shows progress (one live display at a time)
            init_weights=init,
        )
        return {
            "run": "run",
            "best_epoch": metrics.get("best_epoch"),
            "val_accuracy": metrics.get("best_val_accuracy"),
            "test_accuracy": metrics.get("test_accuracy"),
            "train_frames_per_s": metrics.get("train_frames_per_s"),
            "device": metrics.get("device"),
        }

    return run


def _ptq(run_dir: Path, data: Path, cfg: ReproduceConfig) -> Callable[[Path], dict[str, Any]]:
    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.open import open_frames
        from amrkit.quant import quantize

        with open_frames(data) as frames:
            quantize(run_dir, ptq_config(cfg), frames, work / "ptq", plot=True, threads=cfg.threads)
        return {"dir": "ptq", "int8": "ptq/model_int8.onnx", "fp32": "ptq/model_fp32.onnx"}

    return run


def _evaluate(
    artifacts: dict[str, Path], tests: dict[str, tuple[Path, str]], cfg: ReproduceConfig
) -> Callable[[Path], dict[str, Any]]:
    """Reports of every artifact on every (data file, split)."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.open import open_frames
        from amrkit.infer import load_predictor
        from amrkit.metrics.evaluate import evaluate_predictor

        out: dict[str, Any] = {}
        for label, path in artifacts.items():
            onnx = Path(path).suffix == ".onnx" or str(path).endswith(":int8")  # zoo:NAME:int8
            device = "cpu" if onnx else cfg.device
            pred = load_predictor(path, device=device, threads=cfg.threads)
            out[label] = {}
            for test, (data, split) in tests.items():
                with open_frames(data) as frames:
                    rep = evaluate_predictor(pred, frames, split=split)
                rep.pop("data", None)
                out[label][test] = rep
        return out

    return run


def _golden(int8: Path, data: Path, cfg: ReproduceConfig) -> Callable[[Path], dict[str, Any]]:
    """The integer-only golden model against ONNX Runtime on the test split."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.data.open import open_frames
        from amrkit.golden import simulate

        with open_frames(data) as frames:
            res = simulate(
                int8, frames, split="test", max_frames=cfg.golden_frames, threads=cfg.threads
            )
        keep = (
            "frames",
            "accuracy",
            "ort_accuracy",
            "top1_agreement",
            "disagreements",
            "output_max_lsb",
            "activation_max_lsb",
            "bit_exact",
            "runtime",
        )
        return {k: res[k] for k in keep if k in res}

    return run


def _bench(run_dir: Path, fp32: Path, int8: Path, cfg: ReproduceConfig) -> Callable:
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


def _search(data: Path, scfg: Any) -> Callable[[Path], dict[str, Any]]:
    """amrkit search on the main data into ``search/``; keeps pareto.json's trials and
    points (paths relative to the stage folder; pareto.json's own are the run's)."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.search import run_search

        res = run_search(scfg, data, work / "search", progress=False)
        keep = ("trial", "spec", "macs", "learnables", "int8_bytes", "latency_us")
        acc = ("proxy_accuracy", "fp32_test_accuracy", "int8_val_accuracy", "int8_test_accuracy")
        points = [
            {**{k: p.get(k) for k in keep + acc}, "golden": p.get("golden")} for p in res.pareto
        ]
        trials = [
            {k: t.get(k) for k in ("number", "state", "spec", "macs", "int8_bytes", "accuracy")}
            for t in res.trials
        ]
        return {
            "config": scfg.to_dict(),
            "pareto_json": "search/pareto.json",
            "png": "search/pareto.png",
            "trials": trials,
            "pareto": points,
        }

    return run


# ---- the stages of the study --------------------------------------------------------------
class _Stager:
    """Names, configs and cost estimates of the stages, over one StageCache."""

    def __init__(self, cfg: ReproduceConfig, specs: dict[str, Any], cache: StageCache):
        self.cfg, self.specs, self.cache = cfg, specs, cache
        self.slugs = _slugs(cfg.models)
        self.sizes: dict[str, int] = {}  # data stage key → frames

    def stage(self, name: str, config: dict, fn: Callable, cost: float) -> StageRecord:
        return self.cache.run(name, {"amrkit": __version__, **config}, fn, cost)

    def data(self, name: str, syn: Any) -> StageRecord:
        frames = syn.frames_per_class * len(syn.classes)
        rec = self.stage(
            name, to_dict(syn), _generate(syn, self.cfg.workers), costs.generate(frames)
        )
        self.sizes[rec.key] = frames
        return rec

    def model(
        self,
        tag: str,
        data: StageRecord,
        spec: Any,
        tcfg: Any,
        tests: dict[str, tuple[StageRecord, str]],
        init_from: StageRecord | None = None,
    ) -> ModelRun:
        """Train (from ``init_from``'s weights when given), quantize and evaluate one model."""
        cfg, h5 = self.cfg, data.path / "frames.h5"
        frames = self._frames(data)
        init = None if init_from is None else init_from.path / "run"
        tr = self.stage(
            f"train-{tag}",
            {
                "data": data.key,
                "spec": spec.to_dict(),
                "train": to_dict(tcfg),
                **({} if init_from is None else {"init_from": init_from.key}),
            },
            _train(h5, spec, cfg, tcfg, init),
            costs.train(spec, frames, tcfg.epochs, cfg.device, tcfg.crop),
        )
        run_dir = tr.path / "run"
        pq = self.stage(
            f"ptq-{tag}",
            {"train": tr.key, "ptq": to_dict(ptq_config(cfg))},
            _ptq(run_dir, h5, cfg),
            costs.ptq(spec, cfg.calib_frames),
        )
        int8 = pq.path / "ptq" / "model_int8.onnx"
        ev = self.stage(
            f"eval-{tag}",
            {
                "train": tr.key,
                "ptq": pq.key,
                "tests": {k: (d.key, s) for k, (d, s) in tests.items()},
            },
            _evaluate(
                {"fp32": run_dir, "int8": int8},
                {k: (d.path / "frames.h5", s) for k, (d, s) in tests.items()},
                cfg,
            ),
            costs.evaluate(spec, sum(self._frames(d, s) for d, s in tests.values())),
        )
        return ModelRun(tr, pq, ev)

    def _frames(self, data: StageRecord, split: str = "all") -> int:
        """Frames of a data stage (from its config when planning): ``split`` test ≈ 10 %."""
        n = self.sizes.get(data.key, 0)
        return n if split == "all" else max(1, n // 10)


def _data_stages(st: _Stager, study: Study) -> None:
    cfg = st.cfg
    main = _synth(cfg, (cfg.snr_db,), cfg.frames_per_class, cfg.seed)
    n_sweep = cfg.sweep_frames_per_snr * len(cfg.sweep_snrs)
    sweep = _synth(cfg, cfg.sweep_snrs, n_sweep, cfg.seed + SWEEP_SEED_OFFSET)
    for key, syn in (("main", main), ("sweep", sweep)):
        study.data[key] = st.data(f"data-{key}", syn)


def _main_stages(st: _Stager, study: Study, proto: Protocol) -> None:
    tests = {"test": (study.data["main"], "test"), "sweep": (study.data["sweep"], "all")}
    for name, spec in st.specs.items():
        for seed in st.cfg.seeds:
            tag = f"{proto.name}-{st.slugs[name]}-s{seed}"
            tcfg = proto.train_config(seed)
            study.runs[(proto.name, name, seed)] = st.model(
                tag, study.data["main"], spec, tcfg, tests
            )


def _fig5_stages(st: _Stager, study: Study, proto: Protocol) -> None:
    """The last model trained, quantized and tested at each Fig. 5 SNR (first seed)."""
    cfg = st.cfg
    target, seed = cfg.models[-1], cfg.seed
    points = []
    for i, snr in enumerate(cfg.fig5_snrs):
        if snr == cfg.snr_db:  # Table III's model (with less data or epochs, still the one
            m = study.runs[(proto.name, target, seed)]  # the report shows at this SNR)
            points.append({"snr_db": snr, "eval": m.eval, "seed": cfg.seed, "reused": True})
            continue
        syn = _synth(cfg, (snr,), cfg.fig5_frames, cfg.seed + FIG5_SEED_OFFSET + i)
        data = st.data(f"fig5-data-{snr:g}dB", syn)
        tcfg = proto.train_config(seed, cfg.fig5_epochs)
        tag = f"fig5-{proto.name}-{snr:g}dB"
        main = study.runs[(proto.name, target, seed)].train if cfg.fig5_finetune else None
        m = st.model(tag, data, st.specs[target], tcfg, {"test": (data, "test")}, main)
        points.append({"snr_db": snr, "eval": m.eval, "seed": syn.seed, "reused": False})
    study.fig5[proto.name] = points


def _pretrained_stages(st: _Stager, study: Study) -> None:
    """The shipped pretrained models on this run's test split and sweep (quick runs; --full
    trains the same networks at the paper's scale itself)."""
    from amrkit.report.pretrained import candidates, spec_of

    cfg = st.cfg
    if not cfg.quick:
        return
    main = _synth(cfg, (cfg.snr_db,), cfg.frames_per_class, cfg.seed)
    shown, study.pretrained_skipped = candidates(tuple(main.classes), main.frame_length)
    tests = {"test": (study.data["main"], "test"), "sweep": (study.data["sweep"], "all")}
    frames = sum(st._frames(d, s) for d, s in tests.values())
    for e in shown:
        ref = f"zoo:{e.name}"
        study.pretrained[e.name] = st.stage(
            f"pretrained-{e.name}",
            {"entry": e.name, "files": {k: v["sha256"] for k, v in e.files.items()},
             "tests": {k: (d.key, s) for k, (d, s) in tests.items()}},
            _evaluate({"fp32": ref, "int8": f"{ref}:int8"},
                      {k: (d.path / "frames.h5", s) for k, (d, s) in tests.items()}, cfg),
            costs.evaluate(spec_of(e), frames),
        )  # fmt: skip


def _golden_and_bench(st: _Stager, study: Study) -> None:
    cfg = st.cfg
    target, seed = cfg.models[-1], cfg.seed
    main_h5 = study.data["main"].path / "frames.h5"
    if cfg.golden_frames > 0:
        for proto in cfg.protocols:
            m = study.runs[(proto.name, target, seed)]
            study.golden[proto.name] = st.stage(
                f"golden-{proto.name}-{st.slugs[target]}",
                {"ptq": m.ptq.key, "frames": cfg.golden_frames},
                _golden(m.ptq.path / "ptq" / "model_int8.onnx", main_h5, cfg),
                costs.golden(st.specs[target], cfg.golden_frames),
            )
    proto = cfg.protocols[-1]  # speed does not depend on the weights: one protocol
    for name in cfg.models:
        m = study.runs[(proto.name, name, seed)]
        pq = m.ptq.path / "ptq"
        study.bench[name] = st.stage(
            f"bench-{st.slugs[name]}",
            {"ptq": m.ptq.key, "threads": cfg.threads, "min_time": cfg.bench_min_time},
            _bench(m.train.path / "run", pq / "model_fp32.onnx", pq / "model_int8.onnx", cfg),
            costs.bench(cfg.bench_min_time),
        )


def _mcu(int8: Path) -> Callable[[Path], dict[str, Any]]:
    """Flash, RAM and instructions per frame of the generated C library on a Cortex-M4."""

    def run(work: Path) -> dict[str, Any]:
        from amrkit.deploy import mcu_report

        return mcu_report(int8, work / "c")

    return run


def _mcu_stages(st: _Stager, study: Study) -> None:
    cfg = st.cfg
    if not cfg.mcu:
        return
    proto = cfg.protocols[-1]  # the cost does not depend on the weights' values
    for name in cfg.models:
        m = study.runs[(proto.name, name, cfg.seed)]
        study.mcu[name] = st.stage(
            f"mcu-{st.slugs[name]}",
            {"ptq": m.ptq.key},
            _mcu(m.ptq.path / "ptq" / "model_int8.onnx"),
            costs.mcu(st.specs[name]),
        )


def _search_stage(st: _Stager, study: Study) -> None:
    """Beyond the paper: an architecture search on the main data (first seed)."""
    cfg = st.cfg
    if cfg.search_trials < 1:
        return
    scfg = cfg.search_config()
    data = study.data["main"]
    classes = next(iter(st.specs.values())).num_classes
    key = {k: v for k, v in scfg.to_dict().items() if k != "threads"}  # same result
    study.search = st.stage(
        "search",
        {"data": data.key, "search": key},
        _search(data.path / "frames.h5", scfg),
        costs.search(scfg, classes, int(0.8 * st._frames(data))),
    )


def run_stages(cfg: ReproduceConfig, specs: dict[str, Any], cache: StageCache) -> Study:
    st = _Stager(cfg, specs, cache)
    study = Study(cfg, specs)
    _data_stages(st, study)
    for proto in cfg.protocols:
        _main_stages(st, study, proto)
    _pretrained_stages(st, study)
    for proto in cfg.protocols:
        _fig5_stages(st, study, proto)
    _golden_and_bench(st, study)
    _mcu_stages(st, study)
    _search_stage(st, study)
    return study


# ---- the command --------------------------------------------------------------------------
def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise AmrkitError(f"--out {str(out)!r} is a file; give a folder for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AmrkitError(f"cannot create --out {str(out)!r} ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise AmrkitError(f"--out {str(out)!r} is not writable; choose another folder")


def _resolve_device(device: str) -> str:
    """``auto`` becomes the device it means here (cpu or cuda), so stage keys, cost
    estimates and the report's prose name what ran."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AmrkitError(
            f"--device {device}: no CUDA device is available to torch; use --device cpu or auto"
        )
    return device


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

    from amrkit.report.progress import RunProgress

    specs = _resolve_models(cfg)
    cfg = dataclasses.replace(cfg, device=_resolve_device(cfg.device))
    out = Path(out)
    _check_out(out)
    torch.set_num_threads(cfg.threads)
    started = time.time()
    planner = StageCache(out, force=force, plan=True)
    run_stages(cfg, specs, planner)
    bar = RunProgress(planner.planned, log, enabled=progress)
    cache = StageCache(out, force=force, log=log, hooks=bar)
    with bar:
        study = run_stages(cfg, specs, cache)
    return write_report(study, out, cache.records, started, log)


def write_report(
    study: Study, out: Path, records: list[StageRecord], started: float, log: Callable
) -> dict[str, Any]:
    from amrkit.report.document import to_html, to_markdown
    from amrkit.report.figures import draw_figures
    from amrkit.report.results import assemble
    from amrkit.report.sections import render

    results = json_safe(assemble(study, out, records, started))
    draw_figures(results, out, study)
    blocks = render(results)
    write_json(out / RESULTS_FILE, results)
    write_text(out / REPORT_MD, to_markdown(blocks))
    write_text(out / REPORT_HTML, to_html(blocks, "amrkit reproduce report", out))
    log(f"wrote {out / REPORT_MD}, {out / REPORT_HTML}, {out / RESULTS_FILE}")
    return results
