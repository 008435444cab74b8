"""Inspection: a live connection -> `Schema`, through the `Reflector` of its engine (the engine registry,
atlembic.engines, picks it: `atlembic.engines.inspect_schema`).

What every engine shares is in reflector.py; what one engine reports differently (index expressions on
SQLite, enums and index options on PostgreSQL) lives in that dialect's `Reflector` subclass.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

__all__ = ["quiet"]


@contextmanager
def quiet() -> Iterator[None]:
    """Around a reflection: SQLAlchemy's warnings about what the dialect's `Reflector` reflects itself."""
    with warnings.catch_warnings():
        # SQLite expression indexes are reflected from the catalog by SqliteReflector instead.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        yield
