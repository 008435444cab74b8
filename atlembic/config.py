"""Configuration loading and capturing ``target_metadata`` without touching a database.

alembic.ini keeps its Alembic meaning; atlembic reads its own keys from an ``[atlembic]`` section.
CLI options override the file. ``target_metadata`` comes either from ``[atlembic] metadata =
package.module:attr`` or from the project's env.py, run the way Alembic's offline (``--sql``) mode runs
it, with ``context.configure`` intercepted so that nothing ever connects.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import importlib
import inspect
import io
import logging
import logging.config
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from atlembic.errors import AtlembicError

__all__ = [
    "CapturedEnvironment",
    "Settings",
    "capture_environment",
    "load_settings",
    "import_metadata",
    "load_target_metadata",
    "redact_url",
]

CONFIG_ENV_VAR = "ATLEMBIC_CONFIG"
ATLEMBIC_SECTION = "atlembic"
DEFAULT_INI = "alembic.ini"

# Alembic's generic template ships ``sqlalchemy.url = driver://user:pass@localhost/dbname``; it names
# no real dialect, so it counts as "no URL configured" when choosing a dialect.
_PLACEHOLDER_BACKEND = "driver"

# Query parameters that carry secrets in some drivers' URLs (e.g. ``?password=`` for psycopg).
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "pass", "secret", "token", "sslpassword"})


# ----------------------------------------------------------------------------------------------------
# Settings


@dataclass
class Settings:
    """Everything atlembic needs from alembic.ini plus the global CLI options."""

    config_file: Path | None
    here: Path
    ini_section: str
    url: str | None
    dev_url: str | None
    migrations_dir: Path
    metadata_ref: str | None
    script_location: Path | None
    x_args: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    # pyproject.toml whose [tool.alembic] Alembic would also consult (Alembic looks in the CWD).
    toml_file: Path | None = None

    @property
    def dialect(self) -> str:
        """SQLAlchemy backend name of ``url``; else of ``dev_url``; else ``"sqlite"``."""
        for candidate in (self.url, self.dev_url):
            if candidate is None:
                continue
            name = _backend_name(candidate)
            if name is not None:
                return name
        return "sqlite"

    def redacted_url(self) -> str | None:
        """``url`` with its password masked, for messages and logs."""
        return None if self.url is None else redact_url(self.url)

    def redacted_dev_url(self) -> str | None:
        return None if self.dev_url is None else redact_url(self.dev_url)


def redact_url(url: str | URL) -> str:
    """Render a database URL with the password (and password-like query values) masked."""
    try:
        parsed = make_url(url)
    except Exception:
        # Not parseable by SQLAlchemy: mask anything shaped like "user:secret@" or "password=secret".
        masked = re.sub(r":[^:/@\s]+@", ":***@", str(url))
        keys = "|".join(sorted(_SECRET_QUERY_KEYS))
        return re.sub(rf"(?i)\b({keys})=[^&\s]*", r"\1=***", masked)
    if parsed.query:
        masked = {
            key: ("***" if key.lower() in _SECRET_QUERY_KEYS else value)
            for key, value in parsed.query.items()
        }
        parsed = parsed.set(query=masked)
    return parsed.render_as_string(hide_password=True)


def _backend_name(url: str) -> str | None:
    """Backend name of ``url``; None for Alembic's ``driver://`` placeholder."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise AtlembicError(f"invalid database URL {redact_url(url)!r}: {exc}") from exc
    name = parsed.get_backend_name()
    if name == _PLACEHOLDER_BACKEND:
        return None
    try:
        # Imports only SQLAlchemy's dialect module, never the DBAPI, so this needs no driver installed.
        parsed.get_dialect()
    except Exception as exc:
        raise AtlembicError(
            f"unknown database dialect {parsed.drivername!r} in URL {redact_url(url)!r}"
        ) from exc
    return name


