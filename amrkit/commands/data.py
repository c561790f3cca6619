"""CLI commands: generate, info."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from amrkit.commands import options
from amrkit.errors import AmrkitError

# generate's options (None: not given; the --config/--preset value or the default)
PathArg = Annotated[
    str, typer.Argument(help="Output HDF5 file (written to a temp file, then renamed).")
]
PresetOpt = Annotated[
    str,
    typer.Option(
        "--preset",
        help="Base parameters: 'matlab' (the reference) or 'wide' (symbol rate, pulse, "
        "jitter, analog parameters, multipath profile and receiver impairments drawn per "
        "frame, SNR -10…30 dB; see docs/data.md).",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="Start from a YAML/JSON config or an amrkit .h5 file made by generate "
        "(regenerates it exactly); other flags override its fields.",
    ),
]
SynthClassesOpt = Annotated[
    str | None,
    typer.Option("--classes", help="Comma list of classes, e.g. BPSK,QPSK (default: all 11)."),
]
FramesPerClassOpt = Annotated[
    int | None,
    typer.Option(
        "--frames-per-class", help="Frames per class, spread evenly over the SNRs [10000]."
    ),
]
SnrOpt = Annotated[
    str | None,
    typer.Option(
        "--snr",
        help="SNR(s) in dB: 30, a comma list 0,10,20, a range start:stop:step (inclusive, "
        "e.g. --snr=-10:30:2) or inf (no noise) [30].",
    ),
]
SnrConventionOpt = Annotated[
    str | None,
    typer.Option(
        "--snr-convention",
        help="measured: noise relative to each frame's measured signal power (default); "
        "matlab: relative to an assumed unit power, as the reference (RRC classes ≈ 9 dB less).",
    ),
]
ChannelOpt = Annotated[
    str | None,
    typer.Option(
        "--channel",
        help="full: Rician multipath + clock offset + AWGN (default); awgn: noise only; "
        "none: the clean modulated signal (needs --snr inf).",
    ),
]
FrameLengthOpt = Annotated[
    int | None, typer.Option("--frame-length", help="Samples per frame [1024].")
]
SamplesPerSymbolOpt = Annotated[
    int | None,
    typer.Option("--samples-per-symbol", help="Samples per symbol of the digital classes [8]."),
]
SampleRateOpt = Annotated[
    float | None, typer.Option("--sample-rate", help="Sample rate in Hz [200000].")
]
SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split", help="Train,val,test fractions, stratified by class and SNR [0.8,0.1,0.1]."
    ),
]
AudioOpt = Annotated[
    str | None,
    typer.Option(
        "--audio",
        help="A speech/music WAV file to use as the analog source instead of the "
        "built-in synthetic one.",
    ),
]
CfoOpt = Annotated[
    float | None,
    typer.Option(
        "--cfo",
        help="Largest receiver frequency offset, a fraction of the sample rate, drawn per "
        "frame from ±this (e.g. 0.01) [0; wide: 0.03].",
    ),
]
PhaseNoiseOpt = Annotated[
    float | None,
    typer.Option("--phase-noise", help="Largest phase-noise linewidth in Hz, drawn per frame [0]."),
]
IqImbalanceOpt = Annotated[
    str | None,
    typer.Option(
        "--iq-imbalance",
        help="Largest I/Q gain (dB) and phase (degrees) imbalance, drawn per frame: DB,DEG "
        "(e.g. 1,5) [0,0].",
    ),
]
DcOffsetOpt = Annotated[
    float | None,
    typer.Option("--dc-offset", help="Largest DC offset relative to the frame RMS, per frame [0]."),
]
SpsRangeOpt = Annotated[
    str | None,
    typer.Option(
        "--sps-range",
        help="Samples per symbol drawn per frame, log-uniform and fractional: MIN,MAX "
        "(e.g. 2,16) \\[off; wide: 2,16].",
    ),
]
RolloffRangeOpt = Annotated[
    str | None,
    typer.Option(
        "--rolloff-range", help="RRC/RC roll-off drawn per frame: MIN,MAX \\[off; wide: 0.1,0.5]."
    ),
]
PulsesOpt = Annotated[
    str | None,
    typer.Option(
        "--pulses",
        help="Symbol pulses of PSK/QAM/PAM, one drawn per frame from this comma list of "
        "rrc, rc, rect, halfsine \\[rrc; wide: all four].",
    ),
]
TimingJitterOpt = Annotated[
    float | None,
    typer.Option(
        "--timing-jitter", help="Largest rms sampling jitter in symbols, per frame [0; wide: 0.02]."
    ),
]
FmDeviationRangeOpt = Annotated[
    str | None,
    typer.Option(
        "--fm-deviation-range", help="B-FM deviation in Hz drawn per frame: MIN,MAX \\[off]."
    ),
]
AmCarrierOpt = Annotated[
    float | None,
    typer.Option(
        "--am-carrier",
        help="Largest DSB-AM carrier level relative to the message peak, per frame "
        "(modulation index 1/level) [0: suppressed; wide: 2].",
    ),
]
DelaySpreadOpt = Annotated[
    float | None,
    typer.Option(
        "--delay-spread",
        help="Random multipath profiles: largest exponential delay spread in samples, per "
        "frame [0: off; wide: 3].",
    ),
]
KFactorOpt = Annotated[
    str | None,
    typer.Option(
        "--k-factor", help="Rician K of the profiles' first tap, per frame: MIN,MAX [0,0]."
    ),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Random seed; same seed ⇒ same bytes [0].")
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="Worker processes; the output does not depend on this.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def generate(
    path: PathArg,
    preset: PresetOpt = "matlab",
    config: ConfigOpt = None,
    classes: SynthClassesOpt = None,
    frames_per_class: FramesPerClassOpt = None,
    snr: SnrOpt = None,
    snr_convention: SnrConventionOpt = None,
    channel: ChannelOpt = None,
    frame_length: FrameLengthOpt = None,
    samples_per_symbol: SamplesPerSymbolOpt = None,
    sample_rate: SampleRateOpt = None,
    split: SplitOpt = None,
    audio: AudioOpt = None,
    cfo: CfoOpt = None,
    phase_noise: PhaseNoiseOpt = None,
    iq_imbalance: IqImbalanceOpt = None,
    dc_offset: DcOffsetOpt = None,
    sps_range: SpsRangeOpt = None,
    rolloff_range: RolloffRangeOpt = None,
    pulses: PulsesOpt = None,
    timing_jitter: TimingJitterOpt = None,
    fm_deviation_range: FmDeviationRangeOpt = None,
    am_carrier: AmCarrierOpt = None,
    delay_spread: DelaySpreadOpt = None,
    k_factor: KFactorOpt = None,
    seed: SeedOpt = None,
    workers: WorkersOpt = 1,
    quiet: QuietOpt = False,
    json_out: options.JsonOpt = False,
) -> None:
    """Synthesize a modulation dataset (the paper's 11 classes with the reference channel)."""
    from amrkit.config import replace
    from amrkit.data.split import parse_fractions
    from amrkit.data.synth import check_workers, load_config, parse_snrs, preset_config

    check_workers(workers)
    overrides: dict[str, Any] = {
        "classes": _parse_names(classes),
        "frames_per_class": frames_per_class,
        "snrs": parse_snrs(snr) if snr is not None else None,
        "snr_convention": snr_convention,
        "channel": channel,
        "frame_length": frame_length,
        "samples_per_symbol": samples_per_symbol,
        "sample_rate_hz": sample_rate,
        "split": parse_fractions(split) if split is not None else None,
        "audio": audio,
        "seed": seed,
    }
    if config is not None:
        import dataclasses

        base = load_config(config)
        if audio is not None and audio != base.audio:
            base = dataclasses.replace(base, audio_sha256=None)  # another recording
        cfg = replace(base, **overrides)
    else:
        cfg = preset_config(preset, **overrides)
    cfg = _with_impairments(cfg, cfo, phase_noise, iq_imbalance, dc_offset)
    signal = {
        **_pair("sps", sps_range, "--sps-range"),
        **_pair("rolloff", rolloff_range, "--rolloff-range"),
        **_pair("fm_deviation", fm_deviation_range, "--fm-deviation-range"),
        "pulses": None if pulses is None else _parse_names(pulses, "--pulses"),
        "timing_jitter": timing_jitter,
        "am_carrier_max": am_carrier,
    }
    profile = {"delay_spread_max": delay_spread, **_pair("k_factor", k_factor, "--k-factor")}
    cfg = _with_nested(_with_nested(cfg, "signal_ranges", signal), "multipath", profile)
    _run_generate(cfg, path, workers, quiet, json_out)


def _with_impairments(
    cfg: Any, cfo: float | None, phase_noise: float | None, iq: str | None, dc: float | None
) -> Any:
    """``cfg`` with the given impairment ranges (None = keep the preset's/config's)."""
    import dataclasses

    given: dict[str, Any] = {"cfo_max": cfo, "phase_noise_hz": phase_noise, "dc_offset": dc}
    if iq is not None:
        parts = iq.split(",")
        try:
            given["iq_gain_db"], given["iq_phase_deg"] = (float(p) for p in parts)
        except ValueError:
            raise AmrkitError(
                f"--iq-imbalance {iq!r} must be two numbers DB,DEG (gain in dB, phase in "
                "degrees), e.g. 1,5"
            ) from None
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return cfg
    return dataclasses.replace(cfg, impairments=dataclasses.replace(cfg.impairments, **given))


def _pair(name: str, text: str | None, flag: str) -> dict[str, float]:
    """``"2,16"`` -> ``{name_min: 2.0, name_max: 16.0}``; None -> {}."""
    if text is None:
        return {}
    try:
        lo, hi = (float(p) for p in text.split(","))
    except ValueError:
        raise AmrkitError(f"{flag} {text!r} must be two numbers MIN,MAX, e.g. 2,16") from None
    return {f"{name}_min": lo, f"{name}_max": hi}


def _with_nested(cfg: Any, field: str, given: dict[str, Any]) -> Any:
    """``cfg`` with the non-None ``given`` values set in its ``field`` dataclass."""
    import dataclasses

    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return cfg
    return dataclasses.replace(cfg, **{field: dataclasses.replace(getattr(cfg, field), **given)})


def _parse_names(text: str | None, flag: str = "--classes") -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    if not names:
        raise AmrkitError(f"{flag} is empty; give a comma list such as BPSK,QPSK")
    return names


def _run_generate(cfg: Any, path: str, workers: int, quiet: bool, json_out: bool) -> None:
    import sys

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from amrkit.data.synth import format_snrs, synthesize

    err = Console(stderr=True)
    show = not quiet and err.is_terminal
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=cfg.num_frames)
        summary = synthesize(
            cfg,
            path,
            workers=workers,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if json_out:
        from amrkit.config import to_dict
        from amrkit.fileio import dumps_json

        sys.stdout.write(dumps_json({**summary, "config": to_dict(summary["config"])}))
        return
    out = Console()
    mb = summary["bytes"] / 2**20
    out.print(
        f"wrote {summary['path']}: {summary['frames']:,} frames "
        f"({len(cfg.classes)} classes × {cfg.frames_per_class:,}), "
        f"{cfg.frame_length} samples, SNR {format_snrs(cfg.snrs)} dB, channel {cfg.channel}, "
        f"{mb:,.1f} MiB in {summary['seconds']:.1f} s "
        f"({summary['frames_per_s']:,.0f} frames/s, {workers} worker{'s' * (workers > 1)})",
        highlight=False,
        soft_wrap=True,
    )


def info(
    path: str = typer.Argument(..., help="Dataset file (amrkit HDF5, RadioML, NumPy)."),
    json_out: options.JsonOpt = False,
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    drop_nonfinite: options.DropNonfiniteOpt = False,
) -> None:
    """Summarize a dataset: classes, frames, SNRs, splits, and the config that made it.
    Every frame is read once, so a file with NaN or inf samples is an error (or, with
    --drop-nonfinite, they are counted)."""
    import sys

    from amrkit.data.frames import summarize
    from amrkit.data.open import open_frames

    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    frames = open_frames(path, drop_nonfinite=drop_nonfinite, **open_kw)
    with frames:
        frames.check_values()  # small files were checked at open; large ones are read here
        summary = summarize(frames)
        summary["dropped_nonfinite"] = int(frames.source.get("dropped_nonfinite", 0))
    if json_out:
        from amrkit.fileio import dumps_json

        sys.stdout.write(dumps_json(summary))
        return
    _print_info(summary)


def _print_info(s: dict[str, Any]) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    from amrkit.fileio import json_safe

    out = Console(highlight=False, soft_wrap=True)
    fs = s.get("sample_rate_hz")
    out.print(f"[bold]{s['path']}[/bold]  ({s['format']})")
    out.print(f"frames         {s['num_frames']:,}")
    out.print(f"classes        {len(s['classes'])}: {', '.join(s['classes'])}")
    out.print(f"frame length   {s['frame_length']} samples")
    out.print(f"sample rate    {'unknown' if fs is None else f'{fs:,.0f} Hz'}")
    if s.get("samples_per_symbol") is not None:
        out.print(f"samples/symbol {s['samples_per_symbol']}")
    out.print(f"SNR (dB)       {s['snr_text']}")
    if s.get("snr_convention"):
        out.print(f"SNR convention {s['snr_convention']}")
    if s.get("split_derived"):
        out.print("split          none in file; derived (stratified, seed 0)")
    table = Table(title="frames per class and split", title_justify="left")
    table.add_column("class")
    splits = list(s["counts"].keys())
    for name in splits:
        table.add_column(name, justify="right")
    for c in s["classes"]:
        table.add_row(c, *(f"{s['counts'][k][c]:,}" for k in splits))
    table.add_row("[bold]total[/bold]", *(f"{sum(s['counts'][k].values()):,}" for k in splits))
    out.print(table)
    cfg = s.get("config")
    if cfg:
        out.print("config")
        for key, value in cfg.items():
            text = value if isinstance(value, str) else json.dumps(json_safe(value))
            out.print(f"  {key} = {text}")


COMMANDS = {"generate": generate, "info": info}
