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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atlembic import __version__
from atlembic.devdb import DevDatabase
from atlembic.devdb.process import cache_root
from atlembic.engines import normalize_dialect

__all__ = [
    "cache_dir", "disable", "enable", "enabled", "load_desired", "load_schema", "save_desired", "save_schema",
]

FORMAT = 1
_MAGIC = b"atlembic-replay-cache\n"
_KEEP = {"state": 12, "schema": 48, "desired": 48, "models": 16}  # entries kept per kind, most recently used first
# PostgreSQL/MariaDB states are saved only after replays at least this long (a dump and its restore have a
# cost of their own) that did more than create tables and indexes (see replayed.replay_directory).
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

