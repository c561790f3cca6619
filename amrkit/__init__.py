"""amrkit: small, fast automatic-modulation-recognition CNNs for edge radios."""

from amrkit.errors import AmrkitError

__version__ = "0.1.0"

__all__ = ["AmrkitError", "__version__"]