def load_settings(
    config: str | Path | None = None,
    *,
    url: str | None = None,
    dev_url: str | None = None,
    directory: str | Path | None = None,
    x_args: Sequence[str] = (),
    ini_section: str = "alembic",
) -> Settings:
    """Read alembic.ini (if any) and apply the CLI overrides.

    The ini file is ``config``, else ``$ATLEMBIC_CONFIG``, else ``./alembic.ini`` if it exists, else none
    (everything then defaults relative to the CWD).
    """
    config_file = _discover_config_file(config)
    here = config_file.parent if config_file is not None else Path.cwd()
    toml_file = _discover_toml_file()
    alembic_cfg = _alembic_config(config_file, toml_file, ini_section)
    parser = _parse(alembic_cfg, config_file)

    if config_file is not None and ini_section != "alembic" and not parser.has_section(ini_section):
        # -n names a section explicitly; a typo there should not silently yield an empty config.
        raise AtlembicError(f"{config_file}: no [{ini_section}] section")

    options = _atlembic_options(parser, config_file)

    ini_url = _clean(_get(parser, ini_section, "sqlalchemy.url", config_file))
    final_url = url if url else ini_url
    final_dev_url = dev_url if dev_url else (options.get("dev_url") or None)

    if directory is not None:
        migrations_dir = Path(directory).expanduser().absolute()
    elif options.get("migrations_dir"):
        # Our own key: a relative value is taken relative to the ini file, which is what users expect
        # (Alembic resolves script_location against the CWD, hence its "%(here)s/..." habit).
        migrations_dir = (here / Path(options["migrations_dir"]).expanduser()).absolute()
    else:
        migrations_dir = here / "migrations"

    return Settings(
        config_file=config_file,
        here=here,
        ini_section=ini_section,
        url=final_url,
        dev_url=final_dev_url,
        migrations_dir=migrations_dir,
        metadata_ref=options.get("metadata") or None,
        script_location=_resolve_script_location(alembic_cfg, config_file, here),
        x_args=list(x_args),
        options=options,
        toml_file=toml_file,
    )


def _discover_config_file(config: str | Path | None) -> Path | None:
    if config is not None and str(config) != "":
        named, origin = Path(config), "config file"
    elif os.environ.get(CONFIG_ENV_VAR):
        named, origin = Path(os.environ[CONFIG_ENV_VAR]), f"{CONFIG_ENV_VAR} names a config file but"
    else:
        default = Path.cwd() / DEFAULT_INI
        return default if default.is_file() else None
    named = named.expanduser().absolute()
    if not named.is_file():
        raise AtlembicError(f"{origin} {named} does not exist")
    return named


def _discover_toml_file() -> Path | None:
    # Alembic (1.16+) also reads [tool.alembic] from ./pyproject.toml; the pyproject templates keep
    # script_location and prepend_sys_path there. Only bother when that table exists.
    candidate = Path.cwd() / "pyproject.toml"
    if not candidate.is_file():
        return None
    try:
        text = candidate.read_text(encoding="utf-8")
    except OSError:
        return None
    return candidate if re.search(r"^\s*\[tool\.alembic", text, re.MULTILINE) else None


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    # Importing alembic.config pulls in the autogenerate plugins, which log "setup plugin ..." at INFO;
    # that is noise in atlembic's output whenever the host has INFO logging on.
    alembic_logger = logging.getLogger("alembic")
    saved = alembic_logger.level
    alembic_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_logger.setLevel(saved)


def _alembic_config(config_file: Path | None, toml_file: Path | None, ini_section: str) -> Any:
    with _quiet_alembic():
        from alembic.config import Config

    return Config(
        file_=str(config_file) if config_file else None,
        toml_file=str(toml_file) if toml_file else None,
        ini_section=ini_section,
        output_buffer=io.StringIO(),
        stdout=io.StringIO(),
    )


def _parse(alembic_cfg: Any, config_file: Path | None) -> configparser.ConfigParser:
    # Alembic's own parser, so %(here)s and %% behave exactly as in Alembic.
    try:
        parser: configparser.ConfigParser = alembic_cfg.file_config
    except configparser.Error as exc:
        raise AtlembicError(f"{config_file}: {_one_line(exc)}") from exc
    if config_file is not None:
        # Alembic's Config points %(here)s at the ini dir; make sure it is absolute and POSIX.
        parser.defaults()["here"] = config_file.parent.as_posix()
    else:
        parser.defaults()["here"] = Path.cwd().as_posix()
    return parser


def _get(parser: configparser.ConfigParser, section: str, key: str, config_file: Path | None) -> str | None:
    if not parser.has_section(section) or not parser.has_option(section, key):
        return None
    try:
        return parser.get(section, key)
    except configparser.Error as exc:
        raise AtlembicError(f"{config_file or 'config'}: [{section}] {key}: {_one_line(exc)}") from exc


def _atlembic_options(parser: configparser.ConfigParser, config_file: Path | None) -> dict[str, str]:
    if not parser.has_section(ATLEMBIC_SECTION):
        return {}
    defaults = set(parser.defaults())
    options: dict[str, str] = {}
    for key in parser.options(ATLEMBIC_SECTION):
        if key in defaults:  # "here" leaks into every section through ConfigParser defaults
            continue
        options[key] = _clean(_get(parser, ATLEMBIC_SECTION, key, config_file)) or ""
    return options


def _clean(value: str | None) -> str | None:
    """Strip whitespace and a trailing ``; comment``/``# comment``; empty -> None.

    ConfigParser (as Alembic configures it) keeps inline comments in values, but ``dev_url =   ; empty``
    is a natural thing to write. URLs, dotted refs and sane paths never contain `` ;`` or `` #``.
    """
    if value is None:
        return None
    value = re.sub(r"(^|\s+)[;#].*$", "", value.strip(), flags=re.DOTALL).strip()
    return value or None


