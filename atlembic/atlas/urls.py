"""Atlas's database URLs as SQLAlchemy URLs with atlembic's drivers, and Atlas's dev URLs as the embedded dev
databases (``docker://postgres/15/dev`` is the local PostgreSQL server atlembic starts itself, no docker).

Atlas writes ``postgres://user:pass@host:5432/db?sslmode=disable&search_path=public``, ``mysql://``,
``maria://`` / ``mariadb://`` and ``sqlite://file.db`` (a path relative to the project); a URL whose scheme
names a driver (``postgresql+psycopg://``) is SQLAlchemy's already and is taken as it is."""

from __future__ import annotations

import re
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from atlembic.engines import ENGINES, Engine, docker_engine, find_engine
from atlembic.errors import AtlembicError, mask_url

__all__ = ["DevTarget", "dev_target", "target_url"]

# Query parameters of Go's MySQL driver (Atlas's) that change nothing for a migration tool's connection.
_GO_MYSQL_ONLY = frozenset({"parseTime", "loc", "multiStatements", "interpolateParams", "timeout", "readTimeout",
                            "writeTimeout", "allowNativePasswords", "collation", "columnsWithAlias"})
# What PyMySQL takes as it is (the rest of a MySQL URL's query is Go's driver's).
_MYSQL_KEPT = frozenset({"charset", "unix_socket", "ssl_disabled", "database"})
# Query parameters of Atlas's SQLite driver that do not change what a file is: foreign keys are on in every
# connection atlembic makes to SQLite, and the shared cache only matters to Go's pool.
_SQLITE_IGNORED = frozenset({"_fk", "_foreign_keys", "cache", "_pragma"})


def _atlas_engine(scheme: str) -> Engine | None:
    """The engine an Atlas URL scheme names (postgres, postgresql, mysql, maria, mariadb, sqlite, and
    ``+unix`` for a socket), None for a SQLAlchemy URL (a driver after ``+``) or another scheme."""
    name, _, transport = scheme.partition("+")
    if transport not in ("", "unix"):
        return None
    return find_engine(name)


def _user(text: str | None) -> str | None:
    return urllib.parse.unquote(text) if text is not None else None


def _query(parts: urllib.parse.SplitResult) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))


# SQLite's own names of an in-memory database (``sqlite://:memory:``, ``sqlite://file::memory:?cache=shared``).
_SQLITE_MEMORY_NAMES = frozenset({":memory:", "file::memory:"})


def _sqlite_url(raw: str, here: Path) -> URL:
    rest = raw.split("://", 1)[1]
    path, _, query_text = rest.partition("?")
    query = dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
    if query.pop("mode", None) == "memory" or urllib.parse.unquote(path).lstrip("/") in _SQLITE_MEMORY_NAMES:
        return URL.create("sqlite")
    unknown = sorted(set(query) - _SQLITE_IGNORED)
    if unknown:
        raise AtlembicError(f"{raw}: query parameter {unknown[0]!r} is not supported for SQLite")
    if not path:
        raise AtlembicError(f"{raw}: no database file after sqlite://")
    file = Path(urllib.parse.unquote(path)).expanduser()
    return URL.create("sqlite", database=str(file if file.is_absolute() else (here / file).absolute()))


