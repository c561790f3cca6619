"""CLI commands: ``amrkit export`` (FP32 ONNX) and ``amrkit quantize`` (INT8 PTQ / QAT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from amrkit.commands import options


def export(
    run: Path = typer.Argument(
        ..., help="Trained run directory (the --out of 'amrkit train') or zoo:NAME."
    ),
    out: Path = typer.Option(..., "--out", help="ONNX file to write, e.g. model.onnx."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Dataset whose frames verify ONNX Runtime against PyTorch (default: noise frames).",
    ),
    check_frames: int = typer.Option(
        64, "--check-frames", min=1, help="Frames on which ORT and PyTorch must agree."
    ),
    atol: float = typer.Option(1e-4, "--atol", help="Largest allowed |ORT - PyTorch| logit."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    as_json: options.JsonOpt = False,
) -> None:
    """Export a run to FP32 ONNX: BN folded, dynamic batch, fixed frame length, metadata."""
    from amrkit.artifacts import load_run
    from amrkit.errors import AmrkitError
    from amrkit.export.onnx_export import export_run
    from amrkit.fileio import dumps_json

    if out.suffix.lower() != ".onnx":
        raise AmrkitError(f"--out {str(out)!r} must end in .onnx, e.g. model.onnx")
    loaded = load_run(run)
    check_iq = None
    if data is not None:
        from amrkit.data.open import open_frames

        open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
        with open_frames(data, **open_kw) as frames:
            if frames.frame_length != loaded.frame_length:
                raise AmrkitError(
                    f"data frame length {frames.frame_length} differs from the model's "
                    f"{loaded.frame_length}; use frames of length {loaded.frame_length}"
                )
            check_iq = frames.read(frames.indices("all")[:check_frames])
    result = export_run(loaded, out, check_iq=check_iq, atol=atol)
    report = {
        "path": str(result.path),
        "layers": result.layers,
        "max_abs_diff": result.max_abs_diff,
        "frames_checked": result.frames_checked,
        "check_frames": "data" if data is not None else "noise",
        "metadata": result.metadata,
    }
    if as_json:
        typer.echo(dumps_json(report), nl=False)
        return
    typer.echo(
        f"wrote {result.path} ({', '.join(result.layers)}); ONNX Runtime matches PyTorch within "
        f"{result.max_abs_diff:.2g} on {result.frames_checked} "
        f"{'data' if data is not None else 'noise'} frames"
    )


def quantize(
    run: Path = typer.Argument(
        ..., help="Trained run directory (the --out of 'amrkit train') or zoo:NAME."
    ),
    data: Path = typer.Option(
        ..., "--data", help="Dataset: train split calibrates (and trains QAT), val measures."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (model_int8.onnx, ...)."),
    config: Path | None = typer.Option(
        None, "--config", help="YAML/JSON with PTQConfig (or QATConfig with --qat) fields."
    ),
    calib_frames: int | None = typer.Option(
        None, "--calib-frames", help="Calibration frames, stratified by class (default 512)."
    ),
    method: str | None = typer.Option(
        None, "--method", help="Calibration: minmax, percentile or entropy (default minmax)."
    ),
    percentile: float | None = typer.Option(
        None, "--percentile", help="Percentile for --method percentile (default 99.999)."
    ),
    per_tensor: bool = typer.Option(
        False, "--per-tensor", help="One weight scale per tensor (default: per channel)."
    ),
    target: str | None = typer.Option(
        None,
        "--target",
        help="portable (default): 7-bit weights and uint8 activations, which every ONNX "
        "Runtime CPU kernel (AVX2, AVX-512, VNNI, Arm) computes exactly, as the golden model "
        "and the C code do. vnni: full-range 8-bit weights; exact with VNNI/AMX/Arm int32 "
        "dot products, and on other x86 CPUs only with session.x64quantprecision (set by "
        "amrkit; slower), since their u8s8 kernels add product pairs in saturating int16.",
    ),
    activation_type: str | None = typer.Option(
        None,
        "--activation-type",
        help="Activation integers: uint8 (default) or int8 (only with --target vnni).",
    ),
    exclude: str | None = typer.Option(
        None, "--exclude", help="Layers kept in FP32, e.g. conv1,fc (names: conv1..convN, fc)."
    ),
    qat: bool = typer.Option(False, "--qat", help="Quantization-aware training, then export."),
    epochs: int | None = typer.Option(None, "--epochs", help="QAT epochs (default 3)."),
    bits: int | None = typer.Option(
        None,
        "--bits",
        help="QAT weight bits, 4..7 (portable, default 7) or 8 (--target vnni); "
        "--layer-bits / --max-packed-kb set them per layer.",
    ),
    layer_bits: str | None = typer.Option(
        None,
        "--layer-bits",
        help="QAT per-layer weight bits overriding --bits, e.g. conv1=7,conv3=4 (mixed "
        "precision; same 4..7 / 8 rule as --bits).",
    ),
    max_packed_kb: float | None = typer.Option(
        None,
        "--max-packed-kb",
        help="QAT parameter budget in kB (1 kB = 1000 bytes) with weights counted at their "
        "packed widths: the least sensitive layers not in --layer-bits drop to "
        "--mixed-low-bits until it is met.",
    ),
    mixed_low_bits: int | None = typer.Option(
        None, "--mixed-low-bits", help="Width that --max-packed-kb lowers layers to (default 4)."
    ),
    lr: float | None = typer.Option(None, "--lr", help="QAT learning rate (default 0.001)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="QAT batch size (default 128)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Calibration choice / shuffling seed."),
    plot: bool = typer.Option(False, "--plot", help="Also draw quantization.png (ranges)."),
    threads: options.InferThreadsOpt = None,
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    split_seed: options.SplitSeedOpt = None,
    as_json: options.JsonOpt = False,
) -> None:
    """Quantize a run to INT8 (QDQ ONNX): post-training with calibration, or --qat."""
    from amrkit.artifacts import load_run
    from amrkit.fileio import dumps_json

    overrides: dict[str, Any] = {
        "calib_frames": calib_frames,
        "method": method,
        "percentile": percentile,
        "per_channel": False if per_tensor else None,
        "activation_type": activation_type,
        "target": target,
        "exclude": tuple(x.strip() for x in exclude.split(",") if x.strip()) if exclude else None,
        "seed": seed,
    }
    from amrkit.quant.config import parse_layer_bits

    qat_only = {
        "epochs": epochs,
        "weight_bits": bits,
        "lr": lr,
        "batch_size": batch_size,
        "layer_bits": parse_layer_bits(layer_bits) if layer_bits is not None else None,
        "max_packed_bytes": None if max_packed_kb is None else round(max_packed_kb * 1000),
        "mixed_low_bits": mixed_low_bits,
    }
    cfg = _quant_config(qat, config, overrides, qat_only)
    loaded = load_run(run)  # fails early on a non-run path
    from amrkit.data.open import open_frames
    from amrkit.data.split import resolve_split_seed

    seed_of_split = resolve_split_seed(split_seed, loaded.info, repr(str(run)))

    def on_epoch(row: dict[str, Any]) -> None:
        val = f", val acc {100 * row['val_acc']:.2f} %" if "val_acc" in row else ""
        typer.echo(f"QAT epoch {row['epoch']}: train loss {row['train_loss']:.4f}{val}", err=True)

    from amrkit.quant.pipeline import quantize as run_quantize

    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    with open_frames(data, split_seed=seed_of_split, **open_kw) as frames:
        result = run_quantize(
            loaded, cfg, frames, out, plot=plot, threads=threads, on_epoch=on_epoch
        )
    if as_json:
        typer.echo(dumps_json(result.details), nl=False)
        return
    _print_summary(result)


def _quant_config(
    qat: bool, config: Path | None, overrides: dict[str, Any], qat_only: dict[str, Any]
) -> Any:
    """PTQConfig or QATConfig from --config and the flags; QAT flags without --qat are an
    error."""
    from amrkit.config import from_file, replace
    from amrkit.errors import AmrkitError
    from amrkit.quant.config import PTQConfig, QATConfig

    if not qat:
        flag = {
            "epochs": "--epochs",
            "weight_bits": "--bits",
            "lr": "--lr",
            "batch_size": "--batch-size",
            "layer_bits": "--layer-bits",
            "max_packed_bytes": "--max-packed-kb",
            "mixed_low_bits": "--mixed-low-bits",
        }
        given = [flag[k] for k, v in qat_only.items() if v is not None]
        if given:
            raise AmrkitError(
                f"{', '.join(given)} only apply with --qat (post-training quantization takes "
                "its weight bits from --target: portable 7, vnni 8); add --qat or drop them"
            )
    cls = QATConfig if qat else PTQConfig
    cfg = from_file(cls, config) if config is not None else cls()
    return replace(cfg, **overrides, **(qat_only if qat else {}))


def _print_summary(result: Any) -> None:
    d = result.details
    acc = d["accuracy"]
    rt = d["onnxruntime"]
    bits = d["layer_bits"]
    weights = (
        "mixed-precision weights (" + ", ".join(f"{k} {v}" for k, v in bits.items()) + " bits)"
        if d["mixed"]
        else f"{d['weight_bits']}-bit weights"
    )
    typer.echo(
        f"{d['mode'].upper()} {weights}, {d['config']['activation_type']} "
        f"activations; quantized {', '.join(d['quantized_layers'])}"
        + (f"; FP32: {', '.join(d['excluded_layers'])}" if d["excluded_layers"] else "")
    )
    typer.echo(
        f"validation accuracy ({acc['frames']} frames): FP32 {100 * acc['fp32']:.2f} %, "
        f"INT8 {100 * acc['int8']:.2f} % (drop {acc['drop_pt']:.2f} pt)"
    )
    typer.echo(
        f"parameter memory: {d['parameter_memory_mb']:.4f} MB INT8 "
        f"({d['num_weights']:,} weights + {d['num_biases']:,} biases; FP32 "
        f"{d['fp32_parameter_memory_mb']:.4f} MB)"
        + (
            f", {d['parameter_memory_mb_packed']:.4f} MB ({d['packed_bytes']:,} B) packed at "
            + ("the layers' widths" if d["mixed"] else f"{d['weight_bits']} bits")
            if min(bits.values()) < 8
            else ""
        )
    )
    mixed = d.get("mixed_precision")
    if mixed:
        typer.echo(
            f"mixed precision: budget {mixed['budget_bytes']:,} B, packed {mixed['packed_bytes']:,}"
            f" B (all at default widths: {mixed['packed_bytes_default']:,} B); sensitivity (KL) "
            + ", ".join(f"{k} {v:.3g}" for k, v in mixed["sensitivity"].items())
        )
    typer.echo(f"ONNX Runtime integer kernels: {', '.join(rt['integer_kernels'])}")
    gm = rt["golden_match"]
    typer.echo(
        f"target {d['target']}: largest int16 pair sum {d['max_pair_sum']:,} (limit "
        f"{d['pair_limit']:,}), accumulator bound {d['max_acc_bound']:,}; golden model vs "
        f"ONNX Runtime on this CPU ({', '.join(gm['isa']) or gm['cpu']}): "
        + (
            "not applicable (FP32 layers)"
            if not gm["applicable"]
            else f"bit-exact on {gm['frames']} frames"
            if gm["bit_exact"]
            else f"{gm['frames_with_different_outputs']} of {gm['frames']} frames differ "
            f"(max {gm['output_max_lsb']} LSB)"
        )
    )
    for line in d["warnings"]:
        typer.echo(f"warning: {line}", err=True)
    typer.echo(f"wrote {result.out_dir}/ ({', '.join(d['files'].values())})")


COMMANDS = {"export": export, "quantize": quantize}
