"""Network metrics of whatever a user names: a registry name, a spec file or string, a
trained run directory or an ``.onnx`` file (``amrkit metrics``).

It sits above :mod:`amrkit.metrics.network` (specs) and :mod:`amrkit.metrics.onnx_metrics`
(graphs), which do not import each other's dispatcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models.spec import CNNSpec


def model_metrics(
    model: str | Path,
    frame_length: int | None = None,
    num_classes: int | None = None,
    precision: str | None = None,
) -> dict[str, Any]:
    """Metrics of whatever ``model`` names: a ``.onnx`` file, a trained run directory, a
    registry name, a spec file or a spec string.

    ``frame_length`` defaults to the run's / ONNX graph's own, else 1024. ``num_classes``
    only applies to names and specs (a trained artifact has its own). ``precision``
    ("fp32" default, or "int8": the paper's INT8 storage) does not apply to ONNX files,
    whose stored types are read from the graph.
    """
    p = Path(model)
    if p.suffix.lower() == ".onnx":
        if num_classes is not None:
            raise AmrkitError("--num-classes does not apply to an .onnx file; it has its own")
        if precision is not None:
            raise AmrkitError(
                "--precision does not apply to an .onnx file; its stored types are measured"
            )
        if not p.is_file():
            raise AmrkitError(f"ONNX file {str(p)!r} does not exist; check the path")
        from amrkit.metrics.onnx_metrics import onnx_network_metrics

        return onnx_network_metrics(p, frame_length=frame_length)
    if p.is_dir():
        if num_classes is not None:
            raise AmrkitError("--num-classes does not apply to a run directory; it has its own")
        from amrkit.artifacts import RUN_FILE, is_run_dir, read_run_info

        if not is_run_dir(p):
            raise AmrkitError(
                f"{str(p)!r} is a folder but not a run directory (no run.json); pass the --out "
                "folder of 'amrkit train', an .onnx file, a model name or a spec"
            )
        info = read_run_info(p)
        spec = CNNSpec.from_dict(info["spec"], where=str(p / RUN_FILE))
        length = int(frame_length if frame_length is not None else info["frame_length"])
        out = network_metrics(spec, length, precision or "fp32")
        out.update(source="run", path=str(p), classes=list(info.get("classes", [])))
        return out
    from amrkit.models import get_spec, list_models

    spec = get_spec(str(model), num_classes=num_classes)
    out = network_metrics(spec, 1024 if frame_length is None else frame_length, precision or "fp32")
    out["source"] = "registry" if str(model) in list_models() else "spec"
    return out
