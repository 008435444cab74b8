"""The one exception type users see, the two helpers every message about a database goes through (a
driver's error on one line, a URL with its passwords masked), the wording messages share (counts, a
missing alembic.ini), and the one line for an env.py that needs SQLAlchemy's asyncio support where
greenlet is not installed."""

from __future__ import annotations

import importlib.util
import os
import re
import traceback

from sqlalchemy.engine import URL, make_url


class AtlembicError(Exception):
    """A user-facing failure. ``str(exc)`` is printed as ``FAILED: <message>``."""


# Query parameters that carry secrets in some drivers' URLs (e.g. ``?password=`` for psycopg).
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pwd", "pass", "secret", "token", "sslpassword"})


def mask_url(url: str | URL) -> str:
    """A database URL as shown to users: the password, and password-like query values, masked."""
    try:
        parsed = make_url(url)
    except Exception:
        return mask_secrets(str(url))  # not parseable by SQLAlchemy
    if parsed.query:
        masked_query = {
            key: ("***" if key.lower() in _SECRET_QUERY_KEYS else value) for key, value in parsed.query.items()
        }
        parsed = parsed.set(query=masked_query)
    return parsed.render_as_string(hide_password=True)


def mask_secrets(text: str) -> str:
    """Any text (an unexpected error's message) with everything shaped like a URL's "user:secret@" or a
    "password=secret" query value masked."""
    masked = re.sub(r":[^:/@\s]+@", ":***@", text)
    keys = "|".join(sorted(_SECRET_QUERY_KEYS))
    return re.sub(rf"(?i)\b({keys})=[^&\s]*", r"\1=***", masked)


def _secrets_of(url: str | URL) -> list[str]:
    try:
        parsed = make_url(url)
    except Exception:
        return []
    found = [str(parsed.password)] if parsed.password else []
    for key, value in parsed.query.items():
        if key.lower() in _SECRET_QUERY_KEYS:
            found += [value] if isinstance(value, str) else list(value)
    return [s for s in found if s]


def one_line(exc: BaseException, url: str | URL | None = None, *, with_type: bool = False,
             first_line: bool = False) -> str:
    """A driver's (or any) error as one line: the DBAPI error behind SQLAlchemy's wrapper, white space
    folded, the secrets of `url` (password, password-like query values) masked whatever the driver put in
    the text. `with_type`: prefixed with the exception's class name (for errors of a project's code).
    `first_line`: only the message's first line (a server's error without the statement context it
    appends, such as PostgreSQL's ``LINE 1: ... ^``)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    if first_line:
        text = text.splitlines()[0] if text else ""
    text = " ".join(text.split()).removeprefix("connection failed: ")
    for secret in _secrets_of(url) if url is not None else []:
        text = text.replace(secret, "***")
    name = type(cause).__name__
    if not text:
        return name
    return f"{name}: {text}" if with_type else text


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun in the number it takes: ``1 statement``, ``2 statements``, ``0 files``;
    `nouns` for a plural that is not the noun plus ``s``. Every count a message shows goes through it."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def no_config_file(directory: object) -> str:
    """What to do when no alembic.ini was found in `directory` (and none named): the start of a message."""
    return (f"no alembic.ini in {directory}: run `atlembic init DIR` to create a project there, or pass "
            "-c path/to/alembic.ini")


_ASYNCIO_SOURCE = os.path.join("sqlalchemy", "ext", "asyncio", "")  # in a traceback frame's file name


def missing_async_support(env_py: object, exc: BaseException) -> AtlembicError | None:
    """The error for an env.py that failed because SQLAlchemy's asyncio support has no greenlet, which
    SQLAlchemy 2.1 no longer installs; None for any other failure (or when greenlet is there)."""
    if importlib.util.find_spec("greenlet") is not None:
        return None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        # 2.1 refuses to import sqlalchemy.ext.asyncio and names greenlet; 2.0 fails inside it.
        if "greenlet" in str(cause) or any(_ASYNCIO_SOURCE in frame.filename
                                           for frame in traceback.extract_tb(cause.__traceback__)):
            return AtlembicError(f'{env_py} builds an async engine, which needs greenlet (not installed here): '
                                 'pip install "atlembic[async]"')
        cause = cause.__cause__ or cause.__context__
    return None
