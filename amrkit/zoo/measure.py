"""What a model card measures, on test sets the card builder synthesizes itself.

The training data's synthesizer config (``SynthConfig``, stored in its file) is reused with
another seed, so the test frames come from the same generator as the training frames but
are independent of them: a test set at one SNR (``test_snr_db``; accuracy overall and per
class) and a sweep over −10…30 dB (accuracy per SNR), each for the FP32 run and its INT8
file; the golden model against ONNX Runtime on test frames; the network's size; the INT8
file's Cortex-M cost when the toolchain is installed (with 4-bit layers packed two weights
per byte, as ``amrkit deploy`` stores them, and the unpacked flash beside it). Every number
is measured here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

SWEEP_SNRS = tuple(float(s) for s in range(-10, 31, 2))
MCU_KEYS = (
    "cpu",
    "variant",
    "flash_bytes",
    "ram_bytes",
    "stack_bytes",
    "arena_bytes",
    "instructions_per_frame",
    "instructions_per_mac",
    "bit_exact",
    "frames",
)


@dataclass(frozen=True)
class CardConfig:
    """How a card measures its entry (stored in the card; a rebuild measures the same way).

    ``test_seed`` seeds the test set at ``test_snr_db``, ``test_seed + 1`` the SNR sweep;
    both must differ from the training data's seed.
    """

    test_frames_per_class: int = 1000  # 11 classes: 11,000 frames at 30 dB
    test_snr_db: float = 30.0
    test_seed: int = 777
    sweep_snrs: tuple[float, ...] = SWEEP_SNRS
    sweep_frames_per_snr: int = 100  # per class and SNR
    golden_frames: int = 1024  # test frames the golden model recomputes (0: none)
    mcu: bool = True  # Cortex-M cost, when the arm-none-eabi toolchain and QEMU are installed

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweep_snrs", tuple(float(s) for s in self.sweep_snrs))
        checks = (
            (self.test_frames_per_class >= 1, "--test-frames-per-class must be >= 1"),
            (self.sweep_frames_per_snr >= 1, "--sweep-frames-per-snr must be >= 1"),
            (self.golden_frames >= 0, "--golden-frames must be >= 0 (0: no golden check)"),
            (0 <= self.test_seed < 2**62, "--test-seed must be an integer in [0, 2**62)"),
            (math.isfinite(self.test_snr_db), "--test-snr must be a finite number of dB"),
            (len(self.sweep_snrs) >= 1, "--sweep-snrs is empty; give e.g. -10:30:2"),
            (all(math.isfinite(s) for s in self.sweep_snrs), "--sweep-snrs must be finite dB"),
        )
        for ok, message in checks:
            if not ok:
                raise AmrkitError(message)

    @property
    def sweep_seed(self) -> int:
        return self.test_seed + 1


def test_configs(data: Any, cfg: CardConfig) -> tuple[Any, Any]:
    """The SynthConfigs of the test set and the sweep: the training data's, with the card's
    seeds, sizes and SNRs. Refuses seeds that would repeat the training frames."""
    if data.seed in (cfg.test_seed, cfg.sweep_seed):
        raise AmrkitError(
            f"--test-seed {cfg.test_seed} (sweep: {cfg.sweep_seed}) repeats the training data's "
            f"seed {data.seed}; choose another so the test frames are independent"
        )
    test = dataclasses.replace(
        data, seed=cfg.test_seed, frames_per_class=cfg.test_frames_per_class,
        snrs=(cfg.test_snr_db,),
    )  # fmt: skip
    sweep = dataclasses.replace(
        data, seed=cfg.sweep_seed, snrs=cfg.sweep_snrs,
        frames_per_class=cfg.sweep_frames_per_snr * len(cfg.sweep_snrs),
    )  # fmt: skip
    return test, sweep


def synth_frames(cfg: Any, workers: int = 1) -> Any:
    """A synthesized data set in memory as a FrameSet (every frame: split ``all``)."""
    from amrkit.data.frames import array_frameset
    from amrkit.data.synth import config_to_json, synthesize_arrays

    arrays = synthesize_arrays(cfg, workers=workers)
    digest = hashlib.sha256(config_to_json(cfg).encode()).hexdigest()[:16]
    return array_frameset(
        arrays["iq"], arrays["label"], cfg.classes, arrays["snr_db"], arrays["split"],
        sample_rate_hz=cfg.sample_rate_hz, samples_per_symbol=cfg.samples_per_symbol,
        snr_convention=cfg.snr_convention,
        source={"format": "synth", "config_hash": digest, "seed": cfg.seed},
    )  # fmt: skip


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100.0 * float(x), 2)


def accuracy(report: dict[str, Any]) -> dict[str, Any]:
    """What a card keeps of an accuracy report: exact counts, percentages per SNR and class."""
    return {
        "frames": int(report["num_frames"]),
        "correct": int(report["correct"]),
        "accuracy_pct": _pct(report["accuracy"]),
        "per_class_pct": {c: _pct(v["accuracy"]) for c, v in report["per_class"].items()},
        "per_snr_pct": {k: _pct(v["accuracy"]) for k, v in report["per_snr"].items()},
    }


def evaluate_pair(run_dir: Path, int8: Path, frames: Any, threads: int | None) -> dict[str, Any]:
    """FP32 (the run, PyTorch on the CPU) and INT8 (ONNX Runtime) on every frame."""
    from amrkit.infer import load_predictor
    from amrkit.metrics.evaluate import evaluate_predictor

    out = {}
    for prec, path in (("fp32", run_dir), ("int8", int8)):
        pred = load_predictor(path, device="cpu", threads=threads)
        out[prec] = accuracy(evaluate_predictor(pred, frames, split="all", top_confused=0))
    return out


def golden(int8: Path, frames: Any, n: int, threads: int | None) -> dict[str, Any]:
    """The golden model against ONNX Runtime on ``n`` test frames spread over the set."""
    from amrkit.quant.exactness import golden_check

    if n == 0:
        return {"measured": False, "reason": "skipped (--golden-frames 0)"}
    pos = np.unique(np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(np.int64))
    res = golden_check(int8, frames, pos, threads=threads)
    keep = ("applicable", "frames", "bit_exact", "frames_with_different_outputs",
            "output_max_lsb", "rounding", "cpu", "kernel")  # fmt: skip
    out = {k: res.get(k) for k in keep if k in res}
    if res.get("top1_agreement") is not None:
        out["top1_agreement_pct"] = _pct(res["top1_agreement"])
    return {"measured": True, **out}


def network(spec: Any, frame_length: int, int8: Path) -> dict[str, Any]:
    from amrkit.metrics.network import network_metrics
    from amrkit.metrics.onnx_metrics import onnx_network_metrics

    fp32 = network_metrics(spec, frame_length)
    q = onnx_network_metrics(int8)
    return {
        "spec": spec.to_dict(),
        "spec_short": spec.short(),
        "frame_length": int(frame_length),
        "macs": int(fp32["macs"]),
        "learnables": int(fp32["learnables"]),
        "bn_learnables": int(fp32["bn_learnables"]),
        "fp32_bytes": int(fp32["parameter_bytes"]),
        "int8_bytes": int(q["parameter_bytes"]),
        "int8_macs": int(q["macs"]),
        "quantized_layers": list(q.get("quantized_layers", [])),
    }


def mcu(int8: Path, work: Path, wanted: bool) -> dict[str, Any]:
    """Flash, RAM and instructions per frame on an emulated Cortex-M4, or why not."""
    if not wanted:
        return {"measured": False, "reason": "skipped (--no-mcu)"}
    from amrkit.deploy import mcu_report

    res = mcu_report(int8, work)
    if not res.get("toolchain_available"):
        return {"measured": False, "reason": res.get("reason") or "toolchain not installed"}
    return {"measured": True, **{k: res.get(k) for k in MCU_KEYS}, **packing(int8, res, work)}


def packing(int8: Path, res: dict[str, Any], work: Path) -> dict[str, Any]:
    """When ``deploy`` stores 4-bit layers two weights per byte (``flash_bytes`` of ``res``,
    the :func:`~amrkit.deploy.mcu_report` row, is then the packed library's): the same
    library's flash with ``--pack off`` and the saving; ``{}`` when nothing is packed."""
    from amrkit.deploy.codegen import write_library
    from amrkit.deploy.report import load_model, packing_report

    model = load_model(int8)
    wp = write_library(model, work / "plan", "amr", "generic", "auto")["weight_packing"]
    if not wp["packed_layers"]:
        return {}
    row = packing_report(model, [res], work / "pack", cpu=res["cpu"])["variants"][0]
    return {
        "weight_packing": {
            k: wp[k] for k in ("packed_layers", "weight_bytes", "weight_bytes_unpacked")
        },  # fmt: skip
        "flash_bytes_unpacked": row["flash_bytes_unpacked"],
        "flash_saving_pct": row["saving_pct"],
    }


def measure(
    run_dir: Path,
    int8: Path,
    spec: Any,
    data_config: Any,
    cfg: CardConfig,
    work: Path,
    *,
    workers: int = 1,
    threads: int | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """The card's measured sections: ``evaluation``, ``golden``, ``network``, ``mcu``."""
    say = log or (lambda _msg: None)
    test_cfg, sweep_cfg = test_configs(data_config, cfg)
    say(f"synthesizing the test set ({test_cfg.num_frames:,} frames, seed {test_cfg.seed})")
    test = synth_frames(test_cfg, workers)
    say("measuring FP32 and INT8 on the test set")
    test_acc = evaluate_pair(run_dir, int8, test, threads)
    gold = golden(int8, test, cfg.golden_frames, threads)
    del test
    say(f"synthesizing the SNR sweep ({sweep_cfg.num_frames:,} frames, seed {sweep_cfg.seed})")
    sweep = synth_frames(sweep_cfg, workers)
    say("measuring FP32 and INT8 across SNR")
    sweep_acc = evaluate_pair(run_dir, int8, sweep, threads)
    del sweep
    drop = test_acc["fp32"]["accuracy_pct"] - test_acc["int8"]["accuracy_pct"]
    evaluation = {
        "test": {
            "seed": test_cfg.seed,
            "snr_db": cfg.test_snr_db,
            "frames_per_class": cfg.test_frames_per_class,
            **test_acc,
            "int8_drop_pt": round(drop, 2),
        },
        "sweep": {
            "seed": sweep_cfg.seed,
            "snrs": list(cfg.sweep_snrs),
            "frames_per_snr_per_class": cfg.sweep_frames_per_snr,
            "fp32": {k: sweep_acc["fp32"][k] for k in ("frames", "correct", "per_snr_pct")},
            "int8": {k: sweep_acc["int8"][k] for k in ("frames", "correct", "per_snr_pct")},
        },
        "generator": {
            k: getattr(data_config, k)
            for k in ("preset", "snr_convention", "channel", "frame_length", "sample_rate_hz")
        },
    }
    say("measuring the network and the Cortex-M cost")
    return {
        "evaluation": evaluation,
        "golden": gold,
        "network": network(spec, run_frame_length(run_dir), int8),
        "mcu": mcu(int8, work / "mcu", cfg.mcu),
    }


def run_frame_length(run_dir: Path) -> int:
    from amrkit.artifacts import read_run_info

    return int(read_run_info(run_dir)["frame_length"])
