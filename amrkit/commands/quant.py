"""CLI commands (quant)."""

COMMANDS: dict = {}
