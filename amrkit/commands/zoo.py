"""CLI commands: ``amrkit zoo add|list|show|verify|rebuild|docs|remove`` (pretrained models)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from amrkit.commands import options

ZooDirOpt = typer.Option(
    None, "--zoo", help="Zoo folder (default: the one shipped in amrkit, or $AMRKIT_ZOO_DIR)."
)


# the card's measurement settings (CardConfig fields; None: --config's or the default)
TestFramesOpt = Annotated[
    int | None,
    typer.Option(
        "--test-frames-per-class", min=1, help="Independent test frames per class [1000]."
    ),
]
TestSnrOpt = Annotated[float | None, typer.Option("--test-snr", help="Test set SNR in dB [30].")]
TestSeedOpt = Annotated[
    int | None,
    typer.Option("--test-seed", min=0, help="Seed of the test set (the sweep: +1) [777]."),
]
SweepSnrsOpt = Annotated[
    str | None,
    typer.Option("--sweep-snrs", help="SNRs of the sweep, e.g. -10:30:2 (the default) or 0,10,20."),
]
SweepFramesOpt = Annotated[
    int | None,
    typer.Option("--sweep-frames-per-snr", min=1, help="Sweep frames per class and SNR [100]."),
]
GoldenFramesOpt = Annotated[
    int | None,
    typer.Option("--golden-frames", min=0, help="Test frames the golden model recomputes [1024]."),
]
NoMcuOpt = Annotated[bool, typer.Option("--no-mcu", help="Do not measure the Cortex-M cost.")]


def add(
    run: str = typer.Argument(..., help="Trained run folder (the --out of 'amrkit train')."),
    name: str = typer.Option(..., "--name", help="Entry name: zoo:NAME, e.g. optimized."),
    train_data: Path | None = typer.Option(
        None,
        "--train-data",
        help="The synthesized dataset the run was trained on (checked); none for a run "
        "trained with 'amrkit train --synth' (its frames are synthesized again).",
    ),
    summary: str = typer.Option("", "--summary", help="One line describing the entry."),
    source_command: list[str] = typer.Option(
        [], "--source-command", help="A command that made the run, as typed (repeatable)."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML/JSON with the card's measurement settings (CardConfig)."
    ),
    quant_config: Path | None = typer.Option(
        None, "--quant-config", help="YAML/JSON with the PTQConfig (default: portable PTQ)."
    ),
    calib_frames: int | None = typer.Option(
        None, "--calib-frames", min=1, help="Calibration frames (default 512)."
    ),
    int8: Path | None = typer.Option(
        None,
        "--int8",
        help="Use this 'amrkit quantize RUN --qat' output folder's INT8 file (QAT, mixed "
        "precision, 4-bit layers) instead of PTQ; checked against RUN and --train-data.",
    ),
    qat_config: Path | None = typer.Option(
        None,
        "--qat-config",
        help="YAML/JSON with a QATConfig: quantization-aware training here, on the run's "
        "training data (a --synth run: its epoch-0 frames), instead of PTQ.",
    ),
    test_frames_per_class: TestFramesOpt = None,
    test_snr: TestSnrOpt = None,
    test_seed: TestSeedOpt = None,
    sweep_snrs: SweepSnrsOpt = None,
    sweep_frames_per_snr: SweepFramesOpt = None,
    golden_frames: GoldenFramesOpt = None,
    no_mcu: NoMcuOpt = False,
    report: str | None = typer.Option(
        None,
        "--report",
        help="Where 'amrkit reproduce' shows the entry: paper (Table III, Fig. 6) or beyond "
        "(Beyond the paper); default: nowhere.",
    ),
    search: Path | None = typer.Option(
        None,
        "--search",
        help="The 'amrkit search' folder that found the model: its settings, trial count and "
        "the model's Pareto rank become a card section.",
    ),
    extra: Path | None = typer.Option(
        None, "--extra", help="JSON with extra card sections: {'sections': [{title, ...}]}."
    ),
    zoo: Path | None = ZooDirOpt,
    docs: Path | None = typer.Option(
        None, "--docs", help="Also write the Markdown cards to this folder (e.g. docs/zoo)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an entry of the same name."),
    workers: int = typer.Option(2, "--workers", min=1, help="Synthesis workers."),
    threads: options.InferThreadsOpt = None,
    as_json: options.JsonOpt = False,
) -> None:
    """Quantize a trained run (or take its QAT file, --int8), measure it on independent test
    sets and add it to the zoo. A run trained with --synth takes no --train-data."""
    from amrkit.fileio import dumps_json
    from amrkit.zoo.build import add_entry, write_docs

    card_cfg = _card_config(config, test_frames_per_class, test_snr, test_seed, sweep_snrs,
                            sweep_frames_per_snr, golden_frames, no_mcu)  # fmt: skip
    ptq, qat = _int8_step(quant_config, calib_frames, int8, qat_config)
    log = (lambda m: None) if as_json else (lambda m: typer.echo(m, err=True))
    entry = add_entry(
        run, train_data, name, card_config=card_cfg, ptq=ptq, int8=int8, qat=qat,
        summary=summary,
        source_commands=source_command, report_group=report, extra=extra, search=search,
        zoo_dir=zoo, force=force, workers=workers, threads=threads, log=log,
    )  # fmt: skip
    if docs is not None:
        write_docs(docs, zoo)
    if as_json:
        typer.echo(dumps_json({"name": entry.name, "path": str(entry.path), **entry.record}))
        return
    m = entry.record["metrics"]
    typer.echo(
        f"added zoo:{entry.name} ({entry.path}): FP32 {m['fp32_test_pct']:.2f} %, INT8 "
        f"{m['int8_test_pct']:.2f} % on {m['test_frames']:,} independent frames at "
        f"{m['test_snr_db']:g} dB; golden bit-exact: {m['golden_bit_exact']}; "
        f"{sum(f['bytes'] for f in entry.files.values()):,} bytes"
    )


def _rows(zoo: Path | None) -> list[dict[str, Any]]:
    from amrkit import pretrained
    from amrkit.errors import AmrkitError

    rows = []
    for e in pretrained.entries(zoo):
        try:
            pretrained.verify(e)
            state = "ok"
        except AmrkitError as exc:
            state = f"DAMAGED: {exc}"
        rows.append({"name": e.name, "ref": e.ref, **{k: e.record.get(k) for k in (
            "summary", "spec_short", "classes", "frame_length", "report_group", "metrics",
            "recipe", "commands")}, "bytes": sum(f["bytes"] for f in e.files.values()),
            "files": state})  # fmt: skip
    return rows


def list_entries(zoo: Path | None = ZooDirOpt, as_json: options.JsonOpt = False) -> None:
    """The zoo's entries with their headline numbers (files checked)."""
    from amrkit.fileio import dumps_json

    rows = _rows(zoo)
    if as_json:
        typer.echo(dumps_json(rows), nl=False)
        return
    if not rows:
        typer.echo("the zoo has no entry yet ('amrkit zoo add RUN --name NAME --train-data DATA')")
        return
    from rich.table import Table

    from amrkit.commands.models import _console

    table = Table(title="amrkit zoo (accuracy on the card's independent test set)")
    for col in ("name", "summary", "FP32 %", "INT8 %", "test frames", "MACs", "INT8 B", "files"):
        table.add_column(col, justify="right" if col[0].isupper() or " " in col else "left")
    for r in rows:
        m = r["metrics"]
        table.add_row(f"zoo:{r['name']}", r["summary"] or r["spec_short"],
                      f"{m['fp32_test_pct']:.2f}", f"{m['int8_test_pct']:.2f}",
                      f"{m['test_frames']:,}", f"{m['macs']:,}", f"{m['int8_bytes']:,}",
                      r["files"])  # fmt: skip
    _console().print(table)


