"""``atlembic migrate <verb>``: Atlas's verbs with Atlas's flags, for a project set up for Atlas (an atlas.hcl
``env``, Atlas's URLs): diff, new, checkpoint, apply, down, set, status, lint, hash, validate, rebase. Each runs the
command the Alembic-style verb runs (revision, checkpoint, upgrade, downgrade, stamp, status, lint, hash, validate,
rebase) on the
`Settings` of the env.
Parsing and printing only."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from atlembic import commands
from atlembic.atlas import AtlasEnv, load_env, load_envs
from atlembic.atlas.project import directory_url, indent_of
from atlembic.atlas.schema_hcl import schema_hcl
from atlembic.cli.app import ATLAS_FAILURE, Globals, app, fails_as, globals_of
from atlembic.cli.lint import run_lint
from atlembic.cli.migrate import (
    REBASE_CONTEXT,
    CanaryOpt,
    ParallelOpt,
    RebaseVersionArg,
    emit_json,
    parse_duration,
    show_rebase,
    show_status,
    show_status_fleet,
    show_upgrade_fleet,
)
from atlembic.cli.plan import IN_SYNC
from atlembic.config import Settings
from atlembic.errors import AtlembicError, mask_url, one_line, plural
from atlembic.migrate.directory import MigrationDir, MigrationFile, import_directory
from atlembic.migrate.executor import AppliedFile, ApplyReporter, StatementError
from atlembic.target import run_fleet

migrate_app = typer.Typer(
    help="Atlas's migrate verbs and flags, for an atlas.hcl project (--env) or Atlas's URLs: no docker needed, "
         "docker:// dev URLs are the local servers atlembic starts itself.",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(migrate_app, name="migrate")
fails_as("migrate", ATLAS_FAILURE)

EnvOpt = Annotated[str | None, typer.Option("--env", metavar="NAME", help="the atlas.hcl env to use")]
ConfigOpt = Annotated[str | None, typer.Option(
    "--config", metavar="URL", help="the project file (file://path; default: ./atlas.hcl)")]
VarOpt = Annotated[list[str] | None, typer.Option(
    "--var", metavar="NAME=VALUE", help="a value for a variable of atlas.hcl; repeated for a list")]
DirOpt = Annotated[str | None, typer.Option(
    "--dir", metavar="URL", help="the migration directory (default: the env's migration.dir, else "
                                 "file://migrations)")]
DirFormatOpt = Annotated[str | None, typer.Option(
    "--dir-format", metavar="FORMAT", help="the directory's format when its URL has no ?format= (Atlas's older flag)")]
UrlOpt = Annotated[str | None, typer.Option("-u", "--url", metavar="URL", help="the target database (Atlas's URL)")]
DevUrlOpt = Annotated[str | None, typer.Option(
    "--dev-url", metavar="URL", help="the dev database (docker://postgres/15/dev: the local PostgreSQL server)")]
FormatOpt = Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, or json (for tools)")]


def _env(env: str | None, config: str | None, var: list[str] | None, *, url: str | None = None,
         dev_url: str | None = None, directory: str | None = None, to: list[str] | None = None,
         dir_format: str | None = None) -> AtlasEnv:
    loaded = load_env(config, env, var or (), url=url, dev_url=dev_url, directory=directory, to=to,
                      dir_format=dir_format)
    for warning in loaded.warnings:
        typer.echo(f"atlembic: warning: {warning}", err=True)
    return loaded


@migrate_app.command("diff")
def diff(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="the new file's name after its version")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None,
    dev_url: DevUrlOpt = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", metavar="URL", help="the desired schema instead of the env's src (file://schema.sql, a directory)")]
    = None,
) -> None:
    """Plan the changes from the migration directory to the desired schema (src) and write them as a file."""
    g = globals_of(ctx)
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, to=to, dir_format=dir_format)
    if atlas.settings.schema_source is None:
        raise AtlembicError(f'no desired schema: give env "{atlas.name}" a src, or pass --to' if env else
                            "no desired schema: pass --to, or --env NAME of an atlas.hcl env with a src")
    result = commands.revision(atlas.settings, name, autogenerate=True, exact_name=True)
    assert not isinstance(result, Path)  # planned, not an empty file
    if result.path is None:
        g.say(IN_SYNC)


@migrate_app.command("new")
def new(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="the new file's name after its version")] = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None,
) -> None:
    """Write a new empty migration file (<version>[_NAME].sql) and atlas.sum."""
    atlas = _env(env, config, var, directory=directory, dir_format=dir_format)
    commands.revision(atlas.settings, name, exact_name=True)


# Atlas counts the arguments ("accepts 1 arg(s), received 2"): the ones after VERSION come as ctx.args (a list
# argument would be labelled <list[str]> in the help).
@migrate_app.command("set", context_settings={"allow_extra_args": True})
def set_(
    ctx: typer.Context,
    version_arg: Annotated[str | None, typer.Argument(
        metavar="VERSION", help="the version to record as the last applied one (default: the last file's, on a "
                                "database that has revisions)")] = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None, url: UrlOpt = None,
) -> None:
    """Record the files up to VERSION as applied without running them, and forget those after it (Atlas's
    ``migrate set``, atlembic's ``stamp``)."""
    version = [version_arg, *ctx.args] if version_arg is not None else []
    if len(version) > 1:
        raise AtlembicError(f"accepts 1 arg(s), received {len(version)}")
    settings = _target(_env(env, config, var, url=url, directory=directory, dir_format=dir_format))
    versions = [f.version for f in settings.migration_dir().checked().files()]
    if version:
        if version[0] not in versions:
            raise AtlembicError(f'migration with version "{version[0]}" not found')
        target = version[0]
    elif not commands.current(settings).revisions:
        raise AtlembicError("accepts 1 arg(s), received 0")
    else:
        target = versions[-1] if versions else "base"
    result = commands.stamp(settings, target)
    changes = sorted([*(("+", r) for r in [*result.resolved, *result.added]), *(("-", r) for r in result.removed)],
                     key=lambda change: change[1].version)
    if not changes:
        return
    sets = len(result.resolved) + len(result.added)
    summary = ", ".join(part for part in (f"{sets} set" if sets else "",
                                           f"{len(result.removed)} removed" if result.removed else "") if part)
    typer.echo(f"Current version is {result.target} ({summary}):" if result.target
               else f"All revisions deleted ({len(changes)} in total):")
    typer.echo("")
    for sign, rev in changes:
        typer.echo(f"  {sign} {rev.version}" + (f" ({rev.description})" if rev.description else ""))
    typer.echo("")


@migrate_app.command("down")
def down(
    ctx: typer.Context,
    amount: Annotated[int | None, typer.Argument(metavar="N", help="revert the last N applied files (default 1)")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None, url: UrlOpt = None,
    dev_url: DevUrlOpt = None,
    to_version: Annotated[str | None, typer.Option(
        "--to-version", "--to", metavar="VERSION", help="revert the files applied after VERSION")] = None,
    amount_opt: Annotated[int | None, typer.Option("--amount", metavar="N", help="as the N argument")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the planned statements, change nothing")]
    = False,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="revert even when the plan drops data")] = False,
    lock_timeout: Annotated[str | None, typer.Option(
        "--lock-timeout", metavar="DURATION", help="how long to wait for the migration lock (default 10s)")] = None,
) -> None:
    """Revert applied files: the target's schema planned back to the directory's state at the version before them
    on the dev database, refused when it would lose data."""
    g = globals_of(ctx)
    if amount is not None and amount_opt is not None:
        raise AtlembicError("give the amount once: N or --amount N")
    count = amount if amount is not None else amount_opt
    if count is not None and to_version is not None:
        raise AtlembicError("--to-version and an amount cannot be combined")
    if count is not None and count < 1:
        raise AtlembicError(f"the amount of files to revert must be at least 1, not {count}")
    atlas = _env(env, config, var, url=url, dev_url=dev_url, directory=directory, dir_format=dir_format)
    settings = _target(atlas)
    if to_version is None:
        applied = len(commands.current(settings).revisions)
        if not applied:
            g.say("No migration files to revert")
            return
        if (count or 1) > applied:
            raise AtlembicError(f"cannot revert {count} migration files: only {applied} applied")
    result = commands.downgrade(settings, to_version or f"-{count or 1}", sql=dry_run,
                                allow_destructive=allow_destructive,
                                lock_timeout=parse_duration(lock_timeout or atlas.lock_timeout or "10s"))
    if result.nothing_to_do:
        g.say("No migration files to revert")
        return
    statements = [" ".join(s.sql.split()) for s in (result.plan.statements if result.plan else [])]
    g.say(f"Migrating down from version {result.current} to {result.target or 'base'}"
          f" ({plural(len(result.reverted), 'migration')} in total{', dry run' if dry_run else ''}):\n")
    for rev in reversed(result.reverted):
        g.say(f"  -- reverting version {rev.version}")
    for statement in statements:
        g.say(f"    -> {statement};")
    g.say("  -- ok\n" if not dry_run else "")
    g.say(f"  -------------------------\n  -- {plural(len(result.reverted), 'migration')}\n"
          f"  -- {plural(len(statements), 'sql statement')}")


def _envs(env: str | None, config: str | None, var: list[str] | None, **flags: Any) -> list[AtlasEnv]:
    """Every instance of the env (one, unless it has for_each). Instances must differ in their target alone
    (a fleet runs one directory over its targets), and name each target once."""
    instances = load_envs(config, env, var or (), **flags)
    first = instances[0]
    for warning in first.warnings:
        typer.echo(f"atlembic: warning: {warning}", err=True)
    seen: dict[str, Any] = {}
    for one in instances if first.each is not None else ():
        key = one.each["key"] if one.each is not None else None
        if one.settings.url is None:
            raise AtlembicError(f'env "{one.name}": the instance of each.key {key!r} has no url')
        if one.settings.url in seen:
            raise AtlembicError(f'env "{one.name}": each.key {key!r} names the same target as each.key '
                                f"{seen[one.settings.url]!r} ({mask_url(one.settings.url)})")
        seen[one.settings.url] = key
        if replace(one.settings, url=None) != replace(first.settings, url=None) or \
                (one.baseline, one.lock_timeout) != (first.baseline, first.lock_timeout):
            raise AtlembicError(f'env "{one.name}": the instance of each.key {key!r} differs from the first in more '
                                "than its url; atlembic applies one migration directory to every target")
    return instances


def _apply_instances(g: Globals, instances: list[AtlasEnv], target: str, fmt: str, parallel: int, canary: int,
                     **options: Any) -> None:
    """`migrate apply` on every instance of a for_each env through the fleet machinery (upgrade_many): each
    target's Atlas log in order (as Atlas prints one after the other), then one line per target."""
    want_json = _json_format(fmt)
    settings = instances[0].settings
    urls = [one.settings.url or "" for one in instances]
    logs: dict[str, list[str]] = {url: [] for url in urls}
    reporters: dict[str, AtlasApplyReporter] = {}

    def reporter_for(url: str) -> AtlasApplyReporter:
        reporters[url] = AtlasApplyReporter(logs[url].append, settings.dialect)
        return reporters[url]

    targets = commands.upgrade_many(settings, urls, target, parallel=parallel, canary=canary,
                                    reporter_for=reporter_for, **options)
    if not want_json:
        for url, one in zip(urls, targets, strict=True):
            if one.run.ok and one.applied:
                reporters[url].finished()
            elif one.run.ok:
                logs[url].append("No migration files to execute")
            for line in logs[url]:
                g.say(line)
    show_upgrade_fleet(g, urls, want_json, targets)


# Atlas's --format template that prints its report as JSON, which atlembic takes as --format json.
_JSON_TEMPLATE = re.compile(r"\{\{-?\s*json\s+\.\s*-?\}\}")
# schema apply's template for its report's Changes alone.
_JSON_CHANGES = re.compile(r"\{\{-?\s*json\s+\.Changes\s*-?\}\}")


def _json_format(fmt: str) -> bool:
    if fmt not in ("text", "json") and not _JSON_TEMPLATE.fullmatch(fmt.strip()):
        raise AtlembicError(f"--format {fmt!r}: expected text or json (or Atlas's '{{{{ json . }}}}')")
    return fmt != "text"


def _target(atlas: AtlasEnv) -> Settings:
    if atlas.settings.url is None:
        raise AtlembicError("no target database: pass --url, or --env NAME of an env with a url")
    return atlas.settings


@migrate_app.command("checkpoint")
def checkpoint(
    tag: Annotated[str | None, typer.Argument(metavar="[TAG]", help="the checkpoint's tag (its directive's argument)")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None,
    dev_url: DevUrlOpt = None,
) -> None:
    """Write a checkpoint file holding the whole schema the directory builds, where fresh databases start."""
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, dir_format=dir_format)
    commands.checkpoint(atlas.settings, tag)


@migrate_app.command("apply")
def apply(
    ctx: typer.Context,
    amount: Annotated[int | None, typer.Argument(metavar="N", help="apply only the next N pending files")] = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None, url: UrlOpt = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="VERSION", help="start a database without revisions at VERSION")] = None,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="apply to a database that has tables but no revisions")] = False,
    tx_mode: Annotated[str, typer.Option(
        "--tx-mode", metavar="MODE", help="a transaction per file, one for all files, or none: file, all or none")]
    = "file",
    lock_timeout: Annotated[str | None, typer.Option(
        "--lock-timeout", metavar="DURATION", help="how long to wait for the migration lock (default 10s)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="print the files and statements that would run, run nothing")] = False,
    parallel: ParallelOpt = 1, canary: CanaryOpt = 0,
    fmt: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="text, or json (an env with for_each: one object per target)")] = "text",
) -> None:
    """Apply the pending migration files to the target database (--url, else the env's url; every instance of an
    env with for_each: each on its own, its log, then one line per target)."""
    g = globals_of(ctx)
    if amount is not None and amount < 1:
        raise AtlembicError(f"cannot apply '{amount}' migration files")
    if tx_mode not in ("file", "all", "none"):
        raise AtlembicError(f'unknown tx-mode "{tx_mode}"')
    instances = _envs(env, config, var, url=url, directory=directory, dir_format=dir_format)
    atlas = instances[0]
    lock = parse_duration(lock_timeout or atlas.lock_timeout or "10s")
    target = f"+{amount}" if amount else "head"
    options: dict[str, Any] = {"baseline": baseline or atlas.baseline, "allow_dirty": allow_dirty,
                               "tx_mode": tx_mode, "lock_timeout": lock}
    want_json = _json_format(fmt)
    if dry_run and want_json:
        raise AtlembicError("--dry-run prints Atlas's log; it does not go with --format json")
    if dry_run:  # every instance's log in turn, as Atlas prints them; nothing runs anywhere
        for one in instances:
            _apply_one(g, _target(one), target, dry_run=True, **options)
        return
    if atlas.each is not None or want_json:  # json: one object per target, a fleet of one
        _target(atlas)
        _apply_instances(g, instances, target, fmt, parallel, canary, **options)
        return
    _apply_one(g, _target(atlas), target, dry_run=False, **options)


