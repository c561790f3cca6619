"""amrkit.export."""
