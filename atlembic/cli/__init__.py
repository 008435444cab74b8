"""The command line: the Typer app (`app`) and the modules that register its commands on it."""

from atlembic.cli import atlas, convert, lint, migrate, plan  # noqa: F401  (each registers its commands on `app`)
from atlembic.cli.app import app, collector_paused, entry, exit_now, main

__all__ = ["app", "collector_paused", "entry", "exit_now", "main"]
