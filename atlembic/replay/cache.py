"""The replay cache: what replaying a migration directory on a dev database produced, kept between runs.

Entries (states, inspected schemas, the models' desired schemas, models snapshots) are keyed by a running
hash over the replayed files, the dialect, the dev server's version and atlembic's code; each is one file
under ``$XDG_CACHE_HOME/atlembic/replay``, written atomically and checksummed. An entry that does not
verify, load or restore is dropped and the work done afresh; ``--no-cache`` (``ATLEMBIC_NO_CACHE=1``)
skips it all. The design is in docs/architecture.md ("The replay cache").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy.engine import Connection, Engine

from atlembic import __version__
from atlembic.devdb import DevDatabase, normalize_dialect
from atlembic.devdb.process import cache_root
from atlembic.errors import AtlembicError

__all__ = [
    "cache_dir", "disable", "enable", "enabled", "load_desired", "load_schema", "save_desired", "save_schema",
]

FORMAT = 1
_MAGIC = b"atlembic-replay-cache\n"
_KEEP = {"state": 12, "schema": 48, "desired": 48, "models": 16}  # entries kept per kind, most recently used first
# PostgreSQL/MariaDB states are saved only after replays at least this long (dump + restore cost ~0.1 s)
# that did more than create tables and indexes (see replay_files).
SERVER_STATE_MIN_SECONDS = 0.5
_disabled = os.environ.get("ATLEMBIC_NO_CACHE", "").lower() in ("1", "true", "yes")


def disable() -> None:
    """``--no-cache``: neither read nor write the cache in this process."""
    global _disabled
    _disabled = True


def enable() -> None:
    global _disabled
    _disabled = False


def enabled() -> bool:
    return not _disabled


def cache_dir() -> Path:
    return cache_root() / "replay"


# -- keys ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of atlembic's version and of every source file of the package.

    Any module may decide what a replay, an inspection or a models snapshot produces (the splitter, the
    executor, the reflectors, the provider, how env.py is run), and a module that moves or is added must
    invalidate entries too: so all of them count, not a list kept by hand. Reading them costs a few
    milliseconds, once per process."""
    sha = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version_info[:2]}".encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        sha.update(path.relative_to(root).as_posix().encode() + b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _base(dialect: str, identity: str) -> bytes:
    return f"{code_fingerprint()}\0{normalize_dialect(dialect)}\0{identity}\0".encode()


def prefix_keys(files: Sequence[Any], dialect: str, identity: str) -> list[str]:
    """keys[i]: the state after files[0..i] (running hash over names and contents, as atlas.sum)."""
    base = _base(dialect, identity)
    running = hashlib.sha256()
    keys = []
    for file in files:
        running.update(file.name.encode())
        running.update(file.content)
        keys.append(hashlib.sha256(base + running.digest()).hexdigest())
    return keys


