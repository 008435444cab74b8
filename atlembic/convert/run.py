"""Run a project's real Alembic history (its env.py, online) against a dev database.

Used by ``atlembic convert``. The dev database is reached the ways docs/architecture.md lists, in this order,
and the run reports which one env.py actually took:

1. ``sqlalchemy.url`` is set to the dev database;
2. the dev connection is offered in ``config.attributes["connection"]`` (Alembic's cookbook pattern);
3. as the last resort, engines env.py creates itself (``create_engine``, ``engine_from_config`` and the
   async variants) for another URL are redirected to the dev database for the duration of the run.

Below every factory, at connect time, `atlembic.environment.ConnectGuard` refuses any connection of an
engine (built by whatever wrapper, sync or async) to anything but the dev database, before the driver is
called. Whatever env.py hands to ``context.configure`` is checked too before a single revision runs: a
connection that does not point at the dev database is refused. Every revision's ``upgrade()`` is wrapped so that
the statements it runs (and a failure) are attributed to it; DML statements mark data migrations.
"""

from __future__ import annotations

import ast
import asyncio  # noqa: F401  (imported before env.py so that its asyncio.run finds a clean module)
import contextlib
import functools
import importlib.util
import os
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from atlembic.config import Settings, ini_escape, project_alembic_config, project_on_sys_path, quiet_alembic
from atlembic.engines import find_engine, inspect_schema, unmanaged_objects
from atlembic.environment import REDIRECTED_FROM, ConnectGuard, SchemaFilter, entered, isolated_run
from atlembic.errors import AtlembicError, mask_url, missing_async_support, one_line
from atlembic.flask_app import app_context
from atlembic.schema.model import Schema
from atlembic.schema.reflector import REVISIONS_TABLE

__all__ = ["AlembicHistory", "DmlStatement", "HistoryRun", "RevisionInfo", "load_history", "run_history"]

DEFAULT_VERSION_TABLE = "alembic_version"

_DML = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(INSERT|UPDATE|DELETE|MERGE|REPLACE|COPY|TRUNCATE)\b",
    re.IGNORECASE | re.DOTALL,
)
_DDL = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(CREATE|ALTER|DROP|COMMENT|RENAME)\b",
                  re.IGNORECASE | re.DOTALL)
# Statements of Alembic's SQLite "batch" table rebuild: copying rows into _alembic_tmp_x is schema work.
_BATCH_TMP = "_alembic_tmp_"


@dataclass(frozen=True)
class DmlStatement:
    sql: str
    bound: bool  # executed with bound parameters (their values are not known here)
    # History mode: the schema right before it ran, when the revision changed the schema since its start or
    # since its previous DML (None: unchanged), so that the converted file runs it at the same point.
    before: Schema | None = field(default=None, compare=False, repr=False)

    @property
    def short(self) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= 100 else text[:97] + "..."


@dataclass
class RevisionInfo:
    """One Alembic revision as it ran on the dev database."""

    revision: str
    down_revisions: tuple[str, ...]
    message: str
    path: Path
    dml: list[DmlStatement] = field(default_factory=list)  # DML statements it ran
    hints: list[str] = field(default_factory=list)  # why its source looks like a data migration
    heads: tuple[str, ...] = ()  # alembic_version after it
    schema: Schema | None = None  # the schema after it (history mode only)

    @property
    def data_migration(self) -> bool:
        return bool(self.dml or self.hints)

    def data_summary(self) -> str:
        parts = []
        if self.dml:
            parts.append(f"ran {len(self.dml)} DML statement(s), e.g. {self.dml[0].short}")
        parts += self.hints
        return "; ".join(parts)


@dataclass
class AlembicHistory:
    """The project's Alembic script directory, loaded and checked before any database is touched."""

    settings: Settings
    config: Any  # alembic.config.Config
    script: Any  # alembic.script.ScriptDirectory
    targets: tuple[str, ...]  # the head revision(s) converted (empty until the run read the revisions)
    env_py: Path
    head: str | None = None  # --head as given

    @property
    def script_location(self) -> Path:
        return Path(self.script.dir)


@dataclass
class HistoryRun:
    revisions: list[RevisionInfo]
    heads: tuple[str, ...]
    final: Schema
    version_table: str
    aimed: list[str]  # how env.py reached the dev database, one line per fact
    unsupported: list[str] = field(default_factory=list)  # objects the inspector does not model
    initial: Schema = field(default_factory=Schema)  # the starting schema (history mode)
    left_out: list[str] = field(default_factory=list)  # what env.py's filters exclude, not converted