def show(
    name: str = typer.Argument(..., help="Entry name (optimized or zoo:optimized)."),
    zoo: Path | None = ZooDirOpt,
    as_json: options.JsonOpt = False,
) -> None:
    """The entry's model card (Markdown text; --json: the card itself)."""
    from amrkit import pretrained
    from amrkit.fileio import dumps_json
    from amrkit.zoo.cards import render_markdown
    from amrkit.zoo.check import load_card

    parsed = pretrained.parse_ref(name)
    card = load_card(parsed[0] if parsed else name, zoo)
    typer.echo(dumps_json(card) if as_json else render_markdown(card), nl=False)


def verify(
    name: str | None = typer.Argument(None, help="Entry name (default: every entry)."),
    measure: bool = typer.Option(
        False, "--measure", help="Also re-measure on a fresh test set and compare with the card."
    ),
    frames_per_class: int = typer.Option(
        200, "--frames-per-class", min=1, help="Fresh test frames per class (--measure)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Seed of the fresh test set (default: an unused one)."
    ),
    zoo: Path | None = ZooDirOpt,
    threads: options.InferThreadsOpt = None,
    as_json: options.JsonOpt = False,
) -> None:
    """Check every file of the entries against the index's SHA-256 (and, with --measure,
    the card's accuracy within 4 standard errors and the golden model's bit-exactness)."""
    from amrkit import pretrained
    from amrkit.errors import AmrkitError
    from amrkit.fileio import dumps_json
    from amrkit.zoo.check import compare_to_card, load_card, remeasure

    names = [name.removeprefix(pretrained.PREFIX)] if name else pretrained.names(zoo)
    results = []
    for n in names:
        pretrained.verify(n, zoo)
        row: dict[str, Any] = {"entry": n, "files": "ok"}
        if measure:
            got = remeasure(n, frames_per_class=frames_per_class, seed=seed, threads=threads,
                            zoo_dir=zoo)  # fmt: skip
            row["measure"] = compare_to_card(load_card(n, zoo), got)
        results.append(row)
    bad = [r["entry"] for r in results if "measure" in r and not r["measure"]["ok"]]
    if as_json:
        typer.echo(dumps_json(results), nl=False)
    else:
        for r in results:
            typer.echo(f"zoo:{r['entry']}: files ok" + _measured(r.get("measure")))
        if not results:
            typer.echo("the zoo has no entry yet")
    if bad:
        raise AmrkitError(f"entries {', '.join(bad)} differ from their cards beyond the margin")


