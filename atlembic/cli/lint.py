"""``atlembic lint`` (registered on `atlembic.cli.app`): parsing and printing only; the work is in
`atlembic.lint`."""

from __future__ import annotations

from typing import Annotated

import typer

from atlembic.cli.app import Globals, app, globals_of
from atlembic.config import Settings
from atlembic.errors import AtlembicError


@app.command()
def lint(
    ctx: typer.Context,
    latest: Annotated[int | None, typer.Option(
        "--latest", metavar="N", help="analyze the last N migration files")] = None,
    from_version: Annotated[str | None, typer.Option(
        "--from", metavar="VERSION", help="analyze the files after VERSION (e.g. the version production is at)")]
    = None,
    fmt: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="text, json or github (annotations)")] = "text",
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL", help="target database for data-dependent checks (read-only queries)")] = None,
) -> None:
    """Analyze migration files for destructive, data-dependent, incompatible and locking changes.

    Each file is analyzed against the dev database's state right before it. Exits 1 when a finding of
    an erroring analyzer ([atlembic] lint_error, default: destructive) is present.
    """
    g = globals_of(ctx)
    run_lint(g, g.settings(), fmt, latest=latest, from_version=from_version, url=url or g.url)


def run_lint(g: Globals, settings: Settings, fmt: str, *, latest: int | None = None, from_version: str | None = None,
             url: str | None = None) -> None:
    """Lint the chosen files and print the findings (exit 1 when an erroring analyzer found something)."""
    from atlembic import lint as lint_module

    if fmt not in lint_module.FORMATS:
        raise AtlembicError(f'unknown --format "{fmt}" (expected "text", "json" or "github")')
    result = lint_module.lint_directory(settings, latest=latest, from_version=from_version, url=url)
    lines = lint_module.render(result, fmt).splitlines()
    if g.quiet and fmt != "json":
        lines = lines[: len(result.findings)]  # -q: the findings only, no summary
    if lines:
        typer.echo("\n".join(lines))
    if result.errors:
        raise typer.Exit(1)