def _apply_one(g: Globals, settings: Settings, target: str, *, dry_run: bool, **options: Any) -> None:
    """`migrate apply` on one target: Atlas's log as the files run, or with `dry_run` the files and statements
    that would run."""
    reporter = None if dry_run else AtlasApplyReporter(g.say, settings.dialect)
    result = commands.upgrade(settings, target, dry_run=dry_run, reporter=reporter, **options)
    if reporter is not None:
        if result.applied:
            reporter.finished()
        else:
            g.say("No migration files to execute")
        return
    if not result.pending:
        g.say("No migration files to execute")
        return
    dry = AtlasApplyReporter(g.say, settings.dialect)
    dry.planned(result.pending, result.current or options["baseline"])
    for file in result.pending:
        g.say(f"  -- migrating version {file.version}")
        for statement in file.statements(settings.dialect):
            g.say(f"    -> {statement.text}")
        g.say("  -- ok (dry run)\n")
    statements = sum(len(f.statements(settings.dialect)) for f in result.pending)
    g.say(f"  -------------------------\n  -- {plural(len(result.pending), 'migration')}\n"
          f"  -- {plural(statements, 'sql statement')}")


class AtlasApplyReporter(ApplyReporter):
    """Atlas's apply log, printed as the files run: the header, each file's statements as they are applied, its
    time, and the totals; a failing statement ends it (the FAILED line follows)."""

    def __init__(self, say: Callable[[str], None], dialect: str) -> None:
        self.say, self.dialect = say, dialect
        self.statements: list[str] = []
        self.shown = 0  # statements of the current file printed
        self.files = self.done = 0
        self.elapsed_ns = 0

    def planned(self, files: Sequence[MigrationFile], current: str | None) -> None:
        if files:
            start = f" from {current}" if current else ""
            self.say(f"Migrating to version {files[-1].version}{start} ({plural(len(files), 'migration')} in "
                     "total):\n")

    def file_started(self, file: MigrationFile, start: int, total: int) -> None:
        self.say(f"  -- migrating version {file.version}")
        self.statements = [s.text for s in file.statements(self.dialect)]
        self.shown = start

    def statement_done(self, file: MigrationFile, done: int) -> None:
        # `done` may jump by more than one: PostgreSQL runs a file's transaction as one batch
        for text in self.statements[self.shown:done]:
            self.say(f"    -> {text}")
        self.done += max(done - self.shown, 0)
        self.shown = max(self.shown, done)

    def file_done(self, applied: AppliedFile) -> None:
        self.files += 1
        self.elapsed_ns += applied.elapsed_ns
        self.say(f"  -- ok ({applied.elapsed_ns / 1e6:.3f}ms)\n")

    def file_failed(self, file: MigrationFile, error: StatementError) -> None:
        self.say(f"    -> {error.statement.text}\n    Error: {one_line(error.cause, first_line=True)}")
        self.say(f"  -------------------------\n  -- {plural(self.files, 'migration')} ok (1 with errors)\n"
                   f"  -- {plural(self.done, 'sql statement')} ok (1 with errors)")

    def finished(self) -> None:
        self.say(f"  -------------------------\n  -- {self.elapsed_ns / 1e6:.3f}ms\n"
                   f"  -- {plural(self.files, 'migration')}\n  -- {plural(self.done, 'sql statement')}")


