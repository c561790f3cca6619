"""Typer options shared by several commands, declared once with one help text each.

A command module imports this module (``from amrkit.commands import options``) and uses the
aliases as annotations, with the default in the signature: ``format: options.FormatOpt =
None``, ``as_json: options.JsonOpt = False``. The command modules use ``from __future__
import annotations``, so Typer resolves these annotation strings in the module's globals:
keep the import at module level (not under ``TYPE_CHECKING``).

The dataset options are the ones every command that reads a dataset exposes (see
``docs/CONVENTIONS.md``); :func:`open_options` turns them into the keyword arguments of
:func:`amrkit.data.open.open_frames`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

# Literal, not built from amrkit.data.open.FORMATS, so `amrkit --help` does not import numpy;
# tests/commands/test_options.py checks that the two agree.
FORMATS_HELP = "amrkit, radioml2016, radioml2018, npz"

FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"Dataset format: {FORMATS_HELP} (default: detected from the content).",
    ),
]
ClassesOpt = Annotated[
    str | None,
    typer.Option(
        "--classes",
        help="Keep only these classes (comma list, e.g. BPSK,QPSK), relabelled in this order.",
    ),
]
ClassesFileOpt = Annotated[
    str | None,
    typer.Option(
        "--classes-file",
        help='JSON list of class names, e.g. ["BPSK", "QPSK"], for files that carry none '
        "(RadioML 2018, .npz without classes).",
    ),
]
SnrMinOpt = Annotated[
    float | None, typer.Option("--snr-min", help="Keep frames with SNR >= this (dB).")
]
SnrMaxOpt = Annotated[
    float | None, typer.Option("--snr-max", help="Keep frames with SNR <= this (dB).")
]
# Seed of the derived split of files without one, for commands that apply a trained model.
# Resolve it with amrkit.data.split.resolve_split_seed(value, the model's record).
SplitSeedOpt = Annotated[
    int | None,
    typer.Option(
        "--split-seed",
        min=0,
        help="Seed of the derived train/val/test split for files without one; default: the "
        "one recorded with the model, else 0.",
    ),
]

# The one device rule (amrkit.runtime.device): the default is a GPU when there is one.
DeviceOpt = Annotated[
    str,
    typer.Option("--device", help="cpu, cuda, cuda:N or auto (a GPU when there is one)."),
]
# Frames with NaN/inf samples: an error by default, or skipped and counted.
DropNonfiniteOpt = Annotated[
    bool,
    typer.Option(
        "--drop-nonfinite",
        help="Skip frames holding NaN or inf samples (and report how many) instead of "
        "stopping with an error.",
    ),
]
# Printing the command's result as JSON instead of text or tables.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of text.")]
# Intra-op threads of the inference runs (PyTorch or ONNX Runtime).
InferThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="Threads for inference in PyTorch / ONNX Runtime (default: the runtime's choice).",
    ),
]


def open_options(
    format: str | None,
    classes: str | None,
    classes_file: str | None,
    snr_min: float | None,
    snr_max: float | None,
) -> dict[str, Any]:
    """The dataset options as keyword arguments of ``open_frames`` (and ``DataOptions``)."""
    return {
        "format": format,
        "classes": classes,
        "classes_file": classes_file,
        "snr_min": snr_min,
        "snr_max": snr_max,
    }