_CREATE_INDEX = re.compile(r"\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.IGNORECASE)


def _canonical(statements: Sequence[str]) -> list[str]:
    """The statements with each run of consecutive CREATE INDEX sorted: SQLAlchemy emits a table's indexes
    in set order, which varies between processes, and indexes created one after the other are independent."""
    out: list[str] = []
    run: list[str] = []
    for sql in [*statements, None]:
        if sql is not None and _CREATE_INDEX.match(sql):
            run.append(sql)
            continue
        out += sorted(run)
        run = []
        if sql is not None:
            out.append(sql)
    return out


def desired_key(statements: Sequence[str], dialect: str, identity: str | None) -> str | None:
    """The key of the models' inspected schema: their DDL (None: `identity` is None, not cached)."""
    if identity is None:
        return None
    sha = hashlib.sha256(_base(dialect, identity))
    for sql in _canonical(statements):
        sha.update(sql.encode())
        sha.update(b"\0;\0")
    return sha.hexdigest()


def connection_identity(conn: Connection) -> str:
    """The engine and version of the server behind `conn` (for state entries)."""
    dialect = conn.dialect
    if dialect.name == "sqlite":
        return f"sqlite {sqlite3.sqlite_version}"
    flavor = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
    return f"{flavor} {'.'.join(map(str, dialect.server_version_info or ()))}"


def dev_identity(dev: DevDatabase) -> str | None:
    """What schema entries of `dev` are keyed with: its engine and version; None for a --dev-url server."""
    return dev.cache_identity if enabled() else None


# -- storage ---------------------------------------------------------------------------------------------


def _path(kind: str, key: str) -> Path:
    return cache_dir() / f"{kind}-{key}.bin"


def read_entry(kind: str, key: str) -> tuple[dict[str, Any], bytes] | None:
    """The entry's metadata and payload, or None. A damaged entry is deleted."""
    path = _path(kind, key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("bad magic")
        header_end = data.index(b"\n", len(_MAGIC))
        meta = json.loads(data[len(_MAGIC):header_end])
        payload = data[header_end + 1:]
        if (meta.get("kind"), meta.get("key"), meta.get("size")) != (kind, key, len(payload)):
            raise ValueError("header does not match")
        if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
            raise ValueError("checksum mismatch")
    except (ValueError, TypeError):
        discard_entry(kind, key)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: pruned last
    return meta, payload


def discard_entry(kind: str, key: str) -> None:
    with contextlib.suppress(OSError):
        _path(kind, key).unlink()


def write_entry(kind: str, key: str, payload: bytes, **meta: Any) -> None:
    """Write an entry atomically (readers see the old entry, the new one, or none); failures are harmless."""
    directory = cache_dir()
    header = {**meta, "kind": kind, "key": key, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    tmp = directory / f".{kind}-{key}.{secrets.token_hex(4)}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload)
        os.replace(tmp, _path(kind, key))
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    _prune(kind)


def _prune(kind: str) -> None:
    try:
        entries = sorted(cache_dir().glob(f"{kind}-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for path in entries[_KEEP[kind]:]:
        with contextlib.suppress(OSError):
            path.unlink()


def _load_schema(kind: str, key: str) -> Any:
    from atlembic.schema.model import Schema

    found = read_entry(kind, key)
    if found is None:
        return None
    try:
        schema = pickle.loads(found[1])
    except Exception:  # a payload we cannot load is damaged, whatever the reason
        schema = None
    if not isinstance(schema, Schema):
        discard_entry(kind, key)
        return None
    return schema


# -- schemas: the replayed directory and the models -----------------------------------------------------


def load_schema(files: Sequence[Any], dialect: str, identity: str | None) -> Any:
    """The inspected schema after replaying `files`, when cached (None otherwise)."""
    if _disabled or identity is None or not files:
        return None
    return _load_schema("schema", prefix_keys(files, dialect, identity)[-1])


def save_schema(files: Sequence[Any], dialect: str, identity: str | None, schema: Any) -> None:
    if _disabled or identity is None or not files:
        return
    write_entry("schema", prefix_keys(files, dialect, identity)[-1], pickle.dumps(schema), files=len(files))


def load_desired(key: str | None) -> Any:
    """The models' inspected schema under `key` (`desired_key`), when cached."""
    if _disabled or key is None:
        return None
    return _load_schema("desired", key)


def save_desired(key: str | None, schema: Any, statements: int) -> None:
    if _disabled or key is None:
        return
    write_entry("desired", key, pickle.dumps(schema), statements=statements)


# -- states: the dev database after replaying a prefix of the directory --------------------------------


class StateIO:
    """How one engine's database contents are saved and restored."""

    def available(self, conn: Connection) -> bool:
        return True

    def dump(self, engine: Engine) -> bytes:
        raise NotImplementedError

    def restore(self, engine: Engine, payload: bytes) -> None:
        raise NotImplementedError

    def reset(self, engine: Engine) -> None:
        """Empty the database again after a failed restore."""
        raise NotImplementedError


class _SqliteState(StateIO):
    def available(self, conn: Connection) -> bool:
        # Only the in-memory dev database: deserialize() replaces one connection's view of a database
        # file with a private copy, which other connections to that file (a --dev-url) would not see.
        # serialize() and deserialize() are Python 3.11+: on 3.10 SQLite replays without states.
        return sys.version_info >= (3, 11) and conn.engine.url.database in (None, "", ":memory:")

    def dump(self, engine: Engine) -> bytes:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            return cast(sqlite3.Connection, conn.connection.driver_connection).serialize()

    def restore(self, engine: Engine, payload: bytes) -> None:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            raw.deserialize(payload)
            # deserialize() resets the connection's settings; a replay needs the foreign keys it had.
            raw.execute("PRAGMA foreign_keys=ON")
            if raw.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise AtlembicError("restored database fails quick_check")

    def reset(self, engine: Engine) -> None:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            empty = sqlite3.connect(":memory:")  # an empty database that has a page to serialize
            empty.executescript("CREATE TABLE t (x); DROP TABLE t; VACUUM;")
            raw.deserialize(empty.serialize())
            raw.execute("PRAGMA foreign_keys=ON")


def _client_run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise AtlembicError(f"{Path(cmd[0]).name} failed: {proc.stderr.decode(errors='replace').strip()[-500:]}")
    return proc.stdout


class _PostgresState(StateIO):
    """``pg_dump`` (plain SQL: schema and rows) and ``psql`` in one transaction, from the server binaries."""

    def _bindir(self) -> Path:
        from atlembic.devdb.postgresql import find_pg_bindir

        return find_pg_bindir()

    def available(self, conn: Connection) -> bool:
        from atlembic.devdb.postgresql import pg_version

        try:
            bindir = self._bindir()
            local = int(pg_version(bindir).split(".")[0])
        except (AtlembicError, ValueError):
            return False
        server = int((conn.dialect.server_version_info or (0,))[0])
        return local >= server and all(os.access(bindir / b, os.X_OK) for b in ("pg_dump", "psql"))

    def _args(self, engine: Engine) -> tuple[list[str], dict[str, str]]:
        url = engine.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        args = ["-d", url.database or "postgres"]
        host = url.query.get("host") or url.host
        if host:
            args += ["-h", str(host)]
        port = url.query.get("port") or url.port
        if port:
            args += ["-p", str(port)]
        if url.username:
            args += ["-U", url.username]
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        return args, env

    def dump(self, engine: Engine) -> bytes:
        args, env = self._args(engine)
        return _client_run([str(self._bindir() / "pg_dump"), "--no-owner", "--no-privileges", *args], env)

    def restore(self, engine: Engine, payload: bytes) -> None:
        args, env = self._args(engine)
        _client_run([str(self._bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                     *args, "-f", "-"], env, payload)

    def reset(self, engine: Engine) -> None:
        from atlembic.devdb.postgresql import drop_all_objects

        with engine.connect() as conn:
            drop_all_objects(conn.execution_options(isolation_level="AUTOCOMMIT"))


class _MySQLState(StateIO):
    """``mariadb-dump`` / ``mysqldump`` (schema, rows, routines, triggers, events) and the ``mariadb`` client."""

    def _tools(self) -> tuple[str, str] | None:
        dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
        client = shutil.which("mariadb") or shutil.which("mysql")
        return (dump, client) if dump and client else None

    def available(self, conn: Connection) -> bool:
        # The client tools must be of the server's family: mysqldump of MariaDB speaks to MariaDB.
        tools = self._tools()
        return tools is not None and bool(getattr(conn.dialect, "is_mariadb", False)) == ("mariadb" in tools[0])

    def _args(self, engine: Engine) -> tuple[list[str], dict[str, str]]:
        url = engine.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
        args = ["--no-defaults"]
        if url.query.get("unix_socket"):
            args.append(f"--socket={url.query['unix_socket']}")
        else:
            args += [f"--host={url.host or 'localhost'}", f"--port={url.port or 3306}", "--protocol=TCP"]
        if url.username:
            args.append(f"--user={url.username}")
        if url.password:
            env["MYSQL_PWD"] = str(url.password)
        return args, env

    def dump(self, engine: Engine) -> bytes:
        tools = self._tools()
        assert tools is not None
        args, env = self._args(engine)
        return _client_run([tools[0], *args, "--routines", "--triggers", "--events", "--skip-comments",
                            "--skip-dump-date", "--hex-blob", "--single-transaction", "--skip-add-locks",
                            str(engine.url.database)], env)

    def restore(self, engine: Engine, payload: bytes) -> None:
        tools = self._tools()
        assert tools is not None
        args, env = self._args(engine)
        _client_run([tools[1], *args, str(engine.url.database)], env, payload)

    def reset(self, engine: Engine) -> None:
        from atlembic.devdb.mysql import drop_all_objects

        with engine.connect() as conn:
            drop_all_objects(conn)


def state_io(dialect: str) -> StateIO | None:
    cls = {"sqlite": _SqliteState, "postgresql": _PostgresState, "mysql": _MySQLState,
           "mariadb": _MySQLState}.get(dialect)
    return cls() if cls is not None else None