def _measured(c: dict[str, Any] | None) -> str:
    if c is None:
        return ""
    parts = [
        f"{p.upper()} {c[p]['measured_pct']:.2f} % vs card {c[p]['card_pct']:.2f} % "
        f"(Δ {c[p]['diff_pt']:+.2f} pt, margin {c[p]['margin_pt']:.2f})"
        for p in ("fp32", "int8")
    ]
    return (
        f"; {', '.join(parts)} on {c['frames']:,} frames (seed {c['seed']}); golden "
        f"bit-exact: {c['golden_bit_exact']}"
    )


def rebuild(
    name: str = typer.Argument(..., help="Entry name (optimized or zoo:optimized)."),
    out: Path = typer.Option(..., "--out", help="Folder for the data, run, entry, comparison."),
    device: options.DeviceOpt = "auto",
    workers: int = typer.Option(2, "--workers", min=1, help="Synthesis workers."),
    threads: options.InferThreadsOpt = None,
    tolerance: float = typer.Option(
        0.3, "--tolerance", min=0, help="Largest |rebuild - card| accuracy, points."
    ),
    no_mcu: bool = typer.Option(False, "--no-mcu", help="Do not measure the Cortex-M cost."),
    zoo: Path | None = ZooDirOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    as_json: options.JsonOpt = False,
) -> None:
    """Rerun an entry's card (generate its data, train, quantize, measure) and compare."""
    from amrkit import pretrained
    from amrkit.fileio import dumps_json
    from amrkit.zoo.rebuild import rebuild as run_rebuild

    log = (lambda m: None) if quiet or as_json else (lambda m: typer.echo(m, err=True))
    parsed = pretrained.parse_ref(name)
    result = run_rebuild(
        parsed[0] if parsed else name, out, device=device, workers=workers, threads=threads,
        tolerance_pt=tolerance, mcu=False if no_mcu else None, progress=not (quiet or as_json),
        zoo_dir=zoo, log=log,
    )  # fmt: skip
    if as_json:
        typer.echo(dumps_json(result), nl=False)
        return
    for p in ("fp32", "int8"):
        r = result[f"{p}_test"]
        typer.echo(f"{p.upper()}: card {r['card']:.2f} %, rebuild {r['rebuild']:.2f} % "
                   f"(Δ {r['diff_pt']:+.2f} pt)")  # fmt: skip
    typer.echo(
        f"within ±{result['tolerance_pt']} pt: {result['within_tolerance']}; data identical: "
        f"{result['data_identical']}; wrote {Path(out) / 'comparison.json'}"
    )


