"""The replay cache: what replaying a migration directory on a dev database produced, kept between runs.

Planning replays the whole directory on a clean dev database every time, so its cost grows with the
history. This cache keeps, for the files replayed so far:

* ``state``: the dev database's contents after them (SQLite: the serialized database; PostgreSQL: a
  ``pg_dump``; MariaDB/MySQL: a ``mariadb-dump``), so that a replay restores the longest cached prefix of
  the file list and runs only the files after it (one new file: one file replayed);
* ``schema``: the inspected schema of that state, so an unchanged history needs no dev database at all;
* ``desired``: the inspected schema the models' DDL produced (keyed by the DDL text itself);
* ``models``: what loading the models produced and every input the load read (atlembic.models_cache), so
  that unchanged models are not even imported.

Keys: a running SHA-256 over every replayed file's name and bytes, in order (the same construction as
the ``atlas.sum`` rows, so the key of "the state after file i" changes whenever file i or anything before
it is edited, added, removed or reordered), combined with the dialect, the dev server's version and a
fingerprint of atlembic's code that produces the results (splitting, executing, inspecting). A
``--dev-url`` database gets state entries (keyed by the version the server reports) but no schema
entries, since its server is not ours.

PostgreSQL and MariaDB also keep, between runs, the dev server's data dir with the directory's replayed
states in it (:mod:`atlembic.devdb.kept`: its metadata is a ``pg-cluster-*.json`` / ``mysql-cluster-*.json``
here, the data dir stays on the temp base): `LazyDevDatabase` hands the directory's keys
(`directory_states`) to the embedded server, which starts on the kept data dir holding the longest prefix,
and `replayed_database` then starts from that state (a copy on PostgreSQL; on MariaDB the state itself,
for the replay that keeps its result) and replays only the files after it. That is what makes one added
file one replayed file on the servers, where a dump (restored by executing it) of a history that only
creates tables saves nothing.

Entries live under ``$XDG_CACHE_HOME/atlembic/replay`` (``~/.cache/atlembic/replay``), one file each,
written atomically: a header with a SHA-256 of the payload, then the payload. An entry that does not
verify, does not load or does not restore is deleted and the work is done afresh: an entry is never
trusted over a replay. ``--no-cache`` (or ``ATLEMBIC_NO_CACHE=1``) skips the cache entirely.
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
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from atlembic.devdb import DevDatabase, DirectoryStates, embedded_identity, normalize_dialect, open_dev_database
from atlembic.errors import AtlembicError

__all__ = [
    "LazyDevDatabase", "cache_dir", "directory_states", "disable", "embedded_states", "enable", "enabled",
    "load_desired", "load_schema", "replay_files",
    "replayed_database", "save_desired", "save_schema",
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
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "atlembic" / "replay"


# -- keys ------------------------------------------------------------------------------------------------

# The modules whose behaviour decides what a replay or an inspection produces.
# provider.py: the models' schema is saved with the flags `mark_engine_named` sets on it; config.py and
# models_cache.py: how the models are loaded and what a models snapshot records.
_CODE = ("migrate/lexer.py", "migrate/executor.py", "migrate/transactions.py", "schema/inspect.py",
         "schema/model.py", "schema/sqlite.py", "schema/postgresql.py", "schema/mysql.py", "replay_cache.py",
         "provider.py", "config.py", "models_cache.py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    from atlembic import __version__

    sha = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version_info[:2]}".encode())
    root = Path(__file__).resolve().parent
    for name in _CODE:
        try:
            sha.update((root / name).read_bytes())
        except OSError:
            sha.update(b"missing " + name.encode())
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


class _StateIO:
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


class _SqliteState(_StateIO):
    def available(self, conn: Connection) -> bool:
        # Only the in-memory dev database: deserialize() replaces one connection's view of a database
        # file with a private copy, which other connections to that file (a --dev-url) would not see.
        return conn.engine.url.database in (None, "", ":memory:")

    def dump(self, engine: Engine) -> bytes:
        with engine.connect() as conn:
            return conn.connection.driver_connection.serialize()

    def restore(self, engine: Engine, payload: bytes) -> None:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.deserialize(payload)
            # deserialize() resets the connection's settings; a replay needs the foreign keys it had.
            raw.execute("PRAGMA foreign_keys=ON")
            if raw.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise AtlembicError("restored database fails quick_check")

    def reset(self, engine: Engine) -> None:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            empty = sqlite3.connect(":memory:")  # an empty database that has a page to serialize
            empty.executescript("CREATE TABLE t (x); DROP TABLE t; VACUUM;")
            raw.deserialize(empty.serialize())
            raw.execute("PRAGMA foreign_keys=ON")


def _client_run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise AtlembicError(f"{Path(cmd[0]).name} failed: {proc.stderr.decode(errors='replace').strip()[-500:]}")
    return proc.stdout


class _PostgresState(_StateIO):
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
        server = (conn.dialect.server_version_info or (0,))[0]
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


class _MySQLState(_StateIO):
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


def _state_io(dialect: str) -> _StateIO | None:
    cls = {"sqlite": _SqliteState, "postgresql": _PostgresState, "mysql": _MySQLState,
           "mariadb": _MySQLState}.get(dialect)
    return cls() if cls is not None else None


def replay_files(engine: Engine, files: Sequence[Any], dialect: str) -> None:
    """Replay `files` on the empty database behind `engine`, starting from the longest cached prefix.

    The state after the last file is saved for the next run when it was not cached already.
    """
    from atlembic.migrate.executor import run_replay

    with engine.connect() as conn:
        conn_dialect = conn.dialect.name
        io = _state_io(conn_dialect)
        usable = io is not None and io.available(conn)
        identity = connection_identity(conn)
    if not usable or not files:
        run_replay(engine, files, dialect)
        return
    assert io is not None
    keys = prefix_keys(files, dialect, identity)
    start, may_have_rows = _restore_longest(io, engine, keys)
    began = time.perf_counter()
    may_have_rows = run_replay(engine, files[start:], dialect, may_have_rows=may_have_rows)
    # A server's dump is restored by executing it: one CREATE per object, much like a replay that did
    # nothing but create tables and indexes (measured: slower than replaying such a history). It pays off
    # for histories that alter, drop or move data, and when the replay takes a while.
    worth = conn_dialect == "sqlite" or (
        may_have_rows and time.perf_counter() - began >= SERVER_STATE_MIN_SECONDS)
    if start < len(files) and worth:
        try:
            payload = io.dump(engine)
        except (AtlembicError, OSError, subprocess.SubprocessError, sqlite3.Error):
            return  # not saved; the replay itself is done
        write_entry("state", keys[-1], payload, files=len(files), may_have_rows=may_have_rows)


@contextmanager
def replayed_database(dev: DevDatabase, files: Sequence[Any], *, keep: bool = False) -> Iterator[Engine]:
    """A clean database of `dev` holding the state after `files`: a copy of a state this run kept (see
    `DevDatabase.keep_state`) or a replay (through the cache, `replay_files`). With `keep`, the caller only
    reads the database, and it is kept as that state for the next replays of the same files in this run;
    without, where states can be kept, the replay goes into a kept database and the caller gets a copy."""
    from atlembic.migrate import executor

    keys = prefix_keys(files, dev.dialect_name, "in-run")
    # A state that is not copied (MariaDB) goes only to a caller that keeps what it makes of it.
    usable = keep or dev.copies_states
    start = next((n for n in range(len(files), 0, -1) if usable and dev.has_state(keys[n - 1])), 0)
    if not start and files and not keep and dev.copies_states:
        # Replay once into a database kept as the state, and work on a copy of it: the next replay of
        # these files in this run (lint after verification) is a copy too.
        with dev.clean_database() as engine:
            executor.replay_files(engine, files, dev.dialect_name)
            dev.keep_state(engine, keys[-1])
        start = len(files) if dev.has_state(keys[-1]) else 0
    with (dev.state_database(keys[start - 1]) if start else dev.clean_database()) as engine:
        if start:
            executor.run_replay(engine, files[start:], dev.dialect_name, may_have_rows=True)
        else:
            executor.replay_files(engine, files, dev.dialect_name)  # the cache, unless --no-cache
        if keep and files:
            dev.keep_state(engine, keys[-1])
        yield engine


def _restore_longest(io: _StateIO, engine: Engine, keys: list[str]) -> tuple[int, bool]:
    """Restore the longest cached prefix: (how many files it covers, whether rows may exist)."""
    try:
        names = {p.name for p in cache_dir().glob("state-*.bin")}
    except OSError:
        return 0, False
    for count in range(len(keys), 0, -1):
        key = keys[count - 1]
        if f"state-{key}.bin" not in names:
            continue
        found = read_entry("state", key)
        if found is None:
            continue
        meta, payload = found
        try:
            io.restore(engine, payload)
        except Exception:  # a restore that fails is a damaged entry: empty the database, replay
            discard_entry("state", key)
            io.reset(engine)
            return 0, False
        return count, bool(meta.get("may_have_rows", True))
    return 0, False


# -- a dev database started only when needed -----------------------------------------------------------


def directory_states(files: Sequence[Any], dialect: str, identity: str | None) -> DirectoryStates | None:
    """The keys of the states of `files` for an embedded dev database that keeps them between runs (see
    atlembic.devdb.kept): between runs, the persistent prefix keys (code fingerprint, dialect, server
    version, files); within the run, those `replayed_database` asks `has_state` with."""
    if _disabled or identity is None or not files:
        return None
    return DirectoryStates(tuple(prefix_keys(files, dialect, identity)), tuple(prefix_keys(files, dialect, "in-run")),
                           cache_dir())


def embedded_states(files: Sequence[Any], dialect: str, dev_url: str | None) -> DirectoryStates | None:
    """`directory_states` for `open_dev_database(dialect, dev_url, states=...)`: None for a --dev-url server
    (not ours) and without the cache."""
    if dev_url is not None or _disabled:
        return None
    return directory_states(files, dialect, embedded_identity(dialect))


class LazyDevDatabase(DevDatabase):
    """The dev database of `open_dev_database`, opened on first use: a run whose schemas all come from the
    cache starts no server. ``identity`` is what schema entries are keyed with (None: not cached).

    `files`: the migration directory the run plans on. Whichever thread starts the server first (the replay
    or the models' side, see commands._replaying), an embedded server then starts on the data dir an
    earlier run kept with the longest prefix of them replayed, if any, and keeps its own at close
    (atlembic.devdb.kept): that state is a kept state of the run (`has_state`) and `replayed_database`
    replays only the files after it."""

    def __init__(self, dialect: str, dev_url: str | None, timings: Any = None,
                 files: Sequence[Any] | None = None) -> None:
        self.target_dialect = dialect
        self.dialect_name = normalize_dialect(dialect)
        self.dev_url = dev_url
        self.timings = timings
        self._dev: DevDatabase | None = None
        self._lock = threading.Lock()
        self.cache_identity = embedded_identity(dialect) if dev_url is None and enabled() else None
        self.files = files or ()

    @functools.cached_property
    def states(self) -> DirectoryStates | None:
        """The directory's keys for the embedded server, worked out when it starts: a run whose schemas all
        come from the cache never needs them (hashing the files again)."""
        return directory_states(self.files, self.dialect_name, self.cache_identity)

    @property
    def dev(self) -> DevDatabase:
        with self._lock:
            if self._dev is None:
                stage = self.timings.stage("dev database start") if self.timings else contextlib.nullcontext()
                with stage:
                    self._dev = open_dev_database(self.target_dialect, self.dev_url, states=self.states)
        return self._dev

    @property
    def concurrent(self) -> bool:
        """Two clean databases may be in use at once, from two threads: an embedded server's scratch
        databases (not SQLite, whose work is all Python, nor a --dev-url server that may be used in place)."""
        return self.dev_url is None and self.dialect_name != "sqlite"

    @property
    def started(self) -> bool:
        return self._dev is not None

    @property
    def kept_files(self) -> int:
        """How many files the state its server started with covers (a data dir kept by an earlier run)."""
        return int(getattr(self._dev, "kept_files", 0))

    @property
    def description(self) -> str:  # type: ignore[override]
        if self._dev is None:
            return f"{self.cache_identity or self.dialect_name} (not started: every schema came from the replay cache)"
        return self._dev.description

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        with self.dev.clean_database() as engine:
            yield engine

    @property
    def keeps_states(self) -> bool:  # type: ignore[override]
        return self.dev.keeps_states

    def keep_state(self, engine: Engine, key: str) -> None:
        self.dev.keep_state(engine, key)

    def has_state(self, key: str) -> bool:
        # Asked right before a replay (which needs the server anyway): starting it here lets a state of an
        # earlier run's kept data dir answer.
        return self.dev.has_state(key)

    @property
    def copies_states(self) -> bool:  # type: ignore[override]
        return self.dev.copies_states

    def state_database(self, key: str) -> contextlib.AbstractContextManager[Engine]:
        return self.dev.state_database(key)

    def close(self) -> None:
        if self._dev is not None:
            # An embedded server keeps its data dir for the next run here (atlembic.devdb.kept).
            stage = self.timings.stage("dev database stop") if self.timings else contextlib.nullcontext()
            with stage:
                self._dev.close()
