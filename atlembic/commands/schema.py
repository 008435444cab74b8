"""The ``schema`` commands (Atlas's ``schema inspect`` and ``schema diff``, migra's job): a schema read from any
of a live database (a URL, Atlas's or SQLAlchemy's), a migration directory (``file://dir`` holding atlas.sum,
replayed on a clean dev database), SQL DDL (``file://schema.sql`` or a directory of .sql files, run on a clean
dev database), the models (``alembic://[alembic.ini]`` or a path to an .ini, as `revision --autogenerate` loads
them) or an atlas.hcl env's desired schema (``env://src``); `schema_diff` plans the statements from one to the
other with atlembic's planner."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from atlembic import autogenerate
from atlembic.atlas.sources import FileSource
from atlembic.atlas.urls import target_url
from atlembic.autogenerate import snapshot as models_cache
from atlembic.autogenerate.plan import Plan
from atlembic.config import Settings, load_settings
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError, mask_url
from atlembic.migrate.directory import MigrationDir
from atlembic.replay.lazy import LazyDevDatabase
from atlembic.schema.exclude import exclude_objects
from atlembic.schema.model import Schema
from atlembic.target import connect_target
from atlembic.timings import Timings

__all__ = ["Inspected", "as_sql", "is_database_url", "schema_diff", "schema_inspect"]

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


def schema_diff(settings: Settings, source: str, target: str, exclude: tuple[str, ...] = ()) -> Plan:
    """The statements that take the schema `source` names to the one `target` names (on `settings`' engine), both
    without what `exclude` (and the env's exclude globs) match."""
    exclude = (*settings.exclude, *exclude)
    timings = Timings()
    with LazyDevDatabase(settings.dialect, settings.dev_url, timings) as dev:
        current = exclude_objects(_side(settings, source, dev, timings), exclude)
        desired = exclude_objects(_side(settings, target, dev, timings), exclude)
        return autogenerate.plan_changes(current, desired, dev.dialect_name, timings, policy=settings.diff_policy)


def as_sql(schema: Schema, dialect: str, indent: str | None = None) -> str:
    """`schema` as the SQL that creates it (planned from an empty database, as Atlas's ``{{ sql . }}``)."""
    return autogenerate.plan_changes(Schema(), schema, dialect).render(indent)


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
        path = Path(urllib.parse.unquote(rest.split("?", 1)[0])).expanduser()
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
