"""Throwaway "dev databases" that migrations are replayed on (docs/architecture.md).

Every planner run needs an empty database of the target dialect: the migration directory is replayed on
it and the result compared with the models. ``atlembic.engines.open_dev_database`` picks
one, asking the target's engine:

* no ``--dev-url``: an embedded one (in-memory SQLite, or an ephemeral PostgreSQL cluster or MariaDB/MySQL
  server started from the locally installed server binaries);
* ``--dev-url``: scratch databases on that server (or the given database itself, when we may not create
  databases and it is empty).

What every dev database shares is in base.py; each engine's dev databases, and the `DevDialect` that the
shared code asks, are in its dialect module (sqlite.py, postgresql.py, mysql.py; server.py and url.py hold
what the servers share). The drivers are imported only when a server is used.
"""

from __future__ import annotations

from atlembic.devdb.base import CloseOnExit, DevDatabase, DevDialect, DirectoryStates, StateIO

__all__ = ["CloseOnExit", "DevDatabase", "DevDialect", "DirectoryStates", "StateIO"]
