"""The ``schema`` commands (Atlas's ``schema inspect`` and ``schema diff``, migra's job): a schema read from any
of a live database (a URL, Atlas's or SQLAlchemy's), a migration directory (``file://dir`` holding atlas.sum,
replayed on a clean dev database), SQL DDL (``file://schema.sql`` or a directory of .sql files, run on a clean
dev database), the models (``alembic://[alembic.ini]`` or a path to an .ini, as `revision --autogenerate` loads
them) or an atlas.hcl env's desired schema (``env://src``); several ``file://`` ones are one schema, composed as
Atlas composes its ``--to`` URLs (a src list); `schema_diff` plans the statements from one to the other with
atlembic's planner, `schema_apply` runs them on a live database (Atlas's declarative apply)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from atlembic import autogenerate
from atlembic.atlas.sources import FileSource, ListSource, check_to_urls
from atlembic.atlas.urls import target_url
from atlembic.autogenerate import snapshot as models_cache
from atlembic.autogenerate.plan import Plan
from atlembic.config import Settings, load_settings
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError, mask_url, one_line
from atlembic.migrate.directory import MigrationDir, MigrationFile
from atlembic.migrate.executor import StatementError, file_tx_mode, run_file
from atlembic.migrate.lock import DEFAULT_TIMEOUT, target_lock
from atlembic.replay.lazy import LazyDevDatabase
from atlembic.schema.exclude import exclude_objects
from atlembic.schema.model import Schema
from atlembic.target import connect_target
from atlembic.timings import Timings

__all__ = ["Inspected", "SchemaApply", "SchemaApplyError", "as_sql", "is_database_url", "schema_apply", "schema_diff",
           "schema_inspect"]

_NOT_DATABASES = ("file", "env", "alembic")


def is_database_url(spec: str) -> bool:
    """Whether `spec` names a live database (anything with a scheme but file://, env://, alembic://)."""
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and scheme.lower() not in _NOT_DATABASES and not spec.endswith(".ini")


@dataclass
class Inspected:
    """What `schema inspect` read: the schema, its engine, and the name of the schema it is in (the database's
    default schema for a live database: ``main``, ``public``, the MySQL database; else the engine's usual one)."""

    schema: Schema
    dialect: str
    name: str


def schema_inspect(settings: Settings, spec: str, exclude: tuple[str, ...] = ()) -> Inspected:
    """The schema `spec` names, without what `exclude` (and the env's exclude globs) match."""
    exclude = (*settings.exclude, *exclude)
    timings = Timings()
    names: list[str] = []
    with LazyDevDatabase(settings.dialect, settings.dev_url, timings) as dev:
        schema = exclude_objects(_side(settings, spec, dev, timings, names), exclude)
        engine = engine_for(dev.dialect_name)
        return Inspected(schema, dev.dialect_name, names[0] if names else engine.default_schema_name)


def schema_diff(settings: Settings, source: str, target: list[str], exclude: tuple[str, ...] = ()) -> Plan:
    """The statements that take the schema `source` names to the one `target` names (on `settings`' engine), both
    without what `exclude` (and the env's exclude globs) match."""
    exclude = (*settings.exclude, *exclude)
    timings = Timings()
    with LazyDevDatabase(settings.dialect, settings.dev_url, timings) as dev:
        current = exclude_objects(_side(settings, source, dev, timings), exclude)
        desired = exclude_objects(_composed(settings, target, dev, timings), exclude)
        return autogenerate.plan_changes(current, desired, dev.dialect_name, timings, policy=settings.diff_policy)


@dataclass
class SchemaApply:
    """What `schema apply` planned on the target (`url`, its password masked, of the engine `dialect`), what the
    plan would lose, whether it ran, and the statements it ran as: `executed` (those that took effect) and
    `pending` (the others, from the failed one on); `failed`: the failed statement and the engine's error."""

    url: str
    dialect: str
    plan: Plan
    data_loss: list[str] = field(default_factory=list)
    applied: bool = False
    executed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: tuple[str, str] | None = None


class SchemaApplyError(AtlembicError):
    """`schema apply` planned, then failed or refused: the one-line reason, and the outcome so far."""

    def __init__(self, message: str, outcome: SchemaApply) -> None:
        super().__init__(message)
        self.outcome = outcome


def schema_apply(
    settings: Settings, desired_specs: list[str], exclude: tuple[str, ...] = (), *, dry_run: bool = False,
    allow_destructive: bool = False, on_plan: Callable[[SchemaApply], None] | None = None,
    approve: Callable[[SchemaApply], bool] | None = None, lock_timeout: float = DEFAULT_TIMEOUT,
    tx_mode: str = "file",
) -> SchemaApply:
    """Atlas's declarative ``schema apply``: plan from the target's live schema (``settings.url``) to the one
    `desired_specs` name (as `schema_diff` reads them; both without what `exclude` and the env's globs match,
    under the env's diff policy), hand it to `on_plan`, then, unless `dry_run`, refuse a plan that loses data
    without `allow_destructive`, ask `approve` (None: approved), run it under the target's migration lock (one
    transaction where the engine allows, unless `tx_mode` is ``none``: Atlas's ``--tx-mode none|file``) and check
    that the target now equals the desired schema. Failing after the plan raises `SchemaApplyError`."""
    if tx_mode not in ("file", "none"):
        raise AtlembicError(f'unknown tx-mode "{tx_mode}" (schema apply takes "file" or "none")')
    exclude = (*settings.exclude, *exclude)
    timings = Timings()
    with LazyDevDatabase(settings.dialect, settings.dev_url, timings) as dev:
        desired = exclude_objects(_composed(settings, desired_specs, dev, timings), exclude)
    from atlembic.lint import downgrade_review  # as upgrade's gate: loaded by the commands that use it

    with connect_target(settings) as conn, target_lock(engine_for(conn).lock(conn), lock_timeout):
        dialect = conn.dialect.name
        current = exclude_objects(inspect_schema(conn), exclude)
        plan = autogenerate.plan_changes(current, desired, dialect, timings, policy=settings.diff_policy)
        engine = engine_for(conn)
        # The plan runs as a migration file would (its atlas:txmode header, SQLite's foreign-key switching).
        file = MigrationFile("schema_apply.sql", Path("schema_apply.sql"), plan.render().encode())
        statements = file.statements(engine.scan_options)
        outcome = SchemaApply(mask_url(settings.url or ""), dialect, plan,
                              downgrade_review(settings, plan.diff, dialect)[0],
                              pending=[_command(s.text) for s in statements])
        if on_plan is not None:
            on_plan(outcome)
        if dry_run or not plan.statements:
            return outcome
        if outcome.data_loss and not allow_destructive:
            raise SchemaApplyError(f"schema apply would lose data: {'; '.join(outcome.data_loss)}. Nothing was "
                                   "changed; pass --allow-destructive to apply it anyway", outcome)
        if approve is not None and not approve(outcome):
            return outcome
        try:
            run_file(conn, file, statements, transactions=engine.transactions, tx_mode=tx_mode)
        except StatementError as exc:
            in_one = engine.transactions.transactional_ddl and file_tx_mode(file, tx_mode) != "none"
            done = 0 if in_one else statements.index(exc.statement)
            reason = one_line(exc.cause, first_line=True)
            outcome.executed, outcome.pending = outcome.pending[:done], outcome.pending[done:]
            outcome.failed = (_command(exc.statement.text), reason)
            undone = "rolled back, nothing changed" if in_one else "the statements before it stay applied"
            failed = " ".join(exc.statement.text.split())[:200]
            raise SchemaApplyError(f'schema apply: executing statement "{failed}": {reason}; {undone}',
                                   outcome) from None
        outcome.applied, outcome.executed, outcome.pending = True, outcome.pending, []
        left = autogenerate.plan_changes(exclude_objects(inspect_schema(conn), exclude), desired, dialect,
                                         policy=settings.diff_policy)
        if left.statements:
            raise SchemaApplyError(f"schema apply ran, but {outcome.url} does not equal the desired schema: "
                                   f"{'; '.join(left.diff.describe())}", outcome)
        return outcome


def _command(statement: str) -> str:
    """A statement as Atlas reports a change it applies: without the ``;`` that ends it in a file."""
    return statement.rstrip().removesuffix(";")


def as_sql(schema: Schema, dialect: str, indent: str | None = None) -> str:
    """`schema` as the SQL that creates it (planned from an empty database, as Atlas's ``{{ sql . }}``)."""
    return autogenerate.plan_changes(Schema(), schema, dialect).render(indent)


def _composed(settings: Settings, specs: list[str], dev: LazyDevDatabase, timings: Timings) -> Schema:
    """The schema `specs` name together: one of any kind, or several ``file://`` ones (SQL files and directories)
    run on one clean dev database as a src list, Atlas's rules for several ``--to`` URLs."""
    if len(specs) == 1:
        return _side(settings, specs[0], dev, timings)
    check_to_urls(specs)
    parts = tuple(FileSource(_file_path(spec.partition("://")[2]), spec) for spec in specs)
    return autogenerate.desired_schema_from_sql(dev, ListSource(parts), timings)


def _file_path(rest: str) -> Path:
    """The path of a ``file://`` URL (what follows the scheme), without its query."""
    return Path(urllib.parse.unquote(rest.split("?", 1)[0])).expanduser()


def _side(settings: Settings, spec: str, dev: LazyDevDatabase, timings: Timings, names: list[str] | None = None
          ) -> Schema:
    """The schema `spec` names; a live database's default schema name goes to `names`."""
    scheme, sep, rest = spec.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme == "env":
        if rest != "src":
            raise AtlembicError(f"{spec}: only env://src (the env's desired schema) can be read")
        if settings.schema_source is None:
            raise AtlembicError(f"{spec}: the env has no src (pass --env NAME of an atlas.hcl env with a src)")
        return autogenerate.desired_schema_from_sql(dev, settings.schema_source, timings)
    if scheme == "alembic" or (not sep and spec.endswith(".ini")):
        ini = urllib.parse.unquote(rest) if scheme == "alembic" else spec
        models = load_settings(ini or "alembic.ini")
        return models_cache.desired_side(replace(models, dev_url=settings.dev_url), dev, timings)[0]
    if scheme == "file":
        path = _file_path(rest)
        if path.is_dir() and (path / "atlas.sum").is_file():
            files = MigrationDir(path).checked().files_from_last_checkpoint()
            return autogenerate.replay_schema(dev, files, timings)
        return autogenerate.desired_schema_from_sql(dev, FileSource(path, spec), timings)
    if not sep:
        raise AtlembicError(f"{spec}: give a URL (a database, file://schema.sql, file://migrations, "
                            "alembic://alembic.ini or env://src)")
    url = target_url(spec, Path.cwd())
    engine, on = engine_for(make_url(url)), engine_for(dev.dialect_name)
    if engine.family != on.family:
        raise AtlembicError(f"{mask_url(url)}: a {engine.title} database cannot be compared on a {on.title} dev "
                            "database (give both sides of one engine, or --dev-url)")
    with connect_target(replace(settings, url=url)) as conn:
        if names is not None:
            names.append(sa.inspect(conn).default_schema_name or engine.default_schema_name)
        return inspect_schema(conn)
