"""The target database (``sqlalchemy.url``): one way to open it, and one clear line when that fails; and a
fleet of targets (``--url`` repeated, ``--url-file``): one command run on each, each on its own.

A failed connection (server down, wrong password, bad host) is the most common error a migration tool
prints; it must fit on one line, say which database (password masked), and never contain the password,
even if a driver were to echo it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from atlembic.config import Settings
from atlembic.engines import find_engine
from atlembic.errors import AtlembicError, mask_secrets, mask_url, no_config_file, one_line
from atlembic.migrate.transactions import autocommit

__all__ = ["TargetRun", "connect_target", "connect_timeout", "run_fleet", "target_engine", "target_url", "target_urls"]

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
            parsed = found.connect_url(parsed)
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


# ----------------------------------------------------------------------------------------------------
# many targets (a fleet): the URLs, and one command run on each


def _checked_url(url: str, where: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:
        raise AtlembicError(f"{where}: not a database URL: {mask_secrets(url)}") from None
    if find_engine(parsed) is None:
        raise AtlembicError(f"{where}: no atlembic engine for {parsed.drivername!r} in {mask_url(url)}")
    return url


def _url_file_lines(path: str) -> list[tuple[str, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AtlembicError(f"--url-file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AtlembicError(f"--url-file {path}: not a UTF-8 text file") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            found.append((f"{path}:{number}", line))
    if not found:
        raise AtlembicError(f"--url-file {path}: no URLs (one a line; # starts a comment)")
    return found


def target_urls(urls: Sequence[str], url_file: str | None = None) -> list[str]:
    """The targets of ``--url`` (repeated) and ``--url-file FILE`` (one URL a line, ``#`` comments, blank
    lines), in that order; a line that is not a database URL, or names a target twice, is refused naming its
    file and line (or the ``--url`` option) with any password masked."""
    entries = [(f"--url #{i}", u) for i, u in enumerate(urls, 1)]
    if url_file is not None:
        entries += _url_file_lines(url_file)
    seen: dict[str, str] = {}
    out = []
    for where, url in entries:
        key = make_url(_checked_url(url, where)).render_as_string(hide_password=False)
        if key in seen:
            raise AtlembicError(f"{where}: the same target as {seen[key]} ({mask_url(url)})")
        seen[key] = where
        out.append(url)
    return out


T = TypeVar("T")


@dataclass
class TargetRun(Generic[T]):
    """One target of a fleet: its URL (password masked), what the command returned or the one line it failed
    with, how long it took; `skipped` when a failed canary stopped the fleet before it."""

    url: str
    value: T | None = None
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped


def run_fleet(
    settings: Settings, urls: Sequence[str], work: Callable[[Settings], T], *, parallel: int = 1, canary: int = 0,
) -> list[TargetRun[T]]:
    """`work` (one command on one target: it opens, locks and records that target alone) on each URL, at most
    `parallel` at once. The first `canary` targets go first; when one of them fails, the others are skipped.
    A target's failure never stops the others."""
    if parallel < 1:
        raise AtlembicError(f"--parallel: expected a number >= 1, got {parallel}")
    if canary < 0:
        raise AtlembicError(f"--canary: expected a number >= 0, got {canary}")
    runs: list[TargetRun[T]] = [TargetRun(mask_url(u)) for u in urls]

    def one(i: int) -> None:
        start = time.monotonic()
        try:
            runs[i].value = work(replace(settings, url=urls[i]))
        except AtlembicError as exc:
            runs[i].error = mask_secrets(one_line(exc, urls[i]))
        except Exception as exc:  # a driver's error nothing turned into one line: this target failed, not the run
            runs[i].error = mask_secrets(one_line(exc, urls[i], with_type=True))
        runs[i].seconds = time.monotonic() - start

    def batch(indices: Sequence[int]) -> None:
        if parallel == 1 or len(indices) < 2:
            for i in indices:
                one(i)
            return
        with ThreadPoolExecutor(min(parallel, len(indices)), thread_name_prefix="atlembic-target") as pool:
            list(pool.map(one, indices))

    first = range(min(canary, len(urls)))
    batch(first)
    rest = range(len(first), len(urls))
    if all(runs[i].ok for i in first):
        batch(rest)
    else:
        for i in rest:
            runs[i].skipped = True
    return runs
