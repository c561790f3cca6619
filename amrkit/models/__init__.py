"""Model zoo: the AMR CNN family, built from specs, exposed through a registry."""

from amrkit.models import zoo as _zoo  # noqa: F401  (registers the built-in models)
from amrkit.models.cnn import AmrCNN
from amrkit.models.registry import build, get_spec, list_models, register
from amrkit.models.spec import CNNSpec, ConvSpec

__all__ = ["AmrCNN", "CNNSpec", "ConvSpec", "build", "get_spec", "list_models", "register"]
