"""amrkit.metrics."""