def target_url(raw: str, here: Path) -> str:
    """`raw` (an Atlas URL, or a SQLAlchemy one) as a SQLAlchemy URL string with atlembic's drivers; relative
    SQLite files are taken relative to `here` (atlas.hcl's directory, else the working directory).
    PostgreSQL's ``search_path`` becomes a connect option (libpq ``options=-csearch_path=...``), so every
    unqualified name, the revisions table's too, resolves in that schema, as in Atlas's schema-bound URLs."""
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    engine = _atlas_engine(scheme)
    if engine is None:
        return raw
    if engine.family == "sqlite":
        return _sqlite_url(raw, here).render_as_string(hide_password=False)
    parts = urllib.parse.urlsplit(raw)
    query = _query(parts)
    try:
        port = parts.port
    except ValueError:
        raise AtlembicError(f"invalid port in URL {mask_url(raw)}") from None
    if engine.family == "postgresql":
        search_path = query.pop("search_path", None)
        if search_path:
            option = f"-csearch_path={search_path}"
            query["options"] = f"{query['options']} {option}" if query.get("options") else option
    else:
        for key in sorted(query):
            if key in _GO_MYSQL_ONLY:
                del query[key]
            elif key not in _MYSQL_KEPT:
                raise AtlembicError(f"{mask_url(raw)}: query parameter {key!r} is not supported for {engine.title}")
    if scheme.endswith("+unix"):  # mysql+unix://user:pass@/path/to/mysql.sock?database=db
        database = query.pop("database", None)
        return URL.create(f"{engine.name}+{engine.driver}", username=_user(parts.username),
                          password=_user(parts.password), host="localhost", database=database,
                          query={**query, "unix_socket": urllib.parse.unquote(parts.path)},
                          ).render_as_string(hide_password=False)
    url = URL.create(
        f"{engine.name}+{engine.driver}",
        username=_user(parts.username),
        password=_user(parts.password),
        host=parts.hostname or None,
        port=port,
        database=urllib.parse.unquote(parts.path.lstrip("/")) or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class DevTarget:
    """What an Atlas dev URL means here: a SQLAlchemy URL of a dev server, or (``url`` None) the embedded dev
    database of `engine`; `warning`: the one line to say when the local server is not the one named."""

    url: str | None
    engine: str
    warning: str | None = None

    def warn(self) -> None:
        if self.warning is not None:
            print(f"atlembic: warning: {self.warning}", file=sys.stderr)


def _docker_dev(raw: str) -> DevTarget:
    parts = urllib.parse.urlsplit(raw)
    image = parts.hostname or ""
    engine = docker_engine(image)
    if engine is None:
        supported = ", ".join(sorted({i for e in ENGINES for i in e.docker_images}))
        raise AtlembicError(f'{raw}: unsupported docker image "{image}" (atlembic runs the local server of: '
                            f"{supported})")
    segments = [s for s in parts.path.split("/") if s]
    tag = segments[0] if segments else "latest"
    try:
        local = engine.local_server()
    except AtlembicError:
        return DevTarget(None, engine.name)  # opening it says what is missing
    title, _, version = local.partition(" ")
    local_engine = find_engine(title) or engine
    named = re.match(r"\d+", tag)
    other_version = named is not None and named[0] != version.split(".")[0]
    if local_engine is engine and not other_version:
        return DevTarget(None, engine.name)
    named_as = urllib.parse.urlunsplit(parts._replace(query=""))
    return DevTarget(None, local_engine.name,
                     f"{named_as}: using the local {title} {version.split('.')[0]} server")


def dev_target(raw: str, here: Path) -> DevTarget:
    """`raw` as a dev database: ``docker://IMAGE/TAG[/DB]`` is the embedded dev database of the engine with
    that image (a one-line warning when the local server's major version, or flavor, is another);
    ``sqlite://NAME?mode=memory``, ``sqlite://:memory:`` or ``sqlite://`` the in-memory SQLite one; any other URL
    a dev server (`target_url`)."""
    scheme, sep, rest = raw.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme == "docker":
        return _docker_dev(raw)
    atlas_engine = _atlas_engine(scheme)
    # ``sqlite://`` names no file: a private database, in memory (a target URL needs its file).
    nameless = atlas_engine is not None and atlas_engine.in_process and not rest.partition("?")[0]
    url = "sqlite://" if nameless else target_url(raw, here)
    engine = find_engine(url.split("://", 1)[0])
    if engine is not None and engine.in_process and url == "sqlite://":
        return DevTarget(None, engine.name)
    if engine is None:
        raise AtlembicError(f"dev URL {mask_url(raw)}: unsupported database")
    return DevTarget(url, engine.name)
