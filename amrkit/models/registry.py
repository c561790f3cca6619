"""Named model builders. Duplicate registrations and unknown names are errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from amrkit.errors import AmrkitError
from amrkit.models.cnn import AmrCNN
from amrkit.models.spec import CNNSpec, load_spec_file, parse_spec_string

_REGISTRY: dict[str, Callable[[], CNNSpec]] = {}


def register(name: str) -> Callable[[Callable[[], CNNSpec]], Callable[[], CNNSpec]]:
    """Decorator: ``@register("original")`` on a function returning a :class:`CNNSpec`."""

    def deco(fn: Callable[[], CNNSpec]) -> Callable[[], CNNSpec]:
        if name in _REGISTRY:
            raise AmrkitError(f"model {name!r} is already registered; choose another name")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name_or_path: str, num_classes: int | None = None) -> CNNSpec:
    """A registry name, a YAML/JSON spec file, or a spec string (``16x8p,32x8``)."""
    if name_or_path in _REGISTRY:
        spec = _REGISTRY[name_or_path]()
    elif Path(name_or_path).suffix.lower() in (".yaml", ".yml", ".json"):
        spec = load_spec_file(name_or_path)
    elif "x" in name_or_path and name_or_path[:1].isdigit():
        spec = parse_spec_string(name_or_path)
    else:
        raise AmrkitError(
            f"unknown model {name_or_path!r}; registered: {', '.join(list_models())}; "
            "or give a spec file (.yaml/.json) or a string like 16x8p,32x8"
        )
    return spec.with_classes(num_classes) if num_classes is not None else spec


def build(spec_or_name: CNNSpec | str, num_classes: int | None = None) -> AmrCNN:
    spec = spec_or_name if isinstance(spec_or_name, CNNSpec) else get_spec(spec_or_name)
    if num_classes is not None:
        spec = spec.with_classes(num_classes)
    return AmrCNN(spec)
