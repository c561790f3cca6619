"""Model zoo: the AMR CNN family, built from specs, exposed through a registry."""

from typing import TYPE_CHECKING, Any

from amrkit.models import zoo as _zoo  # noqa: F401  (registers the built-in models)
from amrkit.models.registry import build, describe, get_spec, list_models, register, unregister
from amrkit.models.spec import (
    CNNSpec,
    ConvSpec,
    load_spec_file,
    parse_spec_string,
    save_spec_file,
)

__all__ = [
    "AmrCNN",
    "CNNSpec",
    "ConvSpec",
    "build",
    "describe",
    "get_spec",
    "list_models",
    "load_spec_file",
    "parse_spec_string",
    "register",
    "save_spec_file",
    "unregister",
]

if TYPE_CHECKING:
    from amrkit.models.cnn import AmrCNN


def __getattr__(name: str) -> Any:
    # AmrCNN needs torch; import it on first use so spec-only code stays light
    if name == "AmrCNN":
        from amrkit.models.cnn import AmrCNN

        return AmrCNN
    raise AttributeError(f"module 'amrkit.models' has no attribute {name!r}")