@migrate_app.command("status")
def status(
    ctx: typer.Context, env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None,
    url: UrlOpt = None, fmt: FormatOpt = "text",
) -> None:
    """Atlas's migration status of the target: current, next, executed and pending files (an env with for_each:
    one line, or json object, per target)."""
    g = globals_of(ctx)
    instances = _envs(env, config, var, url=url, directory=directory, dir_format=dir_format)
    if instances[0].each is None:
        show_status(g, commands.status(_target(instances[0])), fmt)
        return
    want_json = _json_format(fmt)
    show_status_fleet(g, run_fleet(instances[0].settings, [one.settings.url or "" for one in instances],
                                   commands.status), want_json)


@migrate_app.command("lint")
def lint(
    ctx: typer.Context, env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None,
    dev_url: DevUrlOpt = None,
    latest: Annotated[int | None, typer.Option(
        "--latest", metavar="N", help="analyze the last N files (default: the env's lint.latest, else all)")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, json or github")] = "text",
) -> None:
    """Analyze migration files for destructive, data-dependent, incompatible and locking changes."""
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, dir_format=dir_format)
    run_lint(globals_of(ctx), atlas.settings, fmt, latest=latest if latest is not None else atlas.lint_latest)


@migrate_app.command("hash")
def hash_(env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
          dir_format: DirFormatOpt = None) -> None:
    """Recompute atlas.sum from the migration files."""
    commands.hash_directory(_env(env, config, var, directory=directory, dir_format=dir_format).settings)