def _resolve_script_location(alembic_cfg: Any, config_file: Path | None, here: Path) -> Path | None:
    try:
        raw = alembic_cfg.get_alembic_option("script_location")
    except configparser.Error as exc:
        raise AtlembicError(f"{config_file}: script_location: {_one_line(exc)}") from exc
    except Exception as exc:  # TOML formatting problems surface as alembic CommandError
        raise AtlembicError(f"script_location: {_one_line(exc)}") from exc
    raw = _clean(raw) if isinstance(raw, str) else None
    if raw is None:
        return None
    if not os.path.isabs(raw) and ":" in raw:
        # "package:dir" is a package resource in Alembic; importing the package may need the project's
        # sys.path entries.
        from alembic.util import coerce_resource_to_filename

        with _project_on_sys_path(alembic_cfg, here, keep=False):
            try:
                return Path(coerce_resource_to_filename(raw)).absolute()
            except Exception as exc:
                raise AtlembicError(
                    f"script_location = {raw}: cannot resolve package resource: {_one_line(exc)}"
                ) from exc
    # Like Alembic: relative to the CWD, not to the ini file.
    return Path(raw).expanduser().absolute()


# ----------------------------------------------------------------------------------------------------
# target_metadata


@dataclass
class CapturedEnvironment:
    """What env.py handed to ``context.configure()``, one dict per call (multidb calls it per engine)."""

    env_py: Path
    configure_calls: list[dict[str, Any]]
    metadata: MetaData


def load_target_metadata(settings: Settings) -> MetaData:
    """The project's model metadata, from ``[atlembic] metadata`` or else from env.py. Never connects."""
    if settings.metadata_ref:
        return _import_metadata_ref(settings)
    return capture_environment(settings).metadata


def project_alembic_config(settings: Settings, missing: str) -> tuple[Path, Any]:
    """env.py's path and the project's Alembic Config, ready to run env.py or read the history.

    `missing` is the error for a project without script_location; `{where}` names the ini file.
    """
    if settings.script_location is None:
        where = settings.config_file or f"{settings.here / DEFAULT_INI} (not found)"
        raise AtlembicError(missing.format(where=where))
    env_py = settings.script_location / "env.py"
    if not env_py.is_file():
        raise AtlembicError(f"env.py not found: {env_py} (from script_location)")
    cfg = _alembic_config(settings.config_file, settings.toml_file, settings.ini_section)
    parser = _parse(cfg, settings.config_file)
    if not parser.has_section(settings.ini_section):
        # env.py's config.get_main_option() raises when the main section is missing.
        parser.add_section(settings.ini_section)
    # Absolute, so that a temporary CWD cannot change what it points at.
    cfg.set_main_option("script_location", _escape(str(settings.script_location)))
    return env_py, cfg


def capture_environment(settings: Settings) -> CapturedEnvironment:
    """Run env.py as Alembic's offline mode would and record its ``context.configure()`` calls."""
    env_py, cfg = project_alembic_config(
        settings,
        "no model metadata configured in {where}: set [atlembic] metadata = package.module:attr, "
        "or [alembic] script_location to the directory holding env.py",
    )
    with _quiet_alembic():
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

    if settings.url is not None:
        # env.py reads the target URL from here, so --url has to be visible to it.
        cfg.set_main_option("sqlalchemy.url", _escape(settings.url))
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
    parser = _parse(cfg, settings.config_file)
    scratch_cwd = _get(parser, settings.ini_section, "databases", settings.config_file) is not None

    with _isolated_run(settings.here, scratch_cwd):
        try:
            script = ScriptDirectory.from_config(cfg)
        except Exception as exc:
            raise AtlembicError(f"{settings.config_file or 'config'}: {_describe(exc)}") from exc
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

        try:
            with env:
                script.run_env()
        except (Exception, SystemExit) as exc:
            raise AtlembicError(f"{env_py}: {_describe(exc)}") from exc

    return CapturedEnvironment(
        env_py=env_py, configure_calls=captured, metadata=_metadata_from(captured, env_py)
    )


def _metadata_from(captured: list[dict[str, Any]], env_py: Path) -> MetaData:
    found: list[MetaData] = []
    for call in captured:
        value = call.get("target_metadata")
        if value is None:
            continue
        found.extend(_as_metadata_list(value, f"env.py: {env_py}: target_metadata"))
    if not found:
        raise AtlembicError(f"env.py: {env_py} does not provide target_metadata to context.configure()")
    return _merge(found, f"env.py: {env_py}")


def _import_metadata_ref(settings: Settings) -> MetaData:
    ref = settings.metadata_ref or ""
    return import_metadata(settings, ref, f"[atlembic] metadata = {ref}")


