"""The one device rule: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU when there is one).

Torch and ONNX Runtime see different GPUs (torch's CUDA build, ORT's CUDA provider), so the
same word resolves per runtime: :func:`torch_device` and :func:`ort_device`.
"""

from __future__ import annotations

from amrkit.errors import AmrkitError

DEVICES = ("cpu", "cuda", "cuda:N", "auto")
DEFAULT_DEVICE = "auto"


def parse_device(device: str | None) -> str:
    """Normalize a device word; a one-line error for anything else."""
    text = (device or DEFAULT_DEVICE).strip().lower()
    if text in ("cpu", "cuda", "auto") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise AmrkitError(f"--device {device!r} is not one of {', '.join(DEVICES)}")


def torch_device(device: str | None, local_rank: int | None = None) -> str:
    """A torch device string; ``cuda`` under torchrun means this process's ``cuda:LOCAL_RANK``."""
    text = parse_device(device)
    if text == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if text == "auto":
        text = "cuda" if available else "cpu"
        if text == "cpu":
            return "cpu"
    if not available:
        raise AmrkitError(
            f"--device {device} requested but no CUDA device is available; use --device cpu"
        )
    if text == "cuda" and local_rank is not None:
        return f"cuda:{local_rank}"
    return text


def ort_device(device: str | None) -> str:
    """``cpu`` or ``cuda[:N]`` for ONNX Runtime (``auto``: its CUDA provider if installed)."""
    text = parse_device(device)
    if text == "auto":
        import onnxruntime as ort

        return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
    return text
