"""CLI commands (evaluate)."""

COMMANDS: dict = {}
