"""amrkit.signals."""