def docs(
    out: Path = typer.Option(Path("docs/zoo"), "--out", help="Folder for the Markdown cards."),
    zoo: Path | None = ZooDirOpt,
) -> None:
    """Write every entry's card as Markdown, the list as README.md and the figure pareto.png
    into --out."""
    from amrkit.zoo.build import write_docs

    for p in write_docs(out, zoo):
        typer.echo(f"wrote {p}")


def remove(
    name: str = typer.Argument(..., help="Entry name."),
    zoo: Path | None = ZooDirOpt,
) -> None:
    """Remove an entry (its folder and its index record)."""
    from amrkit import pretrained

    pretrained.remove_entry(name.removeprefix(pretrained.PREFIX), zoo)
    typer.echo(f"removed zoo:{name.removeprefix(pretrained.PREFIX)}")


SUBGROUPS = {
    "zoo": (
        "Pretrained models: add a trained run with a measured card, list, show, verify, "
        "rebuild. Use an entry anywhere as zoo:NAME (run) or zoo:NAME:int8 (INT8 ONNX).",
        {
            "add": add,
            "list": list_entries,
            "show": show,
            "verify": verify,
            "rebuild": rebuild,
            "docs": docs,
            "remove": remove,
        },
    )
}


def _card_config(config, test_frames_per_class, test_snr, test_seed, sweep_snrs,
                 sweep_frames_per_snr, golden_frames, no_mcu):  # fmt: skip
    """The CardConfig of ``zoo add``: --config's (or the defaults), the flags given on top."""
    from amrkit.config import from_file, replace
    from amrkit.data.synth import parse_snrs
    from amrkit.zoo.measure import CardConfig

    card_cfg = from_file(CardConfig, config) if config is not None else CardConfig()
    return replace(
        card_cfg,
        test_frames_per_class=test_frames_per_class,
        test_snr_db=test_snr,
        test_seed=test_seed,
        sweep_snrs=None if sweep_snrs is None else parse_snrs(sweep_snrs),
        sweep_frames_per_snr=sweep_frames_per_snr,
        golden_frames=golden_frames,
        mcu=False if no_mcu else None,
    )


def _int8_step(quant_config, calib_frames, int8, qat_config):
    """(ptq, qat) for ``add_entry``: the builder's PTQ, or a QAT run here (--qat-config), or
    neither (--int8: a QAT file already made); more than one choice is refused."""
    from amrkit.config import from_file, replace
    from amrkit.errors import AmrkitError
    from amrkit.quant import PTQConfig, QATConfig

    steps = {"--int8": int8, "--qat-config": qat_config,
             "--quant-config/--calib-frames": quant_config or calib_frames}  # fmt: skip
    chosen = [k for k, v in steps.items() if v is not None]
    if len(chosen) > 1:
        raise AmrkitError(
            f"{chosen[0]} and {chosen[1]} both choose the INT8 file: --int8 takes a QAT file "
            "already made, --qat-config runs QAT here, --quant-config/--calib-frames set the "
            "builder's PTQ; give one"
        )
    if int8 is not None or qat_config is not None:
        return None, (from_file(QATConfig, qat_config) if qat_config is not None else None)
    ptq = from_file(PTQConfig, quant_config) if quant_config is not None else PTQConfig()
    return replace(ptq, calib_frames=calib_frames), None