# ----------------------------------------------------------------------------------------------------
# Loading the history (no database)


def load_history(settings: Settings, head: str | None = None) -> AlembicHistory:
    """Read script_location and the revision graph; resolve which head(s) to convert.

    As in Alembic, the revisions the run uses are read only once env.py has configured the script
    directory (an env.py may set ``context.script.version_locations``, per dialect for example): this early
    look, on a separate ScriptDirectory, reports a bad ``--head`` or unmerged heads before any database
    starts, and defers to the run when it finds no revision at all.
    """
    env_py, cfg = project_alembic_config(
        settings,
        "no Alembic history to convert: {where} has no [alembic] script_location "
        "(pass -c path/to/alembic.ini, or run from the directory holding it)",
    )
    with quiet_alembic():
        from alembic.script import ScriptDirectory

    with project_on_sys_path(cfg, settings.here, keep=True):
        try:
            early = ScriptDirectory.from_config(cfg)
            heads = tuple(early.get_heads())
            script = ScriptDirectory.from_config(cfg)  # the run's: its revisions not read yet
        except Exception as exc:
            raise AtlembicError(f"{settings.script_location}: cannot load the Alembic revisions: "
                                f"{one_line(exc, with_type=True)}") from exc
    targets = resolve_targets(early, settings, head) if heads else ()
    return AlembicHistory(settings, cfg, script, targets, env_py, head)


def resolve_targets(script: Any, settings: Settings, head: str | None) -> tuple[str, ...]:
    """The head revision(s) of `script` to convert (``--head``: one revision, or ``heads``)."""
    with quiet_alembic():
        from alembic.util import CommandError

    try:
        heads = tuple(script.get_heads())
    except Exception as exc:
        raise AtlembicError(f"{settings.script_location}: cannot load the Alembic revisions: "
                            f"{one_line(exc, with_type=True)}") from exc
    if not heads:
        raise AtlembicError(f"{settings.script_location}: the Alembic history has no revisions")
    if head is None:
        if len(heads) > 1:
            listed = ", ".join(f"{h} ({_script_path(script, h).name})" for h in sorted(heads))
            raise AtlembicError(
                f"the Alembic history has {len(heads)} heads without a merge: {listed}. Merge them "
                "(alembic merge heads), or convert one with --head REV (--head heads converts all of them)"
            )
        return tuple(sorted(heads))
    if head == "heads":
        return tuple(sorted(heads))
    try:
        found = script.get_revisions(head)
    except CommandError as exc:
        raise AtlembicError(f"--head {head}: {exc}") from None
    if len(found) != 1 or found[0] is None:
        raise AtlembicError(f"--head {head}: not a single revision of {settings.script_location}")
    return (found[0].revision,)


def _script_path(script: Any, rev: str) -> Path:
    return Path(script.get_revision(rev).path)


# ----------------------------------------------------------------------------------------------------
# Static hints: does a revision's source look like it moves data?

_DML_STRING = re.compile(r"^\s*(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE)\b",
                         re.IGNORECASE)
_SA_MODULES = {"sa", "sqlalchemy", "op"}


