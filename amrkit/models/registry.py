"""Named model builders. Duplicate registrations and unknown names are errors.

A builder is a function returning a :class:`CNNSpec`; ``@register("name")`` adds it. Names
start with a letter (so they never look like a spec string such as ``16x8p,32x8``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from amrkit.errors import AmrkitError
from amrkit.models.spec import (
    SPEC_SUFFIXES,
    CNNSpec,
    load_spec_file,
    looks_like_spec_string,
    parse_spec_string,
)

if TYPE_CHECKING:
    from amrkit.models.cnn import AmrCNN

Builder = Callable[[], CNNSpec]
_REGISTRY: dict[str, Builder] = {}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register("original")`` on a function returning a :class:`CNNSpec`."""
    if not isinstance(name, str) or not _NAME.match(name) or name.lower().endswith(SPEC_SUFFIXES):
        raise AmrkitError(
            f"model name {name!r} is not allowed; use letters, digits, '_', '-', '.', "
            "starting with a letter, not ending in a file suffix"
        )

    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise AmrkitError(f"model {name!r} is already registered; choose another name")
        _REGISTRY[name] = fn
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove a registered model (plugins, tests)."""
    if name not in _REGISTRY:
        raise AmrkitError(
            f"model {name!r} is not registered; registered: {', '.join(list_models())}"
        )
    del _REGISTRY[name]


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def describe(name: str) -> str:
    """First line of the builder's docstring ('' if none)."""
    fn = _builder(name)
    return (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""


def _unknown(name: str) -> AmrkitError:
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return AmrkitError(
        f"unknown model {name!r}{hint}; registered: {', '.join(list_models())}; "
        "or give a spec file (.yaml/.json) or a string like 16x8p,32x8"
    )


def _builder(name: str) -> Builder:
    if name not in _REGISTRY:
        raise _unknown(name)
    return _REGISTRY[name]


def get_spec(name_or_path: str, num_classes: int | None = None) -> CNNSpec:
    """A registry name, a YAML/JSON spec file, or a spec string (``16x8p,32x8``)."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise AmrkitError(
            f"model {name_or_path!r} is empty; give a registered name "
            f"({', '.join(list_models())}), a spec file or a string like 16x8p,32x8"
        )
    text = name_or_path.strip()
    if text in _REGISTRY:
        spec = _REGISTRY[text]()
        if not isinstance(spec, CNNSpec):
            raise AmrkitError(
                f"model builder {text!r} returned {type(spec).__name__}, not a CNNSpec"
            )
    elif Path(text).suffix.lower() in SPEC_SUFFIXES:
        spec = load_spec_file(text)
    elif looks_like_spec_string(text):
        spec = parse_spec_string(text)
    else:
        raise _unknown(text)
    return spec.with_classes(num_classes) if num_classes is not None else spec


def build(spec_or_name: CNNSpec | str, num_classes: int | None = None) -> AmrCNN:
    from amrkit.models.cnn import AmrCNN  # torch is imported only when a model is built

    spec = spec_or_name if isinstance(spec_or_name, CNNSpec) else get_spec(spec_or_name)
    if num_classes is not None:
        spec = spec.with_classes(num_classes)
    return AmrCNN(spec)
