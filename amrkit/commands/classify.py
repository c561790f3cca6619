"""CLI commands: classify."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from amrkit.commands import options


def classify(
    model: str = typer.Argument(..., help="Trained run directory or .onnx file (FP32 or INT8)."),
    recording: str = typer.Argument(
        ..., help="SigMF recording (.sigmf-meta, .sigmf-data or base name) or a raw I/Q file."
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        help="Raw sample format: cf32, cf64, ci32, ci16, ci8, cu32, cu16, cu8 (+_le/_be; "
        "default little endian). Omit for SigMF.",
    ),
    sample_rate: float | None = typer.Option(
        None, "--sample-rate", help="Sample rate of a raw recording in Hz, e.g. 1e6."
    ),
    model_rate: float | None = typer.Option(
        None,
        "--model-rate",
        help="Sample rate (Hz) the model expects, for models that do not record one.",
    ),
    hop: int | None = typer.Option(
        None,
        "--hop",
        help="Samples between frame starts, at the model's rate (default: frame length).",
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Frames per inference batch."),
    no_resample: bool = typer.Option(
        False, "--no-resample", help="Fail instead of resampling when the sample rates differ."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write per-frame predictions to FILE.csv or FILE.jsonl."
    ),
    annotate: bool = typer.Option(
        False,
        "--annotate",
        help="Write predictions as SigMF annotations to a new <name>.amrkit.sigmf-meta.",
    ),
    annotate_out: Path | None = typer.Option(
        None, "--annotate-out", help="Path of the annotated .sigmf-meta (implies --annotate)."
    ),
    device: options.DeviceOpt = "auto",
    threads: int | None = typer.Option(None, "--threads", help="Inference threads."),
    runtime: str = typer.Option(
        "auto", "--runtime", help="ONNX files: auto (= ort), ort, openvino or c (INT8)."
    ),
    json_out: options.JsonOpt = False,
) -> None:
    """Classify a recording frame by frame: predicted class, confidence and top-3 per frame."""
    from amrkit.classify import (
        check_annotation_path,
        check_output_path,
        classify_recording,
        write_annotations,
        write_predictions,
    )
    from amrkit.data.recording import open_recording
    from amrkit.infer import load_predictor

    if out is not None:
        check_output_path(out)
    rec = open_recording(recording, format=format, sample_rate_hz=sample_rate)
    if annotate or annotate_out is not None:  # fail before any work or output
        check_annotation_path(rec, annotate_out)
    predictor = load_predictor(model, device=device, threads=threads, runtime=runtime)
    with _progress(enabled=not json_out) as update:
        result = classify_recording(
            predictor,
            rec,
            hop=hop,
            batch_size=batch_size,
            resample=not no_resample,
            progress=update,
            model_rate_hz=model_rate,
        )
    written = {}
    if out is not None:
        written["predictions"] = str(write_predictions(result, out))
    if annotate or annotate_out is not None:
        written["annotations"] = str(write_annotations(result, rec, annotate_out))
    summary = {**result.summary(), "outputs": written}
    if json_out:
        from amrkit.fileio import json_safe

        typer.echo(json.dumps(json_safe(summary), indent=2))
        return
    _print_summary(summary)


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __enter__(self):  # noqa: ANN204
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        self._task = self._bar.add_task("classifying", total=None)
        return self._update

    def _update(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _print_summary(s: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rec, model, rs = s["recording"], s["model"], s["resampling"]
    console.print(
        f"[bold]{rec['path']}[/]: {rec['samples']} samples ({rec['datatype']}) at "
        f"{_hz(rec['sample_rate_hz'])}; model {model['kind']} expects {model['frame_length']} "
        f"samples at {_hz(model['sample_rate_hz'])} (runtime {model.get('runtime', '?')})"
    )
    if rs["active"]:
        console.print(
            f"resampled by {rs['up']}/{rs['down']} to {_hz(rs['effective_rate_hz'])} "
            f"({rs['rate_error_ppm']:+.3g} ppm)"
        )
    table = Table("class", "frames", "share")
    total = max(1, s["frames"])
    for name, count in sorted(s["histogram"].items(), key=lambda kv: -kv[1]):
        table.add_row(name, str(count), f"{count / total:.1%}")
    console.print(table)
    fps = s["frames_per_s"]
    rtf = s["real_time_factor"]
    console.print(
        f"{s['frames']} frames (hop {s['hop']}) in {s['wall_s']:.2f} s: "
        + (f"{fps:,.0f} frames/s" if fps else "-")
        + (f", real-time factor {rtf:.3g} ({1 / rtf:,.1f}x real time)" if rtf else "")
    )
    for kind, path in s["outputs"].items():
        console.print(f"{kind}: {path}")


def _hz(value: float | None) -> str:
    if value is None:
        return "unknown rate"
    for unit, scale in (("MHz", 1e6), ("kHz", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} Hz"


COMMANDS = {"classify": classify}
