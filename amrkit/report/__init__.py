"""amrkit.report."""
