"""CLI commands (simulate)."""

COMMANDS: dict = {}