def source_hints(path: Path) -> list[str]:
    """Reasons (from the revision's source) to believe it runs data migrations; empty when none."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (dml := _DML_STRING.match(node.value)):
            found.add(f"SQL text with {dml[1].split()[0].upper()}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        if name == "bulk_insert":
            found.add("op.bulk_insert")
        elif name in ("Session", "sessionmaker"):
            found.add(f"an ORM {name}")
        elif name in ("insert", "update", "delete") and (
            (isinstance(func, ast.Name)) or owner in _SA_MODULES or (not node.args and not node.keywords)
        ):
            found.add(f"a SQL {name.upper()} construct")
    return sorted(found)


# ----------------------------------------------------------------------------------------------------
# Running it


@dataclass
class _RunState:
    dev_url: URL
    version_table: str = DEFAULT_VERSION_TABLE
    current: RevisionInfo | None = None
    failed: tuple[RevisionInfo, BaseException] | None = None
    order: list[RevisionInfo] = field(default_factory=list)
    aimed: list[str] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    configure_calls: list[dict[str, Any]] = field(default_factory=list)  # what env.py passed, as given

    def note(self, line: str) -> None:
        if line not in self.aimed:
            self.aimed.append(line)


def run_history(
    history: AlembicHistory,
    engine: Engine,
    *,
    per_revision: bool = False,
    start: Callable[[Connection], None] | None = None,
) -> HistoryRun:
    """Upgrade a clean dev database (``engine``) through the Alembic history to the chosen head(s).

    ``start`` builds the starting schema first (``--start-metadata`` / ``--start-sql``). With
    ``per_revision`` the schema is inspected after every revision.
    """
    with quiet_alembic():
        from alembic.runtime.environment import EnvironmentContext

    settings, cfg, script = history.settings, history.config, history.script
    dev_url = engine.url
    state = _RunState(dev_url)
    # Our own engine, no event hooks of the dev layer (SQLite FK pragma): the history must run exactly
    # as `alembic upgrade` runs it.
    plain = sa.create_engine(dev_url, poolclass=sa.pool.NullPool)
    infos: dict[str, RevisionInfo] = {}
    try:
        if start is not None:
            with plain.begin() as conn:
                start(conn)
        initial = Schema()
        if start is not None and per_revision:
            with plain.connect() as conn:
                initial = inspect_schema(conn)
        offered = plain.connect()
        cfg.set_main_option("sqlalchemy.url", ini_escape(dev_url.render_as_string(hide_password=False)))
        cfg.attributes["connection"] = offered
        cfg.cmd_opts = _cmd_opts(settings)
        early = list(history.targets)

        def upgrade(rev: Any, context: Any) -> Any:
            # Alembic's order: the revisions are read here, after env.py configured the script directory.
            if not infos:
                history.targets = resolve_targets(script, settings, history.head)
                infos.update(_wrap_revisions(history, state))
            targets = list(history.targets)
            return script._upgrade_revs(targets if len(targets) > 1 else targets[0], rev)

        env = EnvironmentContext(cfg, script, fn=upgrade, as_sql=False, starting_rev=None,
                                 destination_rev=early[0] if len(early) == 1 else (history.head or "heads"))
        _intercept_configure(env, state, offered, per_revision, infos)
        statements = _StatementLog(state, per_revision)
        guard = ConnectGuard((dev_url,), redirect=dev_url)
        try:
            with isolated_run(settings.here, False), guard, _redirect_engines(state), \
                    app_context(history.env_py, settings.options.get("flask_app")), statements, entered(env):
                script.run_env()
            guard.raise_refused()  # also when env.py swallowed the refusal
        except (Exception, SystemExit) as exc:
            guard.raise_refused()
            raise _run_error(history, state, exc) from exc
        finally:
            with contextlib.suppress(Exception):
                if offered.in_transaction():
                    offered.commit()
            offered.close()
            cfg.attributes.pop("connection", None)
        if not state.order and not state.aimed:
            raise AtlembicError(f"{history.env_py}: env.py ran no migrations (it never called context.configure)")
        with plain.connect() as conn:
            heads = _version_heads(conn, state.version_table)
            final = inspect_schema(conn, exclude=(REVISIONS_TABLE, state.version_table))
            unsupported = unmanaged_objects(conn)
    finally:
        plain.dispose()
    # What env.py's include_object / include_name / include_schemas exclude is not converted (nor the version
    # table, in whichever schema env.py put it).
    schema_filter = SchemaFilter.from_calls(state.configure_calls, version_tables=(state.version_table,))
    final, left_out = schema_filter.converted(final)
    initial = schema_filter.converted(initial)[0]
    for info in state.order:
        if info.schema is not None:
            info.schema = schema_filter.converted(info.schema)[0]
        info.dml = [replace(d, before=schema_filter.converted(d.before)[0]) if d.before is not None else d
                    for d in info.dml]
    return HistoryRun(state.order, heads, final, state.version_table, state.aimed, unsupported, initial, left_out)


def _cmd_opts(settings: Settings) -> Any:
    import argparse

    return argparse.Namespace(
        x=list(settings.x_args), autogenerate=False, sql=False, name=settings.ini_section,
        config=str(settings.config_file) if settings.config_file else None, raiseerr=True, quiet=True,
        verbose=False, revision="heads", tag=None,
    )


def _wrap_revisions(history: AlembicHistory, state: _RunState) -> dict[str, RevisionInfo]:
    """Wrap every revision's ``upgrade()`` so its statements and failure are attributed to it."""
    infos: dict[str, RevisionInfo] = {}
    for sc in history.script.walk_revisions():
        down = sc.down_revision
        downs = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
        info = RevisionInfo(sc.revision, downs, (sc.doc or "").strip(), Path(sc.path))
        infos[sc.revision] = info
        original = getattr(sc.module, "upgrade", None)
        if original is None or getattr(original, "_atlembic_wrapped", False):
            continue

        def wrapped(*args: Any, __info: RevisionInfo = info, __fn: Any = original, **kwargs: Any) -> Any:
            state.current = __info
            state.order.append(__info)
            try:
                return __fn(*args, **kwargs)
            except BaseException as exc:
                state.failed = (__info, exc)
                raise
            finally:
                state.current = None

        functools.update_wrapper(wrapped, original)
        wrapped._atlembic_wrapped = True  # type: ignore[attr-defined]
        sc.module.upgrade = wrapped
    return infos


