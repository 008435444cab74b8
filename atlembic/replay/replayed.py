"""The one replay of a migration directory on a dev database: from the longest state the cache or the run
kept, then the files after it."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from atlembic.devdb import DevDatabase, StateIO
from atlembic.engines import engine_for, find_engine
from atlembic.errors import AtlembicError
from atlembic.migrate import executor
from atlembic.replay import cache
from atlembic.replay.cache import (
    cache_dir,
    discard_entry,
    prefix_keys,
    read_entry,
    write_entry,
)


def replay_directory(engine: Engine, files: Sequence[Any], dialect: str) -> None:
    """Replay `files` on the empty database behind `engine`: the one replay of a directory's files, through
    the cache unless it is off (``--no-cache``). It starts from the longest cached prefix, and the state
    after the last file is saved for the next run when it was not cached already.
    """
    driver = engine_for(dialect)
    if not cache.enabled() or not files:
        executor.run_replay(engine, files, driver)
        return
    with engine.connect() as conn:
        found = find_engine(conn)
        io = found.state_io() if found is not None else None
        usable = io is not None and io.available(conn)
        identity = found.connection_identity(conn) if found is not None else ""
    if not usable or not files:
        executor.run_replay(engine, files, driver)
        return
    assert io is not None
    keys = prefix_keys(files, dialect, identity)
    start, may_have_rows = _restore_longest(io, engine, keys)
    began = time.perf_counter()
    may_have_rows = executor.run_replay(engine, files[start:], driver, may_have_rows=may_have_rows)
    # A server's dump is restored by executing it: one CREATE per object, much like a replay that did
    # nothing but create tables and indexes (slower than replaying such a history). It pays off
    # for histories that alter, drop or move data, and when the replay takes a while.
    worth = io.cheap or (
        may_have_rows and time.perf_counter() - began >= cache.SERVER_STATE_MIN_SECONDS)
    if start < len(files) and worth:
        try:
            payload = io.dump(engine)
        except (AtlembicError, OSError, subprocess.SubprocessError, sqlite3.Error):
            return  # not saved; the replay itself is done
        write_entry("state", keys[-1], payload, files=len(files), may_have_rows=may_have_rows)


@contextmanager
def replayed_database(dev: DevDatabase, files: Sequence[Any], *, keep: bool = False) -> Iterator[Engine]:
    """A clean database of `dev` holding the state after `files`: a copy of a state this run kept (see
    `DevDatabase.keep_state`) or a replay (through the cache, `replay_directory`). With `keep`, the caller only
    reads the database, and it is kept as that state for the next replays of the same files in this run;
    without, where states can be kept, the replay goes into a kept database and the caller gets a copy."""
    keys = prefix_keys(files, dev.dialect_name, "in-run")
    # A state that is not copied (MariaDB) goes only to a caller that keeps what it makes of it.
    usable = keep or dev.copies_states
    start = next((n for n in range(len(files), 0, -1) if usable and dev.has_state(keys[n - 1])), 0)
    if not start and files and not keep and dev.copies_states:
        # Replay once into a database kept as the state, and work on a copy of it: the next replay of
        # these files in this run (lint after verification) is a copy too.
        with dev.clean_database() as engine:
            replay_directory(engine, files, dev.dialect_name)
            dev.keep_state(engine, keys[-1])
        start = len(files) if dev.has_state(keys[-1]) else 0
    with (dev.state_database(keys[start - 1]) if start else dev.clean_database()) as engine:
        if start:
            executor.run_replay(engine, files[start:], engine_for(dev.dialect_name), may_have_rows=True)
        else:
            replay_directory(engine, files, dev.dialect_name)  # the cache, unless --no-cache
        if keep and files:
            dev.keep_state(engine, keys[-1])
        yield engine


def _restore_longest(io: StateIO, engine: Engine, keys: list[str]) -> tuple[int, bool]:
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
