"""amrkit.quant."""