@migrate_app.command("validate")
def validate(
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, directory: DirOpt = None,
    dir_format: DirFormatOpt = None, dev_url: DevUrlOpt = None,
) -> None:
    """Check atlas.sum and replay every migration file on the dev database."""
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, dir_format=dir_format)
    commands.validate(atlas.settings)


@migrate_app.command("import")
def import_(
    source: Annotated[str, typer.Option("--from", metavar="URL",
                                        help="the directory to convert: file://dir?format=golang-migrate|goose|flyway|liquibase|dbmate")],
    target: Annotated[str, typer.Option("--to", metavar="URL", help="the empty Atlas directory to write")],
) -> None:
    """Convert a migration directory of another format to Atlas's (up parts only) and write its atlas.sum."""
    from_dir, from_format = directory_url(source, Path.cwd(), None, "--from")
    to_dir, to_format = directory_url(target, Path.cwd(), None, "--to")
    import_directory(MigrationDir(from_dir, from_format), MigrationDir(to_dir, to_format))


@migrate_app.command("rebase", context_settings=REBASE_CONTEXT)
def rebase(
    ctx: typer.Context, version: RebaseVersionArg, env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None,
    directory: DirOpt = None, dir_format: DirFormatOpt = None, dev_url: DevUrlOpt = None,
) -> None:
    """Give migration files merged in below the latest version new versions after it (atlembic rebase)."""
    atlas = _env(env, config, var, dev_url=dev_url, directory=directory, dir_format=dir_format)
    show_rebase(globals_of(ctx), commands.rebase(atlas.settings, [version, *ctx.args]))


