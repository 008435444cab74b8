"""What applying migration files asks of the engine it runs on (Atlas's ``migrate.Driver``): the executor and
the lock take it from their caller, which gets it from the engine registry (an `atlembic.engines.Engine` is
one). Each part is defined here in migrate/: a `Transactions` and a `Lock` subclass, `ScanOptions`, a
`RevisionsLayout`; nothing in this package looks an engine up by its name."""

from __future__ import annotations

from typing import Protocol

from atlembic.migrate.lexer import ScanOptions
from atlembic.migrate.lock import Lock
from atlembic.migrate.revisions import RevisionsLayout
from atlembic.migrate.transactions import Transactions

__all__ = ["Driver"]


class Driver(Protocol):
    @property
    def scan_options(self) -> ScanOptions:
        """How the engine's statements are split."""

    @property
    def transactions(self) -> type[Transactions]:
        """How one migration file runs inside a transaction."""

    @property
    def lock(self) -> type[Lock]:
        """The apply lock, compatible with Atlas's."""

    @property
    def revisions(self) -> RevisionsLayout:
        """The revisions table on this engine."""
