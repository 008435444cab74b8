"""Running a project's env.py without lasting side effects, to capture ``target_metadata`` (and what else
it hands ``context.configure``).

``target_metadata`` comes either from ``[atlembic] metadata = package.module:attr`` or from the project's
env.py, run the way Alembic's offline (``--sql``) mode runs it, with ``context.configure`` intercepted so
that nothing ever connects (Alembic's ``runtime/environment.py`` is the counterpart). The process is left
as it was: working directory, ``sys.path``, logging configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import logging
import logging.config
import os
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import MetaData, event
from sqlalchemy.engine import URL, Dialect, Engine, make_url

from atlembic.config import (
    Settings,
    alembic_config,
    fallback_entries,
    ini_escape,
    ini_get,
    parse_ini,
    project_alembic_config,
    project_on_sys_path,
    quiet_alembic,
    settle_sys_path,
)
from atlembic.errors import AtlembicError, mask_url, missing_async_support, no_config_file, one_line
from atlembic.flask_app import app_context
from atlembic.provider import merge_metadata
from atlembic.schema.model import (
    Extension,
    Function,
    Policy,
    Schema,
    Table,
    TableGrant,
    Trigger,
    View,
    split_name,
)

__all__ = ["OWN_THREAD_PREFIX", "REDIRECTED_FROM", "CapturedEnvironment", "ConnectGuard", "SchemaFilter",
           "capture_environment", "entered", "import_metadata", "isolated_run", "load_schema_filter",
           "load_target_metadata"]


@dataclass
class CapturedEnvironment:
    """What env.py handed to ``context.configure()``, one dict per call (multidb calls it per engine)."""

    env_py: Path
    configure_calls: list[dict[str, Any]]
    metadata: MetaData | None  # None only when not required (capture_environment(require_metadata=False))

    @property
    def schema_filter(self) -> SchemaFilter:
        """What env.py's include_object / include_name / include_schemas / version_table keep out."""
        return SchemaFilter.from_calls(self.configure_calls, self.metadata)


def load_target_metadata(settings: Settings) -> MetaData:
    """The project's model metadata, from ``[atlembic] metadata`` or else from env.py. Never connects."""
    if settings.metadata_ref:
        return _import_metadata_ref(settings)
    metadata = capture_environment(settings).metadata
    assert metadata is not None
    return metadata


def capture_environment(settings: Settings, *, require_metadata: bool = True) -> CapturedEnvironment:
    """Run env.py as Alembic's offline mode would and record its ``context.configure()`` calls."""
    if settings.script_location is None and settings.config_file is None:
        raise AtlembicError(no_config_file(settings.here))
    env_py, cfg = project_alembic_config(
        settings,
        "no model metadata configured in {where}: set [atlembic] metadata = package.module:attr, "
        "or [alembic] script_location to the directory holding env.py",
    )
    with quiet_alembic():
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

    if settings.url is not None:
        # env.py reads the target URL from here, so --url has to be visible to it.
        cfg.set_main_option("sqlalchemy.url", ini_escape(settings.url))
    cfg.cmd_opts = argparse.Namespace(
        x=list(settings.x_args),
        # Some env.py files branch on these; atlembic is doing what autogenerate does, offline.
        autogenerate=True,
        sql=True,
        config=str(settings.config_file) if settings.config_file else None,
        name=settings.ini_section,
        raiseerr=False,
        quiet=True,
        verbose=False,
    )

    buffer = io.StringIO()
    captured: list[dict[str, Any]] = []
    fallback_dialect = _loadable_dialect(settings)
    # The multidb template opens "<engine>.sql" in the CWD for writing before it calls configure();
    # run that kind of env.py from a scratch directory so that nothing of the user's is truncated.
    # Other env.py files run in the real CWD, because apps often read ".env" and such relative to it.
    parser = parse_ini(cfg, settings.config_file)
    scratch_cwd = ini_get(parser, settings.ini_section, "databases", settings.config_file) is not None

    with isolated_run(settings.here, scratch_cwd):
        try:
            script = ScriptDirectory.from_config(cfg)
        except Exception as exc:
            raise AtlembicError(f"{settings.config_file or 'config'}: {one_line(exc, with_type=True)}") from exc
        _absolutize_prepended(cfg)

        # A plain EnvironmentContext: alembic.context's module proxy is registered for this exact class, so
        # a subclass would leave ``context.config`` undefined inside env.py.
        env = EnvironmentContext(
            cfg,
            script,
            fn=lambda rev, context: [],  # no migration steps: the offline run emits no DDL
            as_sql=True,
            starting_rev=None,
            destination_rev="heads",
            dont_mutate=True,
        )
        original_configure = env.configure
        signature = inspect.signature(original_configure)

        def configure(*args: Any, **kwargs: Any) -> None:
            if args:
                kwargs.update(signature.bind_partial(*args).arguments)
            captured.append(dict(kwargs))
            kwargs["output_buffer"] = buffer
            if kwargs.get("connection") is None and not kwargs.get("dialect_name"):
                offline_url = kwargs.get("url")
                if offline_url is None or not _url_dialect_loads(offline_url):
                    # Placeholder "driver://" or no URL at all: offline mode only needs a dialect name.
                    kwargs.pop("url", None)
                    kwargs["dialect_name"] = fallback_dialect
            original_configure(**kwargs)

        # Instance attribute: the proxy looks ``configure`` up on the instance at call time.
        env.configure = configure  # type: ignore[method-assign]

        guard = ConnectGuard()  # offline: env.py connects nowhere
        try:
            with guard, app_context(env_py, settings.options.get("flask_app")), entered(env):
                script.run_env()
        except (Exception, SystemExit) as exc:
            guard.raise_refused()
            raise missing_async_support(env_py, exc) or AtlembicError(failure_line(exc, str(env_py))) from exc
        guard.raise_refused()

    metadata = _metadata_from(captured, env_py) if require_metadata or any(
        c.get("target_metadata") is not None for c in captured) else None
    return CapturedEnvironment(env_py=env_py, configure_calls=captured, metadata=metadata)