schema_app = typer.Typer(
    help="Atlas's schema verbs: inspect a schema, diff two (live databases, migration directories, SQL files, "
         "the models), planned by atlembic's planner, or apply one to a live database.",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(schema_app, name="schema")
fails_as("schema", ATLAS_FAILURE)

ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", metavar="GLOB", help="leave out matching objects (users, *.created_at, app.*); repeatable")]
SchemaFormatOpt = Annotated[str | None, typer.Option(
    "--format", metavar="FORMAT", help='hcl (default), sql, or Atlas\'s template {{ sql . "  " }}')]


def _schema_settings(specs: list[str], env: str | None, config: str | None, var: list[str] | None,
                     dev_url: str | None) -> Settings:
    """The settings the schemas are read with: the first live database's engine (else --dev-url's, the env's)."""
    url = next((s for s in specs if commands.is_database_url(s)), None)
    return _env(env, config, var, url=url, dev_url=dev_url).settings


def _sql_indent(fmt: str) -> str | None:
    """The indentation of an SQL format (None: SQLAlchemy's own lines); `sql` is Atlas's ``{{ sql . }}``."""
    return "" if fmt == "sql" else indent_of(fmt, "--format")


@schema_app.command("inspect")
def schema_inspect(
    url: Annotated[str, typer.Option("-u", "--url", metavar="URL", help="what to inspect: a database URL, "
                                     "file://migrations, file://schema.sql, alembic://alembic.ini or env://src")],
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, dev_url: DevUrlOpt = None,
    exclude: ExcludeOpt = None, fmt: SchemaFormatOpt = None,
) -> None:
    """Print a schema: Atlas's HCL, or the SQL that creates it (--format sql or '{{ sql . }}')."""
    settings = _schema_settings([url], env, config, var, dev_url)
    inspected = commands.schema_inspect(settings, url, tuple(exclude or ()))
    if fmt is None or fmt == "hcl":
        typer.echo(schema_hcl(inspected.schema, inspected.name), nl=False)
    else:
        typer.echo(commands.as_sql(inspected.schema, inspected.dialect, _sql_indent(fmt)), nl=False)


@schema_app.command("diff")
def schema_diff(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", metavar="URL", help="the current schema (a database URL, "
                                        "file://migrations, file://schema.sql, alembic://alembic.ini, env://src)")],
    target: Annotated[list[str], typer.Option("--to", metavar="URL", help="the desired schema (the same kinds; "
                                              "several file:// URLs are one schema)")],
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, dev_url: DevUrlOpt = None,
    exclude: ExcludeOpt = None, fmt: SchemaFormatOpt = None,
) -> None:
    """Print the SQL statements that take the --from schema to the --to schema."""
    settings = _schema_settings([source, *target], env, config, var, dev_url)
    plan = commands.schema_diff(settings, source, target, tuple(exclude or ()))
    if not plan.statements:
        globals_of(ctx).say("Schemas are synced, no changes to be made.")
        return
    typer.echo(plan.render(None if fmt is None else _sql_indent(fmt)), nl=False)


