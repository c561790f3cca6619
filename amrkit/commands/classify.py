"""CLI commands: classify."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from amrkit.commands import options
from amrkit.errors import AmrkitError


def classify(
    model: str = typer.Argument(
        ...,
        help="Trained run directory, .onnx file (FP32 or INT8), or a shipped model: zoo:NAME "
        "(FP32) or zoo:NAME:int8 (amrkit zoo list).",
    ),
    recording: str = typer.Argument(
        ...,
        help="SigMF recording (.sigmf-meta, .sigmf-data or base name), a raw I/Q file, or a "
        "live stream: - (standard input) or zmq+tcp://HOST:PORT (GNU Radio ZMQ sink).",
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        help="Raw sample format: cf32, cf64, ci32, ci16, ci8, cu32, cu16, cu8 (+_le/_be; "
        "default little endian). Omit for SigMF; required for -, default cf32 for zmq+.",
    ),
    sample_rate: float | None = typer.Option(
        None, "--sample-rate", help="Sample rate of a raw recording or a stream in Hz, e.g. 1e6."
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
    chunk: int | None = typer.Option(
        None,
        "--chunk",
        help="Samples per processing block (default 1048576). A stream's decisions come out "
        "block by block; give a file the same --chunk to get the same decisions.",
    ),
    max_delay: float | None = typer.Option(
        None,
        "--max-delay",
        help="Streams: drop samples (counted) when more than this many seconds of signal wait; "
        "inf = never drop, the source waits. Default: inf, but 5 for a ZeroMQ SUB socket.",
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        help="Streams: end with an error after this many seconds without samples (default 10; "
        "0 waits forever).",
    ),
    publish: str | None = typer.Option(
        None,
        "--publish",
        help="Streams: also publish each decision (a JSON line) on a ZeroMQ PUB socket bound "
        "here, e.g. tcp://*:5556 (needs pyzmq).",
    ),
    zmq_socket: str | None = typer.Option(
        None,
        "--zmq-socket",
        help="zmq+ streams: sub (default; GNU Radio's ZMQ PUB Sink) or pull (ZMQ PUSH Sink).",
    ),
) -> None:
    """Classify a recording or a live stream frame by frame: predicted class, confidence and
    top-3 per frame."""
    stream_opts = {"--max-delay": max_delay, "--timeout": timeout, "--publish": publish,
                   "--zmq-socket": zmq_socket}  # fmt: skip
    if recording == "-" or recording.startswith("zmq+"):
        if annotate or annotate_out is not None:
            raise AmrkitError(
                "--annotate writes SigMF metadata next to a recording; a stream has none "
                "(record it with --out FILE.csv or FILE.jsonl)"
            )
        _classify_stream(
            model, recording, format=format, sample_rate=sample_rate, model_rate=model_rate,
            hop=hop, batch_size=batch_size, no_resample=no_resample, out=out, device=device,
            threads=threads, runtime=runtime, json_out=json_out, chunk=chunk,
            max_delay=max_delay, timeout=timeout, publish=publish, zmq_socket=zmq_socket,
        )  # fmt: skip
        return
    given = [name for name, value in stream_opts.items() if value is not None]
    if given:
        raise AmrkitError(
            f"{given[0]} applies to live streams (- or zmq+tcp://HOST:PORT), not to the "
            f"recording {recording!r}; drop it"
        )
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
            **({} if chunk is None else {"chunk": chunk}),
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


def _classify_stream(model: str, spec: str, *, out: Path | None, json_out: bool,
                     publish: str | None, **opts: object) -> None:  # fmt: skip
    """``classify MODEL -`` / ``zmq+tcp://…``: decisions written as they are made (standard
    output, --out, --publish), a live view on a terminal, one summary at the end."""
    from amrkit.classify import check_output_path
    from amrkit.infer import load_predictor
    from amrkit.stream import StreamConfig, classify_stream
    from amrkit.stream.outputs import DecisionWriter, ZmqPublisher, open_decision_file
    from amrkit.stream.sources import open_stream

    config = StreamConfig(
        hop=opts["hop"], batch_size=opts["batch_size"], resample=not opts["no_resample"],
        model_rate_hz=opts["model_rate"], max_delay_s=opts["max_delay"],
        **{k: v for k, v in (("chunk", opts["chunk"]), ("timeout_s", opts["timeout"]))
           if v is not None},
    )  # fmt: skip
    if out is not None:
        check_output_path(out)
    source = open_stream(spec, opts["format"], opts["sample_rate"], opts["zmq_socket"])
    outputs = [] if publish is None else [ZmqPublisher(publish)]  # a taken port fails here
    predictor = load_predictor(
        model, device=opts["device"], threads=opts["threads"], runtime=opts["runtime"]
    )
    live = not json_out and sys.stdout.isatty()
    if out is not None:
        outputs.append(open_decision_file(out))
    elif not live:  # decisions on standard output: CSV, or JSON lines with --json
        outputs.append(DecisionWriter(sys.stdout, as_json=json_out))
    warn = None if live else (lambda msg: typer.echo(f"warning: {msg}", err=True))
    with _live_view(live) as view:
        status = classify_stream(predictor, source, config, outputs, view, warn)
    if status.end == "output closed":
        _silence_stdout()  # `| head`: the reader is gone, nothing more to say
        return
    if status.error is not None:
        raise AmrkitError(status.error)  # after the decisions, which are all written
    summary = status.to_dict()
    if out is None and not live:  # standard output carries the decisions
        typer.echo(f"amrkit: {status.sentence()}", err=True)
    elif json_out:
        from amrkit.fileio import json_safe

        written = {"predictions": str(out)}
        if publish is not None:
            written["published"] = outputs[0].endpoint
        typer.echo(json.dumps(json_safe({**summary, "outputs": written}), indent=2))
    else:
        typer.echo(status.sentence() + (f"\npredictions: {out}" if out is not None else ""))


class _live_view:
    """The rich live view on standard output when it is a terminal; None otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.view = None
        if enabled:
            from amrkit.stream.live import LiveView

            self.view = LiveView()

    def __enter__(self):  # noqa: ANN204
        return self.view.__enter__() if self.view is not None else None

    def __exit__(self, *exc: object) -> None:
        if self.view is not None:
            self.view.__exit__(*exc)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush into a closed
    pipe raises nothing."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests' captured stdout)
        pass


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

    from amrkit.stream.live import format_hz

    console = Console()
    rec, model, rs = s["recording"], s["model"], s["resampling"]
    console.print(
        f"[bold]{rec['path']}[/]: {rec['samples']} samples ({rec['datatype']}) at "
        f"{format_hz(rec['sample_rate_hz'])}; model {model['kind']} expects "
        f"{model['frame_length']} samples at {format_hz(model['sample_rate_hz'])} "
        f"(runtime {model.get('runtime', '?')})"
    )
    if rs["active"]:
        console.print(
            f"resampled by {rs['up']}/{rs['down']} to {format_hz(rs['effective_rate_hz'])} "
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


COMMANDS = {"classify": classify}
