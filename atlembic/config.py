"""Configuration: alembic.ini (or pyproject.toml), its ``[atlembic]`` section and the CLI options -> `Settings`.

alembic.ini keeps its Alembic meaning; atlembic reads its own keys from an ``[atlembic]`` section, and
CLI options override the file. Running the project's env.py is `atlembic.environment`'s job.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import logging
import logging.config
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from atlembic.errors import AtlembicError, mask_url, one_line
from atlembic.migrate.directory import MigrationDir
from atlembic.schema.policy import NO_POLICY, DiffPolicy

__all__ = ["SchemaSource", "Settings", "load_settings", "project_alembic_config"]

CONFIG_ENV_VAR = "ATLEMBIC_CONFIG"
ATLEMBIC_SECTION = "atlembic"
DEFAULT_INI = "alembic.ini"
# Flask-Migrate's layout (``flask db init``): alembic.ini inside the Alembic script directory, which
# Flask-Migrate names "migrations" and hands Alembic as script_location itself.
FLASK_MIGRATE_DIR = "migrations"

# Alembic's generic template ships ``sqlalchemy.url = driver://user:pass@localhost/dbname``; it names
# no real dialect, so it counts as "no URL configured" when choosing a dialect.
_PLACEHOLDER_BACKEND = "driver"


# ----------------------------------------------------------------------------------------------------
# Settings


class SchemaSource(Protocol):
    """The desired schema as SQL DDL from somewhere other than the models (an atlas.hcl ``src``: a program's
    output, SQL files): run on a clean dev database and inspected, as the models' DDL is."""

    def sql(self, dialect: str) -> str:
        """The DDL text (statements with their `;`) for the engine `dialect`."""
        ...


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
    # atlas.hcl (atlembic.atlas): the desired schema when it is not the models', the engine a dev URL names
    # when no URL is a SQLAlchemy one (``docker://postgres/15/dev``: the embedded dev database), and the
    # indentation of CREATE TABLE bodies its format template asks for (None: as SQLAlchemy writes them).
    schema_source: SchemaSource | None = None
    engine_name: str | None = None
    indent: str | None = None
    # atlas.hcl's migration format (atlembic.migrate.formats): which files of migrations_dir run, and how
    migrations_format: str = "atlas"
    # atlas.hcl ``exclude`` / ``migration { exclude }``: globs of objects left out of diff and apply.
    exclude: tuple[str, ...] = ()
    # atlas.hcl ``diff { skip { } concurrent_index { } }``: what plans leave out, concurrent PostgreSQL indexes.
    diff_policy: DiffPolicy = NO_POLICY

    @property
    def dialect(self) -> str:
        """SQLAlchemy backend name of ``url``; else of ``dev_url``; else ``engine_name``; else ``"sqlite"``."""
        for candidate in (self.url, self.dev_url):
            if candidate is None:
                continue
            name = _backend_name(candidate)
            if name is not None:
                return name
        return self.engine_name or "sqlite"

    def migration_dir(self) -> MigrationDir:
        """The migration directory, read in its format (``migration { format }``, ``?format=``)."""
        return MigrationDir(self.migrations_dir, self.migrations_format)

    def redacted_url(self) -> str | None:
        """``url`` with its password masked, for messages and logs."""
        return None if self.url is None else mask_url(self.url)