def import_metadata(settings: Settings, ref: str, where: str) -> MetaData:
    """The MetaData (or declarative Base, or sequence of MetaData) `ref` = "package.module:attr" names,
    imported with the project on sys.path as env.py would see it; errors name `where`."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise AtlembicError(f"{where}: expected 'package.module:attribute'")
    cfg = _alembic_config(settings.config_file, settings.toml_file, settings.ini_section)
    _parse(cfg, settings.config_file)
    with _project_on_sys_path(cfg, settings.here, keep=True):
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr_path.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise AtlembicError(f"{where}: {_describe(exc)}") from exc
    if not isinstance(obj, MetaData) and isinstance(getattr(obj, "metadata", None), MetaData):
        # Accept a declarative Base (or registry) too: "models:Base" is the obvious thing to write.
        obj = obj.metadata
    return _merge(_as_metadata_list(obj, where), where)


def _as_metadata_list(value: Any, where: str) -> list[MetaData]:
    if isinstance(value, MetaData):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = list(value)
        if items and all(isinstance(item, MetaData) for item in items):
            return items
    raise AtlembicError(f"{where} is {type(value).__name__}, expected a MetaData or a sequence of MetaData")


def _merge(metadatas: list[MetaData], where: str) -> MetaData:
    unique: list[MetaData] = []
    for md in metadatas:
        if not any(md is seen for seen in unique):
            unique.append(md)
    if len(unique) == 1:
        # Keep the original object: callers may rely on identity with the ORM's tables.
        return unique[0]
    conventions = {tuple(sorted((str(k), str(v)) for k, v in md.naming_convention.items())) for md in unique}
    schemas = {md.schema for md in unique}
    merged = MetaData(
        naming_convention=dict(unique[0].naming_convention) if len(conventions) == 1 else None,
        schema=unique[0].schema if len(schemas) == 1 else None,
    )
    for md in unique:
        for key, table in md.tables.items():
            if key in merged.tables:
                raise AtlembicError(f"{where}: table {key!r} is defined in more than one target_metadata")
            table.to_metadata(merged)
    return merged


# ----------------------------------------------------------------------------------------------------
# Process-state hygiene around env.py


@contextlib.contextmanager
def _isolated_run(here: Path, scratch_cwd: bool) -> Iterator[None]:
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
    logging.config.fileConfig = _skip_file_config  # type: ignore[assignment]
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tail = _fallback_entries(here, saved_path)
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
        logging.config.fileConfig = saved_file_config  # type: ignore[assignment]
        _restore_logging(saved_logging)
        _settle_sys_path(saved_path, tail)


@contextlib.contextmanager
def _project_on_sys_path(cfg: Any, here: Path, *, keep: bool) -> Iterator[None]:
    """prepend_sys_path entries (absolute) at the front and the ini dir as a fallback at the end."""
    saved_path = list(sys.path)
    try:
        front = [os.path.abspath(p) for p in (cfg.get_prepend_sys_paths_list() or [])]
    except Exception as exc:
        raise AtlembicError(f"prepend_sys_path: {_one_line(exc)}") from exc
    tail = _fallback_entries(here, saved_path + front)
    sys.path[:0] = [p for p in front if p not in saved_path]
    sys.path.extend(tail)
    try:
        yield
    finally:
        if keep:
            _settle_sys_path(saved_path, tail)
        else:
            sys.path[:] = saved_path


def _fallback_entries(here: Path, existing: list[str]) -> list[str]:
    # The ini directory goes at the END: it lets `atlembic -c proj/alembic.ini` from elsewhere import
    # proj's models (prepend_sys_path "." means the CWD, as in Alembic) without shadowing anything.
    entry = str(here)
    return [] if entry in existing else [entry]


def _absolutize_prepended(cfg: Any) -> None:
    # ScriptDirectory.from_config() put the raw prepend_sys_path entries (typically ".") at the front
    # of sys.path; pin them to the CWD now, before any chdir and before the models are imported.
    entries = cfg.get_prepend_sys_paths_list() or []
    for index, entry in enumerate(entries):
        if index < len(sys.path) and sys.path[index] == entry:
            sys.path[index] = os.path.abspath(entry)


def _settle_sys_path(saved: list[str], tail: list[str]) -> None:
    saved_set = set(saved)
    front: list[str] = []
    for entry in sys.path:
        if entry in saved_set or entry in tail or entry in front:
            continue
        front.append(entry)
    sys.path[:] = front + saved + [entry for entry in tail if entry not in front]


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


# ----------------------------------------------------------------------------------------------------
# Small helpers


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


def _escape(value: str) -> str:
    # ConfigParser.set() interpolates: a literal % must be doubled.
    return value.replace("%", "%%")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _describe(exc: BaseException) -> str:
    message = _one_line(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
