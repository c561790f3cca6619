"""Typer command functions, one module per command group (registered by amrkit.cli)."""
