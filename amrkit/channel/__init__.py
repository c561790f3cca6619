"""amrkit.channel."""
