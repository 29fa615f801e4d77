"""The `mas` command line. Thin: parse, call the core, render. Nothing imports this package."""

from mas_cli.cli.app import app, main

__all__ = ["app", "main"]