def _intercept_configure(env: Any, state: _RunState, offered: Connection, per_revision: bool,
                         infos: dict[str, RevisionInfo]) -> None:
    original = env.configure
    import inspect as pyinspect

    signature = pyinspect.signature(original)

    def after_step(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if not step.is_upgrade or step.is_stamp:
            return
        info = infos.get(step.up_revision_id)
        if info is None:
            return
        info.heads = tuple(sorted(heads))
        if per_revision:
            info.schema = inspect_schema(ctx.connection, exclude=(REVISIONS_TABLE, state.version_table))

    def configure(*args: Any, **kwargs: Any) -> None:
        if args:
            kwargs.update(signature.bind_partial(*args).arguments)
        conn = kwargs.get("connection")
        if conn is None:
            raise AtlembicError(
                "env.py called context.configure() without a connection in online mode; atlembic runs the "
                "history online against the dev database"
            )
        _check_connection(conn, offered, state)
        state.connections.append(conn)
        state.configure_calls.append(dict(kwargs))
        table, schema = kwargs.get("version_table") or DEFAULT_VERSION_TABLE, kwargs.get("version_table_schema")
        state.version_table = f"{schema}.{table}" if schema else table
        theirs = kwargs.get("on_version_apply") or ()
        theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
        kwargs["on_version_apply"] = [*theirs, after_step]
        original(**kwargs)

    env.configure = configure  # the alembic.context proxy resolves configure on the instance


def _db_key(url: URL) -> tuple[Any, ...]:
    engine = find_engine(url)
    if engine is None:
        return (url.get_backend_name(), url.host, url.port, url.database, url.username, url.query.get("host"))
    return engine.database_key(url)


def _check_connection(conn: Any, offered: Connection, state: _RunState) -> None:
    if conn is offered:
        state.note('env.py used the dev connection offered in config.attributes["connection"]')
        return
    aimed_at = _redirected_from(conn)
    if aimed_at is not None:
        state.note(f"env.py connected through an engine of its own (to {aimed_at}); redirected to the dev "
                   "database when it connected")
        return
    url = conn.engine.url
    if _db_key(url) != _db_key(state.dev_url):
        raise AtlembicError(
            f"env.py connected to {mask_url(url)}, not to the dev database; refusing to run the history "
            "there (build the engine from sqlalchemy.url or config.attributes['connection'])"
        )
    if any(line.startswith("env.py created") for line in state.aimed):
        return
    if conn.engine is offered.engine:
        state.note("env.py connected through config.attributes['connection'].engine (the dev database)")
    else:
        state.note("env.py connected through sqlalchemy.url (set to the dev database)")


def _redirected_from(conn: Any) -> str | None:
    """Where the ConnectGuard found `conn`'s DBAPI connection aimed before it redirected it (None: not redirected)."""
    try:
        return conn.info.get(REDIRECTED_FROM)
    except Exception:  # a closed or invalidated connection has no pool record to ask
        return None


class _StatementLog:
    """Records the DML statements of each revision, on every engine, while the history runs; in history mode
    also the schema right before each one that follows a schema change (inspected on the connection that
    runs it, inside its transaction), so the converted files keep the revision's order."""

    def __init__(self, state: _RunState, per_revision: bool = False) -> None:
        self.state = state
        self.per_revision = per_revision
        self.changed: RevisionInfo | None = None  # the revision that changed the schema since its last DML
        self.inspecting = False

    def _listener(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        info = self.state.current
        if info is None or not isinstance(statement, str) or self.inspecting:
            return
        m = _DML.match(statement)
        if m is None or _BATCH_TMP in statement:
            if _DDL.match(statement) or _BATCH_TMP in statement:
                self.changed = info
            return
        if re.search(rf"\b{re.escape(self.state.version_table.rpartition('.')[2])}\b", statement):
            return
        before = None
        if self.per_revision and self.changed is info:
            self.inspecting = True
            try:
                before = inspect_schema(conn, exclude=(REVISIONS_TABLE, self.state.version_table))
            finally:
                self.inspecting = False
            self.changed = None
        info.dml.append(DmlStatement(statement.strip().rstrip(";"), bool(parameters), before))

    def __enter__(self) -> _StatementLog:
        event.listen(Engine, "before_cursor_execute", self._listener)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(Engine, "before_cursor_execute", self._listener)


# -- last resort: engines env.py builds itself ---------------------------------------------------------


def _async_url(url: URL) -> URL:
    """``url`` with a driver create_async_engine accepts (the same one when it is already async)."""
    candidates = [url]
    backend = url.get_backend_name()
    engine = find_engine(url)
    async_drivers = engine.async_drivers if engine is not None else ()
    candidates += [url.set(drivername=f"{backend}+{d}") for d in async_drivers]
    for candidate in candidates:
        try:
            cls = candidate.get_dialect(_is_async=True)
            if getattr(cls, "is_async", False):
                cls.import_dbapi()
                return candidate
        except Exception:
            continue
    drivers = ", ".join(async_drivers) or "an async driver"
    raise AtlembicError(f"env.py builds an async engine, but no async {backend} driver is installed ({drivers})")


@contextlib.contextmanager
def _redirect_engines(state: _RunState) -> Iterator[None]:
    import sqlalchemy.engine as sa_engine

    def aim(url: Any, how: str, make_async: bool) -> URL:
        if url is None:  # e.g. an unset environment variable: any URL would be redirected, so this one is too
            state.note(f"env.py created its own engine ({how} without a URL); pointed it at the dev database")
            return _async_url(state.dev_url) if make_async else state.dev_url
        parsed = make_url(url)
        if _db_key(parsed) != _db_key(state.dev_url):
            state.note(f"env.py created its own engine ({how} for {mask_url(parsed)}); redirected it to the "
                       "dev database")
            parsed = state.dev_url
        elif parsed.drivername != state.dev_url.drivername and not make_async:
            parsed = state.dev_url
        return _async_url(parsed) if make_async else parsed

    def from_url(real: Callable[..., Any], how: str, make_async: bool) -> Callable[..., Any]:
        def create(url: Any, **kw: Any) -> Any:
            return real(aim(url, how, make_async), **kw)

        return create

    def from_config(real: Callable[..., Any], how: str, make_async: bool) -> Callable[..., Any]:
        def create(configuration: dict[str, Any], prefix: str = "sqlalchemy.", **kw: Any) -> Any:
            options = dict(configuration)
            options[f"{prefix}url"] = aim(options.get(f"{prefix}url"), how, make_async)
            return real(options, prefix, **kw)

        return create

    create_engine = from_url(sa.create_engine, "create_engine", False)
    engine_from_config = from_config(sa.engine_from_config, "engine_from_config", False)
    patches = [
        (sa, "create_engine", create_engine),
        (sa_engine, "create_engine", create_engine),
        (sa, "engine_from_config", engine_from_config),
        (sa_engine, "engine_from_config", engine_from_config),
    ]
    # Without greenlet (SQLAlchemy 2.1 no longer installs it) no async engine can run, and 2.1's asyncio module
    # fails its first import only: importing it here would hide that from env.py (missing_async_support).
    if importlib.util.find_spec("greenlet") is not None:
        import sqlalchemy.ext.asyncio as sa_asyncio

        patches += [
            (sa_asyncio, "create_async_engine",
             from_url(sa_asyncio.create_async_engine, "create_async_engine", True)),
            (sa_asyncio, "async_engine_from_config",
             from_config(sa_asyncio.async_engine_from_config, "async_engine_from_config", True)),
        ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


# -- after the run -----------------------------------------------------------------------------------


def _run_error(history: AlembicHistory, state: _RunState, exc: BaseException) -> AtlembicError:
    if isinstance(exc, AtlembicError) and state.failed is None:
        return exc
    if state.failed is not None:
        info, cause = state.failed
        line = _line_in(cause, info.path)
        where = f"{info.path}:{line}" if line else str(info.path)
        return AtlembicError(f"Alembic revision {info.revision} failed on the dev database ({where}): "
                             f"{one_line(cause, with_type=True)}")
    return missing_async_support(history.env_py, exc) or AtlembicError(
        f"{history.env_py}: {one_line(exc, with_type=True)}")


def _line_in(exc: BaseException, path: Path) -> int | None:
    target = os.path.realpath(path)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.realpath(frame.filename) == target:
            line = frame.lineno
    return line


def _version_heads(conn: Connection, table: str) -> tuple[str, ...]:
    try:
        schema, _, name = table.rpartition(".")
        quote = conn.dialect.identifier_preparer.quote
        rows = conn.execute(sa.text(f"SELECT version_num FROM {quote(schema) + '.' if schema else ''}{quote(name)}"))
        return tuple(sorted(r[0] for r in rows))
    except sa.exc.DBAPIError:
        return ()
