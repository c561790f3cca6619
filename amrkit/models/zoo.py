"""The paper's two networks (Table I)."""

from amrkit.models.registry import register
from amrkit.models.spec import CNNSpec, ConvSpec


@register("original")
def original() -> CNNSpec:
    """MathWorks reference: 6 conv layers, kernel 8, 8,127,520 MACs at L=1024."""
    filters = (16, 24, 32, 48, 64, 96)
    layers = tuple(ConvSpec(f, 8, pool=i < 5) for i, f in enumerate(filters))
    return CNNSpec(layers, name="original")


@register("optimized")
def optimized() -> CNNSpec:
    """The paper's "classic optimization": 7 conv layers, kernels 4 then 2, 2,491,776 MACs."""
    filters = (16, 24, 32, 48, 64, 96, 128)
    layers = tuple(ConvSpec(f, 4 if i == 0 else 2, pool=i < 6) for i, f in enumerate(filters))
    return CNNSpec(layers, name="optimized")