def _metadata_from(captured: list[dict[str, Any]], env_py: Path) -> MetaData:
    found: list[MetaData] = []
    for call in captured:
        value = call.get("target_metadata")
        if value is None:
            continue
        found.extend(_as_metadata_list(value, f"env.py: {env_py}: target_metadata"))
    if not found:
        raise AtlembicError(f"env.py: {env_py} does not provide target_metadata to context.configure()")
    return merge_metadata(found, f"env.py: {env_py}")


def _import_metadata_ref(settings: Settings) -> MetaData:
    ref = settings.metadata_ref or ""
    return import_metadata(settings, ref, f"[atlembic] metadata = {ref}")


def import_metadata(settings: Settings, ref: str, where: str) -> MetaData:
    """The MetaData (or declarative Base, or sequence of MetaData) `ref` = "package.module:attr" names,
    imported with the project on sys.path as env.py would see it; errors name `where`."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise AtlembicError(f"{where}: expected 'package.module:attribute'")
    cfg = alembic_config(settings.config_file, settings.toml_file, settings.ini_section)
    parse_ini(cfg, settings.config_file)
    with project_on_sys_path(cfg, settings.here, keep=True):
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr_path.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise AtlembicError(failure_line(exc, where)) from exc
    if not isinstance(obj, MetaData) and isinstance(getattr(obj, "metadata", None), MetaData):
        # Accept a declarative Base (or registry) too: "models:Base" is the obvious thing to write.
        obj = obj.metadata
    return merge_metadata(_as_metadata_list(obj, where), where)


# Where installed code lives (the standard library, site-packages): an error's own line is the last line of
# the project's code it passed through, not one of these.
_INSTALLED = tuple({os.path.realpath(p) + os.sep for key, p in sysconfig.get_paths().items()
                    if key in ("stdlib", "platstdlib", "purelib", "platlib")})
_OWN_PACKAGE = os.path.dirname(os.path.realpath(__file__)) + os.sep


def _project_line(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the project's code where `exc` arose: a SyntaxError's own file, else the innermost
    traceback frame outside installed code and atlembic."""
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        return exc.filename, exc.lineno or 0
    found = None
    tb = exc.__traceback__
    while tb is not None:
        path = os.path.realpath(tb.tb_frame.f_code.co_filename)
        if not tb.tb_frame.f_code.co_filename.startswith("<") and not path.startswith((*_INSTALLED, _OWN_PACKAGE)):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def failure_line(exc: BaseException, loading: str) -> str:
    """The one line for an error of the project's code while `loading` ran (env.py, a metadata reference):
    named by the project file and line it came from (a models module env.py imports, say) when that is
    not `loading` itself, with the error's own text."""
    where = _project_line(exc)
    error = one_line(exc, with_type=True)
    if where is None or os.path.realpath(where[0]) == os.path.realpath(loading):
        return f"{loading}: {error}"
    return f"{where[0]}:{where[1]}: {error} (loading the models from {loading})"


def _as_metadata_list(value: Any, where: str) -> list[MetaData]:
    if isinstance(value, MetaData):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = list(value)
        if items and all(isinstance(item, MetaData) for item in items):
            return items
    raise AtlembicError(f"{where} is {type(value).__name__}, expected a MetaData or a sequence of MetaData")


