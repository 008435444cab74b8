"""The target database (``sqlalchemy.url``): one way to open it, and one clear line when that fails.

A failed connection (server down, wrong password, bad host) is the most common error a migration tool
prints; it must fit on one line, say which database (password masked), and never contain the password,
even if a driver were to echo it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from atlembic.config import Settings
from atlembic.engines import find_engine
from atlembic.errors import AtlembicError, mask_url, no_config_file, one_line
from atlembic.migrate.transactions import autocommit

__all__ = ["connect_target", "connect_timeout", "target_engine", "target_url"]

_CONNECT_TIMEOUT = 10  # seconds to open a connection, when neither [atlembic] connect_timeout nor the URL sets it


def connect_timeout(settings: Settings) -> int:
    """``[atlembic] connect_timeout`` (seconds to open a connection to the target), default 10."""
    raw = settings.options.get("connect_timeout", "").strip()
    if not raw:
        return _CONNECT_TIMEOUT
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise AtlembicError(f"[atlembic] connect_timeout: expected a whole number of seconds >= 1, got {raw!r}")
    return seconds


def target_url(settings: Settings, url: str | None = None) -> str:
    """The target's URL (`url`, else sqlalchemy.url), refused in one line when there is none."""
    url = url or settings.url
    if not url:
        if settings.config_file is None:
            raise AtlembicError(f"{no_config_file(settings.here)} (or --url to name the target database)")
        raise AtlembicError(f"no target database: set sqlalchemy.url in {settings.config_file} or pass --url")
    return url


def target_engine(settings: Settings, url: str | None = None) -> Engine:
    url = target_url(settings, url)
    seconds = connect_timeout(settings)
    try:
        parsed = make_url(url)
        found = find_engine(parsed)
        if found is not None:
            found.require_driver(parsed)
        connect_args = found.connect_args(parsed, seconds) if found is not None else {}
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool, connect_args=connect_args)
        if found is not None and connect_args:
            sa.event.listen(engine, "connect", lambda dbapi_connection, _record: found.connected(dbapi_connection))
        return engine
    except AtlembicError:
        raise
    except Exception as exc:
        raise AtlembicError(f"cannot use database URL {mask_url(url)}: {one_line(exc, url)}") from exc


@contextmanager
def connect_target(settings: Settings, url: str | None = None) -> Iterator[Connection]:
    """An autocommit connection to the target (atlembic issues BEGIN/COMMIT itself)."""
    url = url or settings.url
    engine = target_engine(settings, url)
    try:
        try:
            raw = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise AtlembicError(f"cannot connect to {mask_url(url or '')}: {one_line(exc, url)}") from None
        with raw:
            yield autocommit(raw)
    finally:
        engine.dispose()
