"""CLI commands (reproduce)."""

COMMANDS: dict = {}