@contextlib.contextmanager
def entered(env: Any) -> Iterator[Any]:
    """``with env:`` for an Alembic EnvironmentContext, except for an env.py that ran Alembic inside itself
    (``command.upgrade`` of a plugin's migrations, say): the nested context took ``alembic.context``'s
    proxy away when it ended, and the outer exit's ``KeyError`` would hide env.py's own error (such as
    ``module 'alembic.context' has no attribute 'config'``)."""
    env.__enter__()
    try:
        yield env
    finally:
        with contextlib.suppress(KeyError):
            env.__exit__(None, None, None)


@contextlib.contextmanager
def isolated_run(here: Path, scratch_cwd: bool) -> Iterator[None]:
    """Run env.py without leaving lasting marks on logging, the CWD or sys.path.

    Kept: sys.path entries added to import the models (Alembic's prepend_sys_path, anything env.py
    inserted, and the ini directory as a last-resort fallback), because lazily imported model modules
    may still need them. Already-imported modules are reused on a second run, as Python always does.
    """
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_logging = _snapshot_logging()
    saved_file_config = logging.config.fileConfig
    # env.py's fileConfig(alembic.ini) is for alembic's own CLI: it would disable every existing logger
    # (ours included) and print alembic's INFO chatter. Capturing metadata needs none of it.
    logging.config.fileConfig = _skip_file_config
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tail = fallback_entries(here, saved_path)
    sys.path.extend(tail)
    scratch = tempfile.TemporaryDirectory(prefix="atlembic-env-") if scratch_cwd else None
    try:
        if scratch is not None:
            os.chdir(scratch.name)
        yield
    finally:
        os.chdir(saved_cwd)
        if scratch is not None:
            scratch.cleanup()
        logging.config.fileConfig = saved_file_config
        _restore_logging(saved_logging)
        settle_sys_path(saved_path, tail)


def _absolutize_prepended(cfg: Any) -> None:
    # ScriptDirectory.from_config() put the raw prepend_sys_path entries (typically ".") at the front
    # of sys.path; pin them to the CWD now, before any chdir and before the models are imported.
    entries = cfg.get_prepend_sys_paths_list() or []
    for index, entry in enumerate(entries):
        if index < len(sys.path) and sys.path[index] == entry:
            sys.path[index] = os.path.abspath(entry)


def _skip_file_config(*args: Any, **kwargs: Any) -> None:
    return None


@dataclass
class _LoggingState:
    disable: int
    loggers: dict[str, tuple[bool, int, list[logging.Handler], bool]]
    root: tuple[int, list[logging.Handler]]


def _snapshot_logging() -> _LoggingState:
    manager = logging.Logger.manager
    loggers = {
        name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger)
    }
    # Record the alembic logger even if it did not exist yet, so the level we set is undone.
    alembic_logger = logging.getLogger("alembic")
    loggers.setdefault(
        "alembic",
        (
            alembic_logger.disabled,
            alembic_logger.level,
            list(alembic_logger.handlers),
            alembic_logger.propagate,
        ),
    )
    root = logging.getLogger()
    return _LoggingState(manager.disable, loggers, (root.level, list(root.handlers)))


def _restore_logging(state: _LoggingState) -> None:
    logging.disable(state.disable)
    root = logging.getLogger()
    root.setLevel(state.root[0])
    root.handlers[:] = state.root[1]
    for name, (disabled, level, handlers, propagate) in state.loggers.items():
        lg = logging.getLogger(name)
        lg.disabled = disabled
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate


def _loadable_dialect(settings: Settings) -> str:
    try:
        return settings.dialect
    except AtlembicError:
        return "sqlite"


def _url_dialect_loads(url: Any) -> bool:
    try:
        make_url(url).get_dialect()
    except Exception:
        return False
    return True



# ----------------------------------------------------------------------------------------------------
# Nothing but the dev database: a guard below every engine factory

# Connect arguments that decide which server, database or account a DBAPI connection reaches (the names
# SQLAlchemy's dialects pass: libpq's and asyncpg's, PyMySQL's and the MySQL clients', plus the ones that
# read a target from elsewhere: a libpq service, a DSN, a MySQL option file).
_TARGET_KEYS = ("host", "hostaddr", "port", "dbname", "database", "db", "user", "username", "unix_socket",
                "service", "dsn", "conninfo", "read_default_file", "read_default_group", "named_pipe")
# What a redirect drops with them: the old target's credentials and SQLite's URI flag (the new target brings
# its own).
_SECRET_KEYS = ("password", "passwd", "uri")


# atlembic's own worker threads carry this name prefix (the replay next to env.py in commands/plan.py, the
# lock's heartbeat): the guard leaves them alone, and checks every other thread.
OWN_THREAD_PREFIX = "atlembic-"
# The key, in a redirected DBAPI connection's pool record (``Connection.info``), of the URL it was aimed at.
REDIRECTED_FROM = "atlembic_redirected_from"


