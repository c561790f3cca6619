"""CLI commands (train)."""

COMMANDS: dict = {}