@schema_app.command("apply")
def schema_apply(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("-u", "--url", metavar="URL",
                                            help="the database to change (default: the env's url)")] = None,
    to: Annotated[list[str] | None, typer.Option(
        "--to", metavar="URL", help="the desired schema (file://schema.sql, file://migrations, alembic://alembic.ini, "
                                    "a database URL; several file:// URLs are one schema; default: the env's src)")]
    = None,
    env: EnvOpt = None, config: ConfigOpt = None, var: VarOpt = None, dev_url: DevUrlOpt = None,
    exclude: ExcludeOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the planned changes, change nothing")] = False,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="apply without asking")] = False,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="apply even when the plan drops tables, columns or other objects")] = False,
    tx_mode: Annotated[str, typer.Option(
        "--tx-mode", metavar="MODE", help="one transaction for the plan, or none: file or none")] = "file",
    fmt: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="text, or json (Atlas's '{{ json . }}', or '{{ json .Changes }}' for "
                                           "the changes alone; with --dry-run or --auto-approve)")] = "text",
) -> None:
    """Change a live database to the desired schema: plan it, print it, ask (or --auto-approve), apply it in a
    transaction where the engine allows, and check the result."""
    g = globals_of(ctx)
    changes_only = _JSON_CHANGES.fullmatch(fmt.strip()) is not None
    want_json = changes_only or _json_format(fmt)
    if want_json and not (dry_run or auto_approve):
        raise AtlembicError("--log and --format can only be used with --dry-run or --auto-approve")
    if not dry_run and not auto_approve and not sys.stdin.isatty():
        raise AtlembicError("schema apply: no terminal to ask for approval: pass --auto-approve (or --dry-run)")
    atlas = _env(env, config, var, url=url, dev_url=dev_url)
    settings = _target(atlas)
    if not to and atlas.settings.schema_source is None:
        raise AtlembicError("no desired schema: pass --to, or --env NAME of an atlas.hcl env with a src")

    def show(outcome: commands.SchemaApply) -> None:
        if not outcome.plan.statements:
            g.say("Schema is synced, no changes to be made")  # Atlas's words, without a full stop
            return
        typer.echo("-- Planned Changes:")
        typer.echo(outcome.plan.render("  "), nl=False)  # as Atlas prints it, tables indented

    def ask(_: commands.SchemaApply) -> bool:
        if auto_approve:
            return True
        if typer.confirm("Apply these changes?", default=False):
            return True
        g.say("Aborted: nothing was changed.")
        return False

    try:
        outcome = commands.schema_apply(settings, to or ["env://src"], tuple(exclude or ()), dry_run=dry_run,
                                        allow_destructive=allow_destructive, on_plan=None if want_json else show,
                                        approve=ask, tx_mode=tx_mode)
    except commands.SchemaApplyError as exc:
        if not want_json:
            raise
        report = _schema_apply_json(exc.outcome, str(exc))
        emit_json(report["Changes"] if changes_only else report)
        raise typer.Exit(g.failure_code) from None
    if want_json:
        report = _schema_apply_json(outcome)
        emit_json(report["Changes"] if changes_only else report)


def _schema_apply_json(outcome: commands.SchemaApply, error: str | None = None) -> dict[str, Any]:
    """Atlas's SchemaApply report (``{{ json . }}``): the statements applied and pending, the failed statement's
    error in Changes, any other error beside them; empty fields left out, as Atlas's are."""
    failed = {"Stmt": outcome.failed[0], "Text": outcome.failed[1]} if outcome.failed else None
    changes = {key: value for key, value in (("Applied", outcome.executed), ("Pending", outcome.pending),
                                             ("Error", failed)) if value}
    report: dict[str, Any] = {"Driver": outcome.dialect, "URL": outcome.url, "Changes": changes}
    if error is not None and failed is None:
        report["Error"] = error
    return report
