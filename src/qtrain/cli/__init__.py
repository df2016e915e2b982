"""The qtrain command line (typer + rich)."""
