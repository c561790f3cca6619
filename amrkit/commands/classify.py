"""CLI commands (classify)."""

COMMANDS: dict = {}
