"""What one pytest run of the plugin shares: the project's settings and the dev database the test databases
are made on, opened on first use and closed at the end of the run.

Each test gets a clean database of its own: a scratch database on the embedded dev server of the project's
dialect (or on the ``--atlembic-url`` server, or the ``[atlembic] dev_url`` one), or a SQLite file when the
dev database is in memory (the commands open their target by URL, and an in-memory database cannot be
opened twice). The commands then run with that database as their target, and plan on the same server, so a
run starts one server at most and ``sqlalchemy.url`` is never opened.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from atlembic.config import Settings, load_settings
from atlembic.devdb import DevDatabase
from atlembic.devdb.server import EphemeralServerDevDatabase
from atlembic.devdb.url import UrlDevDatabase
from atlembic.engines import engine_for, open_dev_database
from atlembic.errors import AtlembicError, mask_url

__all__ = ["PluginSession"]


class PluginSession:
    """The project (``--atlembic-config``, else alembic.ini in `rootdir`, else atlembic's own discovery) and
    the test databases of one pytest run (``--atlembic-url``, else the embedded dev database)."""

    def __init__(self, config: str | None, url: str | None, rootdir: Path) -> None:
        in_rootdir = rootdir / "alembic.ini"
        self._config = config if config is not None else (str(in_rootdir) if in_rootdir.is_file() else None)
        self._url = url
        self._rootdir = rootdir
        self._dev: DevDatabase | None = None
        self._files: Path | None = None  # where SQLite test databases go
        self._count = itertools.count(1)

    @cached_property
    def settings(self) -> Settings:
        """The project's settings as alembic.ini gives them (their ``url`` is never used)."""
        return load_settings(self._config)

    @property
    def config_file(self) -> Path:
        found = self.settings.config_file
        if found is None:
            raise AtlembicError(f"--atlembic: no alembic.ini in {self._rootdir} (the rootdir): "
                                "pass --atlembic-config PATH")
        return found

    @cached_property
    def dialect(self) -> str:
        """The engine tested on: ``--atlembic-url``'s, else the project's (from sqlalchemy.url, not opened)."""
        if self._url is None:
            return self.settings.dialect
        try:
            parsed = make_url(self._url)
        except ArgumentError as exc:
            raise AtlembicError(f"--atlembic-url {mask_url(self._url)!r}: {exc}") from None
        engine_for(parsed)  # an engine atlembic knows, or one line saying which it knows
        return parsed.get_backend_name()

    def check_options(self) -> None:
        """Refuse a missing config file or a bad ``--atlembic-url`` up front, in one line."""
        _ = self.config_file, self.dialect

    def _dev_database(self) -> DevDatabase:
        if self._dev is None:
            self._dev = open_dev_database(self.dialect, self._url or self.settings.dev_url)
        return self._dev

    @cached_property
    def _planning_url(self) -> str | None:
        """The server the commands plan on: the one test databases are made on, when they are made there."""
        dev = self._dev_database()
        if isinstance(dev, EphemeralServerDevDatabase):
            return dev.server.url().render_as_string(hide_password=False)
        if isinstance(dev, UrlDevDatabase) and dev.mode == "scratch":
            return dev.url.render_as_string(hide_password=False)
        return None  # SQLite (in memory for planning) or a database used in place: the commands open their own

    @contextmanager
    def test_database(self) -> Iterator[Settings]:
        """The project's settings aimed at a new, empty database (the target of every command), which is
        dropped (or emptied) afterwards."""
        with self._dev_database().clean_database() as engine:
            url = engine.url
            if url.database in (None, "", ":memory:"):
                yield from self._sqlite_file(url)
                return
            yield replace(self.settings, url=url.render_as_string(hide_password=False), dev_url=self._planning_url)

    def _sqlite_file(self, memory: URL) -> Iterator[Settings]:
        if self._files is None:
            self._files = Path(tempfile.mkdtemp(prefix="atlembic-pytest-"))
        path = self._files / f"test_{next(self._count)}.db"
        try:
            yield replace(self.settings, url=memory.set(database=str(path)).render_as_string(hide_password=False),
                          dev_url=self._planning_url)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            dev.close()
        if self._files is not None:
            shutil.rmtree(self._files, ignore_errors=True)