def _backend_name(url: str) -> str | None:
    """Backend name of ``url``; None for Alembic's ``driver://`` placeholder."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise AtlembicError(f"invalid database URL {mask_url(url)!r}: {exc}") from exc
    name = parsed.get_backend_name()
    if name == _PLACEHOLDER_BACKEND:
        return None
    try:
        # Imports only SQLAlchemy's dialect module, never the DBAPI, so this needs no driver installed.
        parsed.get_dialect()
    except Exception as exc:
        raise AtlembicError(
            f"unknown database dialect {parsed.drivername!r} in URL {mask_url(url)!r}"
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
    alembic_cfg = alembic_config(config_file, toml_file, ini_section)
    parser = parse_ini(alembic_cfg, config_file)

    if config_file is not None and ini_section != "alembic" and not parser.has_section(ini_section):
        # -n names a section explicitly; a typo there should not silently yield an empty config.
        raise AtlembicError(f"{config_file}: no [{ini_section}] section")

    options = _atlembic_options(parser, config_file)

    ini_url = _clean(ini_get(parser, ini_section, "sqlalchemy.url", config_file))
    final_url = url if url else ini_url
    final_dev_url = dev_url if dev_url else (options.get("dev_url") or None)

    script_location = _resolve_script_location(alembic_cfg, config_file, here)
    if directory is not None:
        migrations_dir = Path(directory).expanduser().absolute()
    elif options.get("migrations_dir"):
        # Our own key: a relative value is taken relative to the ini file, which is what users expect
        # (Alembic resolves script_location against the CWD, hence its "%(here)s/..." habit).
        migrations_dir = (here / Path(options["migrations_dir"]).expanduser()).absolute()
    elif script_location == here.absolute() and not (here / "migrations").is_dir():
        # Flask-Migrate's layout (alembic.ini inside the script directory "migrations"): "migrations" beside
        # the ini would be that name again, inside it.
        migrations_dir = here / "atlas"
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
        script_location=script_location,
        x_args=list(x_args),
        options=options,
        toml_file=toml_file,
        # Atlas's exclude globs (legacy_*, *.internal_note), as atlas.hcl's exclude: left out of diff and apply.
        exclude=tuple(re.split(r"[\s,]+", options["exclude"].strip())) if options.get("exclude") else (),
    )


def _discover_config_file(config: str | Path | None) -> Path | None:
    if config is not None and str(config) != "":
        named, origin = Path(config), "config file"
    elif os.environ.get(CONFIG_ENV_VAR):
        named, origin = Path(os.environ[CONFIG_ENV_VAR]), f"{CONFIG_ENV_VAR} names a config file but"
    else:
        default = Path.cwd() / DEFAULT_INI
        if default.is_file():
            return default
        flask_migrate = Path.cwd() / FLASK_MIGRATE_DIR
        found = flask_migrate / DEFAULT_INI
        return found if found.is_file() and (flask_migrate / "env.py").is_file() else None
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
def quiet_alembic() -> Iterator[None]:
    # Importing alembic.config pulls in the autogenerate plugins, which log "setup plugin ..." at INFO;
    # that is noise in atlembic's output whenever the host has INFO logging on.
    alembic_logger = logging.getLogger("alembic")
    saved = alembic_logger.level
    alembic_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_logger.setLevel(saved)


def alembic_config(config_file: Path | None, toml_file: Path | None, ini_section: str) -> Any:
    with quiet_alembic():
        from alembic.config import Config

    return Config(
        file_=str(config_file) if config_file else None,
        toml_file=str(toml_file) if toml_file else None,
        ini_section=ini_section,
        output_buffer=io.StringIO(),
        stdout=io.StringIO(),
    )


def parse_ini(alembic_cfg: Any, config_file: Path | None) -> configparser.ConfigParser:
    # Alembic's own parser, so %(here)s and %% behave exactly as in Alembic.
    try:
        parser: configparser.ConfigParser = alembic_cfg.file_config
    except configparser.Error as exc:
        raise AtlembicError(f"{config_file}: {one_line(exc)}") from exc
    if config_file is not None:
        # Alembic's Config points %(here)s at the ini dir; make sure it is absolute and POSIX.
        cast("dict[str, str]", parser.defaults())["here"] = config_file.parent.as_posix()
    else:
        cast("dict[str, str]", parser.defaults())["here"] = Path.cwd().as_posix()
    return parser


def ini_get(parser: configparser.ConfigParser, section: str, key: str, config_file: Path | None) -> str | None:
    if not parser.has_section(section) or not parser.has_option(section, key):
        return None
    try:
        return parser.get(section, key)
    except configparser.Error as exc:
        raise AtlembicError(f"{config_file or 'config'}: [{section}] {key}: {one_line(exc)}") from exc


def _atlembic_options(parser: configparser.ConfigParser, config_file: Path | None) -> dict[str, str]:
    if not parser.has_section(ATLEMBIC_SECTION):
        return {}
    defaults = set(parser.defaults())
    options: dict[str, str] = {}
    for key in parser.options(ATLEMBIC_SECTION):
        if key in defaults:  # "here" leaks into every section through ConfigParser defaults
            continue
        options[key] = _clean(ini_get(parser, ATLEMBIC_SECTION, key, config_file)) or ""
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
        raise AtlembicError(f"{config_file}: script_location: {one_line(exc)}") from exc
    except Exception as exc:  # TOML formatting problems surface as alembic CommandError
        raise AtlembicError(f"script_location: {one_line(exc)}") from exc
    raw = _clean(raw) if isinstance(raw, str) else None
    if raw is None:
        # Flask-Migrate's alembic.ini names no script_location: Flask-Migrate passes the directory holding
        # the ini (and env.py) itself.
        if config_file is not None and (config_file.parent / "env.py").is_file():
            return config_file.parent.absolute()
        return None
    if not os.path.isabs(raw) and ":" in raw:
        # "package:dir" is a package resource in Alembic; importing the package may need the project's
        # sys.path entries.
        from alembic.util import coerce_resource_to_filename

        with project_on_sys_path(alembic_cfg, here, keep=False):
            try:
                return Path(coerce_resource_to_filename(raw)).absolute()
            except Exception as exc:
                raise AtlembicError(
                    f"script_location = {raw}: cannot resolve package resource: {one_line(exc)}"
                ) from exc
    # Like Alembic: relative to the CWD, not to the ini file.
    return Path(raw).expanduser().absolute()


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
    cfg = alembic_config(settings.config_file, settings.toml_file, settings.ini_section)
    parser = parse_ini(cfg, settings.config_file)
    if not parser.has_section(settings.ini_section):
        # env.py's config.get_main_option() raises when the main section is missing.
        parser.add_section(settings.ini_section)
    # Absolute, so that a temporary CWD cannot change what it points at.
    cfg.set_main_option("script_location", ini_escape(str(settings.script_location)))
    return env_py, cfg


@contextlib.contextmanager
def project_on_sys_path(cfg: Any, here: Path, *, keep: bool) -> Iterator[None]:
    """prepend_sys_path entries (absolute) at the front and the ini dir as a fallback at the end."""
    saved_path = list(sys.path)
    try:
        front = [os.path.abspath(p) for p in (cfg.get_prepend_sys_paths_list() or [])]
    except Exception as exc:
        raise AtlembicError(f"prepend_sys_path: {one_line(exc)}") from exc
    tail = fallback_entries(here, saved_path + front)
    sys.path[:0] = [p for p in front if p not in saved_path]
    sys.path.extend(tail)
    try:
        yield
    finally:
        if keep:
            settle_sys_path(saved_path, tail)
        else:
            sys.path[:] = saved_path


def fallback_entries(here: Path, existing: list[str]) -> list[str]:
    # The ini directory goes at the END: it lets `atlembic -c proj/alembic.ini` from elsewhere import
    # proj's models (prepend_sys_path "." means the CWD, as in Alembic) without shadowing anything.
    entry = str(here)
    return [] if entry in existing else [entry]


def settle_sys_path(saved: list[str], tail: list[str]) -> None:
    saved_set = set(saved)
    front: list[str] = []
    for entry in sys.path:
        if entry in saved_set or entry in tail or entry in front:
            continue
        front.append(entry)
    sys.path[:] = front + saved + [entry for entry in tail if entry not in front]


def ini_escape(value: str) -> str:
    # ConfigParser.set() interpolates: a literal % must be doubled.
    return value.replace("%", "%%")


