"""``atlembic migrate <verb>``: Atlas's verbs with Atlas's flags, for a project set up for Atlas (an atlas.hcl
``env``, Atlas's URLs): diff, checkpoint, apply, status, lint, hash, validate. Each runs the command the Alembic-style
verb runs (revision --autogenerate, upgrade, status, lint, hash, validate) on the `Settings` of the env.
Parsing and printing only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from atlembic import commands
from atlembic.atlas import AtlasEnv, load_env
from atlembic.cli.app import app, globals_of
from atlembic.cli.lint import run_lint
from atlembic.cli.migrate import parse_duration, show_status
from atlembic.cli.plan import IN_SYNC
from atlembic.errors import AtlembicError, plural

migrate_app = typer.Typer(
    help="Atlas's migrate verbs and flags, for an atlas.hcl project (--env) or Atlas's URLs: no docker needed, "
         "docker:// dev URLs are the local servers atlembic starts itself.",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(migrate_app, name="migrate")

EnvOpt = Annotated[str | None, typer.Option("--env", metavar="NAME", help="the atlas.hcl env to use")]
ConfigOpt = Annotated[str | None, typer.Option(
    "--config", metavar="URL", help="the project file (file://path; default: ./atlas.hcl)")]
VarOpt = Annotated[list[str] | None, typer.Option(
    "--var", metavar="NAME=VALUE", help="a value for a variable of atlas.hcl; repeated for a list")]
DirOpt = Annotated[str | None, typer.Option(
    "--dir", metavar="URL", help="the migration directory (default: the env's migration.dir, else "
                                 "file://migrations)")]
UrlOpt = Annotated[str | None, typer.Option("-u", "--url", metavar="URL", help="the target database (Atlas's URL)")]
DevUrlOpt = Annotated[str | None, typer.Option(
    "--dev-url", metavar="URL", help="the dev database (docker://postgres/15/dev: the local PostgreSQL server)")]
FormatOpt = Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, or json (for tools)")]


def _env(env: str | None, config: str | None, var: list[str] | None, *, url: str | None = None,
         dev_url: str | None = None, directory: str | None = None, to: list[str] | None = None) -> AtlasEnv:
    loaded = load_env(config, env, var or (), url=url, dev_url=dev_url, directory=directory, to=to)
    for warning in loaded.warnings:
        typer.echo(f"atlembic: warning: {warning}", err=True)
    return loaded


@migrate_app.command("diff")
def diff(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="the new file's name after its version")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dev_url: DevUrlOpt = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", metavar="URL", help="the desired schema instead of the env's src (file://schema.sql, a directory)")]
    = None,
) -> None:
    """Plan the changes from the migration directory to the desired schema (src) and write them as a file."""
    g = globals_of(ctx)
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, to=to)
    if atlas.settings.schema_source is None:
        raise AtlembicError(f'no desired schema: give env "{atlas.name}" a src, or pass --to' if env else
                            "no desired schema: pass --to, or --env NAME of an atlas.hcl env with a src")
    result = commands.revision(atlas.settings, name, autogenerate=True)
    assert not isinstance(result, Path)  # planned, not an empty file
    if result.path is None:
        g.say(IN_SYNC)


@migrate_app.command("checkpoint")
def checkpoint(
    tag: Annotated[str | None, typer.Argument(metavar="[TAG]", help="the checkpoint's tag (its directive's argument)")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dev_url: DevUrlOpt = None,
) -> None:
    """Write a checkpoint file holding the whole schema the directory builds, where fresh databases start."""
    commands.checkpoint(_env(env, config, var, dev_url=dev_url, directory=directory).settings, tag)


@migrate_app.command("apply")
def apply(
    ctx: typer.Context,
    amount: Annotated[int | None, typer.Argument(metavar="N", help="apply only the next N pending files")] = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None, url: UrlOpt = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="VERSION", help="start a database without revisions at VERSION")] = None,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="apply to a database that has tables but no revisions")] = False,
    tx_mode: Annotated[str, typer.Option(
        "--tx-mode", metavar="MODE", help="a transaction per file, one for all files, or none: file, all or none")]
    = "file",
    lock_timeout: Annotated[str | None, typer.Option(
        "--lock-timeout", metavar="DURATION", help="how long to wait for the migration lock (default 10s)")] = None,
) -> None:
    """Apply the pending migration files to the target database (--url, else the env's url)."""
    g = globals_of(ctx)
    atlas = _env(env, config, var, url=url, directory=directory)
    if atlas.settings.url is None:
        raise AtlembicError("no target database: pass --url, or --env NAME of an env with a url")
    if amount is not None and amount < 1:
        raise AtlembicError(f"the amount of files to apply must be at least 1, not {amount}")
    result = commands.upgrade(atlas.settings, f"+{amount}" if amount else "head",
                              baseline=baseline or atlas.baseline, allow_dirty=allow_dirty, tx_mode=tx_mode,
                              lock_timeout=parse_duration(lock_timeout or atlas.lock_timeout or "10s"))
    if not result.applied:
        g.say("No migration files to execute")
        return
    last = result.applied[-1].file.version
    start = f" from {result.current}" if result.current else ""
    g.say(f"Migrating to version {last}{start} ({plural(len(result.applied), 'migration')} in total):\n")
    for applied in result.applied:
        g.say(f"  -- migrating version {applied.file.version}")
        for statement in applied.file.statements(atlas.settings.dialect):
            g.say(f"    -> {statement.text}")
        g.say(f"  -- ok ({applied.elapsed_ns / 1e6:.3f}ms)\n")
    total_ns = sum(a.elapsed_ns for a in result.applied)
    statements = sum(a.statements for a in result.applied)
    g.say(f"  -------------------------\n  -- {total_ns / 1e6:.3f}ms\n"
          f"  -- {plural(len(result.applied), 'migration')}\n  -- {plural(statements, 'sql statement')}")


@migrate_app.command("status")
def status(
    ctx: typer.Context, env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    url: UrlOpt = None, fmt: FormatOpt = "text",
) -> None:
    """Atlas's migration status of the target: current, next, executed and pending files."""
    atlas = _env(env, config, var, url=url, directory=directory)
    if atlas.settings.url is None:
        raise AtlembicError("no target database: pass --url, or --env NAME of an env with a url")
    show_status(globals_of(ctx), commands.status(atlas.settings), fmt)


@migrate_app.command("lint")
def lint(
    ctx: typer.Context, env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dev_url: DevUrlOpt = None,
    latest: Annotated[int | None, typer.Option(
        "--latest", metavar="N", help="analyze the last N files (default: the env's lint.latest, else all)")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, json or github")] = "text",
) -> None:
    """Analyze migration files for destructive, data-dependent, incompatible and locking changes."""
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory)
    run_lint(globals_of(ctx), atlas.settings, fmt, latest=latest if latest is not None else atlas.lint_latest)


@migrate_app.command("hash")
def hash_(env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None) -> None:
    """Recompute atlas.sum from the migration files."""
    commands.hash_directory(_env(env, config, var, directory=directory).settings)


@migrate_app.command("validate")
def validate(
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dev_url: DevUrlOpt = None,
) -> None:
    """Check atlas.sum and replay every migration file on the dev database."""
    commands.validate(_env(env, config, var, dev_url=dev_url, directory=directory).settings)