@dataclass
class ConnectGuard:
    """While active, every SQLAlchemy engine may connect only to the `allowed` URLs (and to a private
    in-memory SQLite database); anything else is redirected to `redirect` when that is a database of the same
    engine, and refused otherwise, before the driver is called.

    The check is SQLAlchemy's ``do_connect`` event on every dialect (``event.listen(Engine, ...)`` is
    class-level), so it holds whatever factory built the engine (``create_engine`` under any name,
    ``sqlmodel.create_engine``, an app's own wrapper, the async engines): it sees the connect arguments
    the dialect is about to hand its driver, and compares them with those the same dialect makes of each
    allowed URL. A redirect rewrites only the arguments that choose the server, database and account (an
    app's timeouts and server settings stay). Every thread is checked (env.py may run its migrations in a
    worker thread of its own) except atlembic's own, named ``OWN_THREAD_PREFIX...`` (the replay that runs
    next to env.py on a server's dev database). Not covered: engines built with ``creator=`` or a ``pool=``
    of their own, and a project's ``do_connect`` listener that rewrites the arguments after ours.
    """

    allowed: tuple[URL, ...] = ()
    redirect: URL | None = None
    refused: list[str] = field(default_factory=list)
    redirected: list[str] = field(default_factory=list)  # the masked URLs engines were redirected from

    def __enter__(self) -> ConnectGuard:
        event.listen(Engine, "do_connect", self._do_connect)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(Engine, "do_connect", self._do_connect)

    def raise_refused(self) -> None:
        """Fail with the first refusal, whatever the project's code made of the exception."""
        if self.refused:
            raise AtlembicError(self.refused[0])

    def _do_connect(self, dialect: Dialect, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if threading.current_thread().name.startswith(OWN_THREAD_PREFIX) or _private_sqlite(dialect, cargs, cparams):
            return
        if any(_same_target(dialect, cargs, cparams, url) for url in self.allowed):
            return
        attempted = mask_url(_attempted_url(dialect, cargs, cparams))
        target = _connect_args(dialect, self.redirect) if self.redirect is not None else None
        if target is not None:
            if attempted not in self.redirected:
                self.redirected.append(attempted)
            record.info[REDIRECTED_FROM] = attempted  # Connection.info: the caller sees where it was aimed
            for key in (*_TARGET_KEYS, *_SECRET_KEYS):
                cparams.pop(key, None)
            cargs[:] = target[0]
            cparams.update(target[1])
            return
        line = (f"env.py tried to connect to {attempted}, not the dev database; refused before connecting "
                "(atlembic runs env.py against the dev database only: build the engine from sqlalchemy.url "
                "or config.attributes['connection'])")
        self.refused.append(line)
        raise AtlembicError(line)


def _sqlite_file(cargs: list[Any], cparams: dict[str, Any]) -> str:
    name = str(cargs[0] if cargs else cparams.get("database", ""))
    if cparams.get("uri") and name.startswith("file:"):
        name = name[len("file:"):].split("?", 1)[0]
    return name


def _private_sqlite(dialect: Dialect, cargs: list[Any], cparams: dict[str, Any]) -> bool:
    """An in-memory SQLite database: it lives in this process and reaches nothing."""
    if dialect.name != "sqlite":
        return False
    raw = str(cargs[0] if cargs else cparams.get("database", ""))
    return _sqlite_file(cargs, cparams) in ("", ":memory:") or (bool(cparams.get("uri")) and "mode=memory" in raw)


def _identity(dialect: Dialect, cargs: list[Any], cparams: dict[str, Any]) -> tuple[Any, ...]:
    if dialect.name == "sqlite":
        return ("sqlite", os.path.realpath(_sqlite_file(cargs, cparams)))
    named = tuple((key, str(cparams[key])) for key in _TARGET_KEYS if cparams.get(key) is not None)
    return (dialect.name, tuple(str(a) for a in cargs), named)


def _connect_args(dialect: Dialect, url: URL) -> tuple[list[Any], dict[str, Any]] | None:
    """What `dialect` (its own driver) hands the driver to reach `url`; None when `url` is another engine's."""
    if url.get_backend_name() != dialect.name:
        return None
    try:
        cargs, cparams = dialect.create_connect_args(url.set(drivername=f"{dialect.name}+{dialect.driver}"))
    except Exception:
        return None
    return list(cargs), dict(cparams)


def _same_target(dialect: Dialect, cargs: list[Any], cparams: dict[str, Any], url: URL) -> bool:
    target = _connect_args(dialect, url)
    return target is not None and _identity(dialect, cargs, cparams) == _identity(dialect, *target)


def _attempted_url(dialect: Dialect, cargs: list[Any], cparams: dict[str, Any]) -> URL:
    """The URL the connect arguments come from, as near as they tell (for the refusal's message)."""
    drivername = f"{dialect.name}+{dialect.driver}"
    if dialect.name == "sqlite":
        return URL.create("sqlite" if dialect.driver == "pysqlite" else drivername,
                          database=_sqlite_file(cargs, cparams))
    host = cparams.get("host")
    # Not dsn/conninfo: a connection string may hold a password that no URL masking would find.
    query = {key: str(cparams[key]) for key in ("hostaddr", "unix_socket", "service", "read_default_file",
                                                 "read_default_group", "named_pipe") if cparams.get(key) is not None}
    if isinstance(host, str) and host.startswith("/"):  # a unix socket directory
        query["host"], host = host, None
    port = cparams.get("port")
    return URL.create(
        drivername,
        username=cparams.get("user") or cparams.get("username"),
        password=cparams.get("password") or cparams.get("passwd"),
        host=host,
        port=int(port) if isinstance(port, (int, str)) and str(port).isdigit() else None,
        database=cparams.get("dbname") or cparams.get("database") or cparams.get("db"),
        query=query,
    )


# ----------------------------------------------------------------------------------------------------
# env.py's autogenerate filters: include_object, include_name, include_schemas, the version table

@dataclass(frozen=True)
class SchemaFilter:
    """What env.py hands ``context.configure`` to keep objects out of autogenerate, applied to atlembic's two
    sides as Alembic's autogenerate applies it (its ``compare/tables.py``): an object a filter excludes is
    neither created from the desired side nor dropped from the current one (nor compared when both have
    it), and is not converted.

    * ``include_name(name, type_, parent_names)`` for schemas, tables, columns, indexes, unique and foreign
      key constraints (both sides are reflected from a dev database here, so it applies to both);
    * ``include_object(object, name, type_, reflected, compare_to)`` with the models' own objects on the
      desired side (``reflected=False``, ``compare_to`` the current object) and, for what only the current
      side has, an object built from what was reflected (``reflected=True``; column types are NullType);
    * ``include_schemas``: without it, as in Alembic, only the default schema is compared, and here also
      the named schemas the models use (Alembic would re-create their tables each time);
    * the version table (``version_table``, ``version_table_schema``; ``alembic_version``) is never compared.

    Columns, indexes and constraints are filtered in the tables both sides have; a table only one side has
    is created or dropped whole, as Alembic does. Several ``configure`` calls (multidb): an object is kept
    when one call's filters keep it. Filters whose callables are not given cost nothing and are plain data
    (``cacheable``).
    """

    object_filters: tuple[Callable[..., Any], ...] = ()
    name_filters: tuple[Callable[..., Any], ...] = ()
    include_schemas: bool = False
    filters_schemas: bool = False  # env.py configured something about schemas (include_schemas or filters)
    model_schemas: frozenset[str] = frozenset()
    version_tables: frozenset[str] = frozenset()
    metadata: MetaData | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_calls(cls, calls: Sequence[dict[str, Any]], metadata: MetaData | None = None,
                   version_tables: Sequence[str] = ()) -> SchemaFilter:
        objects = tuple(c["include_object"] for c in calls if callable(c.get("include_object")))
        names = tuple(c["include_name"] for c in calls if callable(c.get("include_name")))
        tables = set(version_tables)
        for call in calls:
            table = call.get("version_table") or "alembic_version"
            schema = call.get("version_table_schema")
            tables.add(f"{schema}.{table}" if schema else table)
        if not calls:
            tables.discard("alembic_version")
        if metadata is None:
            metadata = _calls_metadata(calls)
        schemas = frozenset(t.schema for t in metadata.tables.values() if t.schema) if metadata else frozenset()
        return cls(objects, names, any(bool(c.get("include_schemas")) for c in calls),
                   bool(calls), schemas, frozenset(tables), metadata)

    @property
    def cacheable(self) -> bool:
        """No callables: the filter is plain data, and what it does depends on nothing else."""
        return not (self.object_filters or self.name_filters)

    def without_callables(self) -> SchemaFilter:
        return SchemaFilter((), (), self.include_schemas, self.filters_schemas, self.model_schemas,
                            self.version_tables)

    def with_version_tables(self, names: Sequence[str]) -> SchemaFilter:
        return SchemaFilter(self.object_filters, self.name_filters, self.include_schemas, self.filters_schemas,
                            self.model_schemas, self.version_tables | set(names), self.metadata)

    # -- the two sides ---------------------------------------------------------------------------------

    def compare(self, current: Schema, desired: Schema, *, models: bool = True, known: Schema | None = None
                ) -> tuple[Schema, Schema]:
        """(current, desired) without what the filters keep out of the comparison. `models`: the desired
        side is the models' (their own objects go to include_object); `known`: where a current object's
        counterpart is looked up for ``compare_to`` when the desired side does not have it."""
        judge = _Judge(self, self.metadata if models else None)
        cur_tables: list[Table] = []
        des_tables: list[Table] = []
        names = sorted({t.name for t in current.tables} | {t.name for t in desired.tables})
        left_alone: set[str] = set()  # tables the filters exclude: their grants are neither granted nor revoked
        for name in names:
            cur, des = current.table(name), desired.table(name)
            schema, bare = split_name(name)
            if name in self.version_tables or not judge.schema(schema) \
                    or not judge.name(bare, "table", {"schema_name": schema}):
                left_alone.add(name)
                continue
            if des is not None:
                if not judge.table(des, False, cur):
                    left_alone.add(name)
                    if cur is not None:  # compared as equal: neither changed nor dropped
                        cur_tables.append(cur)
                        des_tables.append(cur)
                    continue
                if cur is not None:
                    cur, des = judge.inner(cur, des)
                    cur_tables.append(cur)
                des_tables.append(des)
            elif cur is not None:
                counterpart = known.table(name) if known is not None else None
                if judge.table(cur, True, counterpart, models=False):
                    cur_tables.append(cur)
        keep = [s for s in {*current.schemas, *desired.schemas} if judge.schema(s)]
        cur_views, des_views = judge.dependents(current.views, desired.views)
        cur_triggers, des_triggers = judge.dependents(current.triggers, desired.triggers)
        cur_functions, des_functions = judge.dependents(current.functions, desired.functions)
        cur_extensions, des_extensions = judge.dependents(current.extensions, desired.extensions)
        cur_policies, des_policies = judge.dependents(current.policies, desired.policies)
        cur_grants, des_grants = judge.dependents(current.grants, desired.grants)
        des_grants = (*(g for g in des_grants if g.table not in left_alone),
                      *(g for g in cur_grants if g.table in left_alone))
        return (replace(_replace_schema(current, cur_tables, keep), views=cur_views, triggers=cur_triggers,
                        functions=cur_functions, extensions=cur_extensions, policies=cur_policies, grants=cur_grants),
                replace(_replace_schema(desired, des_tables, keep), views=des_views, triggers=des_triggers,
                        functions=des_functions, extensions=des_extensions, policies=des_policies,
                        grants=des_grants))

    def converted(self, schema: Schema) -> tuple[Schema, list[str]]:
        """`schema` (made by an Alembic history) without what the filters exclude, and what that was (as
        'table "name"'). Tables only: columns and constraints of a kept table are all converted."""
        judge = _Judge(self, self.metadata)
        kept: list[Table] = []
        left_out: list[str] = []
        for table in schema.tables:
            schema_name, bare = split_name(table.name)
            if table.name in self.version_tables:
                continue
            # As Alembic judges a table both sides have: the models' own (if they have it), compared to this one.
            in_models = self.metadata is not None and table.name in self.metadata.tables
            if judge.schema(schema_name) and judge.name(bare, "table", {"schema_name": schema_name}) \
                    and judge.table(table, not in_models, table if in_models else None, models=in_models):
                kept.append(table)
            else:
                left_out.append(f'table "{table.name}"')
        keep = [s for s in schema.schemas if judge.schema(s)]
        left_out += [f'schema "{s}"' for s in schema.schemas if s not in keep]
        views, triggers = judge.dependents(schema.views, ())[0], judge.dependents(schema.triggers, ())[0]
        everything: tuple[View | Trigger, ...] = (*schema.views, *schema.triggers)
        left_out += [f'{_object_type(o).replace("_", " ")} "{o.name}"' for o in everything
                     if o not in (*views, *triggers)]
        return replace(_replace_schema(schema, kept, keep), views=views, triggers=triggers), left_out


def _calls_metadata(calls: Sequence[dict[str, Any]]) -> MetaData | None:
    """The target_metadata the calls hand over, merged; None when there is none (or it does not merge)."""
    found: list[MetaData] = []
    for call in calls:
        value = call.get("target_metadata")
        if value is not None:
            with contextlib.suppress(AtlembicError):
                found.extend(_as_metadata_list(value, "target_metadata"))
    if not found:
        return None
    try:
        return merge_metadata(found, "target_metadata")
    except AtlembicError:
        return None


def _object_type(obj: View | Trigger | Function | Extension | Policy | TableGrant) -> str:
    """The ``type_`` filters are called with for a view, trigger, function, extension, policy or table grant
    (alembic_utils' entity types)."""
    if isinstance(obj, Trigger | Function | Extension | Policy | TableGrant):
        return {Trigger: "trigger", Function: "function", Extension: "extension", Policy: "policy",
                TableGrant: "grant_table"}[type(obj)]
    return "materialized_view" if obj.materialized else "view"


def _key(obj: View | Trigger | Function | Extension | Policy | TableGrant) -> str:
    """What tells two objects of a kind apart: the key of those that have one (a function's tells its overloads
    apart, a grant has no name), else the name."""
    return obj.name if isinstance(obj, View | Extension) else obj.key


def _replace_schema(schema: Schema, tables: list[Table], schemas: list[str]) -> Schema:
    ordered = tuple(s for s in schema.schemas if s in schemas)
    return replace(schema, tables=tuple(tables), schemas=ordered)


class _Judge:
    """One comparison's calls of the filters, with the SQLAlchemy objects they are given."""

    def __init__(self, rules: SchemaFilter, metadata: MetaData | None) -> None:
        self.rules = rules
        self.metadata = metadata
        self.built: dict[int, Any] = {}

    # -- the filters -------------------------------------------------------------------------------

    def schema(self, name: str | None) -> bool:
        if name is not None and self.rules.filters_schemas and not self.rules.include_schemas \
                and name not in self.rules.model_schemas:
            return False  # Alembic's default: the default schema only (and the ones the models use)
        return self.name(name, "schema", {})

    def name(self, name: str | None, type_: str, parents: dict[str, Any]) -> bool:
        if not self.rules.name_filters:
            return True
        parents = dict(parents)
        if "schema_name" in parents:  # as Alembic's AutogenContext.run_name_filters completes them
            table_name = name if type_ == "table" else parents.get("table_name")
            if table_name:
                schema = parents["schema_name"]
                parents["schema_qualified_table_name"] = f"{schema}.{table_name}" if schema else table_name
        return any(fn(name, type_, parents) for fn in self.rules.name_filters)

    def object(self, obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        if not self.rules.object_filters:
            return True
        return any(fn(obj, name, type_, reflected, compare_to) for fn in self.rules.object_filters)

    def table(self, table: Table, reflected: bool, other: Table | None, *, models: bool = True,
              compare_to: Any = None) -> bool:
        if not self.rules.object_filters:
            return True
        obj = self.sa_table(table, from_models=models and not reflected)
        if compare_to is None and other is not None:
            compare_to = self.sa_table(other, from_models=False)
        return self.object(obj, split_name(table.name)[1], "table", reflected, compare_to)

    def dependents(self, current: Sequence[Any], desired: Sequence[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The views (or triggers) of both sides the filters keep, judged as alembic_utils hands its entities to
        them: type_ "view", "materialized_view" or "trigger"; the model value is the object (it has ``name``, and a
        trigger's ``table``). One the models have but a filter excludes is compared as equal (left as it is)."""
        if not (self.rules.object_filters or self.rules.name_filters or self.rules.filters_schemas):
            return tuple(current), tuple(desired)
        cur = {_key(o): o for o in current}
        des = {_key(o): o for o in desired}
        kept_cur, kept_des = [], []
        for key in dict.fromkeys([*cur, *des]):
            c, d = cur.get(key), des.get(key)
            either: View | Trigger | Function | Extension | Policy | TableGrant = d if d is not None else cur[key]
            # A grant is named by its key, in its table's schema (alembic_utils: "schema.role.table.privilege").
            schema, bare = split_name(either.table if isinstance(either, TableGrant) else either.name)
            if isinstance(either, TableGrant):
                bare = either.key
            type_ = _object_type(either)
            parents: dict[str, Any] = {"schema_name": schema}
            if isinstance(either, Trigger | Policy | TableGrant):
                parents["table_name"] = split_name(either.table)[1]
            if not self.schema(schema) or not self.name(bare, type_, parents):
                continue
            if d is not None:
                if self.object(d, bare, type_, False, c):
                    kept_des.append(d)
                    if c is not None:
                        kept_cur.append(c)
                elif c is not None:  # compared as equal: neither changed nor dropped
                    kept_cur.append(c)
                    kept_des.append(c)
            elif self.object(c, bare, type_, True, None):
                kept_cur.append(c)
        return tuple(kept_cur), tuple(kept_des)

    # -- inside a table both sides have ------------------------------------------------------------

    def inner(self, cur: Table, des: Table) -> tuple[Table, Table]:
        if not (self.rules.object_filters or self.rules.name_filters):
            return cur, des
        schema, bare = split_name(des.name)
        parents = {"table_name": bare, "schema_name": schema}
        sa_cur = self.sa_table(cur, from_models=False)
        sa_des = self.sa_table(des, from_models=True)
        out_cur: dict[str, list[Any]] = {}
        out_des: dict[str, list[Any]] = {}
        for attr, type_, key, find in (
            ("columns", "column", lambda c: c.name, _sa_column),
            ("indexes", "index", lambda i: i.name or tuple(p.sql for p in i.parts), _sa_index),
            ("uniques", "unique_constraint", lambda u: u.name or u.columns, _sa_unique),
            ("foreign_keys", "foreign_key_constraint", lambda f: f.name or (f.columns, f.ref_table), _sa_fk),
        ):
            cur_items = {key(o): o for o in getattr(cur, attr)}
            des_items = {key(o): o for o in getattr(des, attr)}
            kept_cur, kept_des = [], []
            for k in dict.fromkeys([*cur_items, *des_items]):
                c, d = cur_items.get(k), des_items.get(k)
                either = d if d is not None else c
                assert either is not None
                name = either.name
                if not self.name(name, type_, parents):
                    continue
                if d is not None:
                    if self.object(find(sa_des, d), name, type_, False, find(sa_cur, c) if c is not None else None):
                        kept_des.append(d)
                        if c is not None:
                            kept_cur.append(c)
                    elif c is not None:
                        kept_cur.append(c)
                        kept_des.append(c)
                elif self.object(find(sa_cur, c), name, type_, True, None):
                    kept_cur.append(c)
            out_cur[attr], out_des[attr] = kept_cur, kept_des
        if [c.name for c in out_des["columns"]] != [c.name for c in des.columns]:
            order = {c.name: i for i, c in enumerate(des.columns)}
            out_des["columns"].sort(key=lambda c: order.get(c.name, len(order)))
        cur_fields: dict[str, Any] = {k: tuple(v) for k, v in out_cur.items()}
        des_fields: dict[str, Any] = {k: tuple(v) for k, v in out_des.items()}
        return replace(cur, **cur_fields), replace(des, **des_fields)

    # -- SQLAlchemy objects ------------------------------------------------------------------------

    def sa_table(self, table: Table, *, from_models: bool) -> Any:
        if from_models and self.metadata is not None:
            found = self.metadata.tables.get(table.name)
            if found is not None:
                return found
        built = self.built.get(id(table))
        if built is None:
            built = self.built[id(table)] = _reflected_table(table)
        return built


def _reflected_table(table: Table) -> Any:
    """A stand-in for what Alembic's autogenerate would have reflected: names, nullability, keys (column
    types are NullType: the engine's type text is not parsed back)."""
    schema, bare = split_name(table.name)
    items: list[Any] = [sa.Column(c.name, sa.types.NullType(), nullable=c.nullable, comment=c.comment)
                        for c in table.columns]
    names = set(table.column_names)
    if table.primary_key is not None and set(table.primary_key.columns) <= names:
        items.append(sa.PrimaryKeyConstraint(*table.primary_key.columns, name=table.primary_key.name))
    items += [sa.UniqueConstraint(*u.columns, name=u.name) for u in table.uniques if set(u.columns) <= names]
    items += [sa.ForeignKeyConstraint(list(f.columns), [f"{f.ref_table}.{c}" for c in f.ref_columns], name=f.name)
              for f in table.foreign_keys if set(f.columns) <= names]
    built = sa.Table(bare, sa.MetaData(), *items, schema=schema, comment=table.comment)
    for index in table.indexes:
        parts: list[Any] = [p.column if p.column in names else sa.literal_column(p.expression or "")
                            for p in index.parts]
        with contextlib.suppress(Exception):
            sa.Index(index.name, *parts, unique=index.unique, _table=built)
    return built


def _columns_of(obj: Any) -> tuple[str, ...]:
    return tuple(getattr(c, "name", str(c)) for c in getattr(obj, "columns", ()))


def _sa_column(sa_table: Any, value: Any) -> Any:
    return sa_table.c.get(value.name) if value.name in sa_table.c else _named(value)


def _sa_index(sa_table: Any, value: Any) -> Any:
    wanted = tuple(p.column for p in value.parts)
    return next((i for i in sa_table.indexes if i.name == value.name), None) \
        or next((i for i in sa_table.indexes if _columns_of(i) == wanted), None) or _named(value)


def _sa_constraint(kind: str) -> Callable[[Any, Any], Any]:
    def find(sa_table: Any, value: Any) -> Any:
        cls = sa.UniqueConstraint if kind == "unique" else sa.ForeignKeyConstraint
        candidates = [c for c in sa_table.constraints if isinstance(c, cls)]
        return next((c for c in candidates if value.name and c.name == value.name), None) \
            or next((c for c in candidates if _columns_of(c) == tuple(value.columns)), None) or _named(value)

    return find


_sa_unique = _sa_constraint("unique")
_sa_fk = _sa_constraint("foreign_key")


def _named(value: Any) -> Any:
    """The model value itself when no SQLAlchemy object stands for it (it has ``name``, as objects do)."""
    return value


def load_schema_filter(settings: Settings) -> SchemaFilter:
    """env.py's filters (env.py run offline, as for revision), or none: without env.py, or when
    ``[atlembic] metadata`` names the models (env.py is then not run at all)."""
    if settings.metadata_ref or settings.script_location is None \
            or not (settings.script_location / "env.py").is_file():
        return SchemaFilter()
    captured = capture_environment(settings, require_metadata=False)
    return captured.schema_filter
