"""CLI commands (models)."""

COMMANDS: dict = {}
