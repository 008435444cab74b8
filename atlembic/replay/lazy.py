"""A dev database started on first use, and the keys of the directory's states it may start from."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from atlembic.devdb import DevDatabase, DirectoryStates
from atlembic.devdb.process import pin_signal_handlers, unpin_signal_handlers
from atlembic.engines import embedded_identity, find_engine, normalize_dialect, open_dev_database
from atlembic.replay import cache
from atlembic.replay.cache import cache_dir, prefix_keys


def directory_states(files: Sequence[Any], dialect: str, identity: str | None) -> DirectoryStates | None:
    """The keys of the states of `files` for an embedded dev database that keeps them between runs (see
    atlembic.devdb.kept): between runs, the persistent prefix keys (code fingerprint, dialect, server
    version, files); within the run, those `replayed_database` asks `has_state` with."""
    if not cache.enabled() or identity is None or not files:
        return None
    return DirectoryStates(tuple(prefix_keys(files, dialect, identity)), tuple(prefix_keys(files, dialect, "in-run")),
                           cache_dir())


def embedded_states(files: Sequence[Any], dialect: str, dev_url: str | None) -> DirectoryStates | None:
    """`directory_states` for `open_dev_database(dialect, dev_url, states=...)`: None for a --dev-url server
    (not ours) and without the cache."""
    if dev_url is not None or not cache.enabled():
        return None
    return directory_states(files, dialect, embedded_identity(dialect))


class LazyDevDatabase(DevDatabase):
    """The dev database of `open_dev_database`, opened on first use: a run whose schemas all come from the
    cache starts no server. ``identity`` is what schema entries are keyed with (None: not cached).

    `files`: the migration directory the run plans on. Whichever thread starts the server first (the replay
    or the models' side, see `atlembic.commands.plan`), an embedded server then starts on the data dir an
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
        self.cache_identity = embedded_identity(dialect) if dev_url is None and cache.enabled() else None
        self.files = files or ()
        self._pinned = False
        self._early: threading.Thread | None = None
        if dev_url is None:  # whichever thread starts the embedded server, SIGTERM stops it (devdb.process)
            pin_signal_handlers()
            self._pinned = True

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

    def start_early(self) -> None:
        """Start an embedded server in a thread of its own (``atlembic-`` named: env.py's connect guard lets it
        through) while this one goes on: loading the models takes about as long as a server's start, which
        the first use then finds done or waits for. A start that fails there is tried again, and fails with
        its error, on first use; a run that never uses the server (the models' schema came from the cache)
        stops it at close."""
        if self.concurrent and self._dev is None and self._early is None:
            self._early = threading.Thread(target=self._start_quietly, name="atlembic-dev-start", daemon=True)
            self._early.start()

    def _start_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.dev  # noqa: B018  (the property starts it)

    @property
    def concurrent(self) -> bool:
        """Two clean databases may be in use at once, from two threads: an embedded server's scratch
        databases (not SQLite, whose work is all Python, nor a --dev-url server that may be used in place)."""
        engine = find_engine(self.dialect_name)
        return self.dev_url is None and not (engine is not None and engine.in_process)

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
        if self._early is not None:
            self._early.join()
        if self._dev is not None:
            # An embedded server keeps its data dir for the next run here (atlembic.devdb.kept).
            stage = self.timings.stage("dev database stop") if self.timings else contextlib.nullcontext()
            with stage:
                self._dev.close()
        if self._pinned:
            self._pinned = False
            unpin_signal_handlers()
