"""Hand-over of a live database that Alembic migrated to a converted baseline (``upgrade --baseline V``,
``stamp V``).

A file written by ``atlembic convert`` records the Alembic revision(s) its schema corresponds to
(``-- alembic:head <rev>``) and the version table (``-- alembic:version_table <name>``). Before the
revisions row is written, the target is checked read-only:

* its Alembic version table holds exactly those revision(s);
* its schema equals the directory's state at V (both sent through the dev database's engine, so that
  they compare spelling for spelling): drift is reported and refused unless ``--allow-drift``.

``alembic_version`` stays unless ``--drop-alembic-version``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.autogenerate.current import replay_schema
from atlembic.config import Settings
from atlembic.convert.compare import canonical
from atlembic.diff import diff_schemas
from atlembic.engines import inspect_schema, open_dev_database
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile, files_to_reach
from atlembic.schema.model import Schema, quote_name
from atlembic.schema.reflector import REVISIONS_TABLE

__all__ = ["Handover", "baseline_marker", "check_handover", "drop_version_table", "version_tables", "without_tables"]

_MARKER = re.compile(r"^--\s*alembic:(head|version_table)\s+(.*?)\s*$")


@dataclass
class Handover:
    file: str
    heads: tuple[str, ...]
    version_table: str
    drift: list[str] = field(default_factory=list)  # accepted with --allow-drift
    dropped_version_table: bool = False

    def report(self) -> list[str]:
        lines = [f"Alembic version table {self.version_table} is at {' '.join(self.heads)}, as {self.file} expects"]
        if self.drift:
            lines.append("Schema drift accepted (--allow-drift): " + "; ".join(self.drift))
        else:
            lines.append(f"Schema equals {self.file}")
        if self.dropped_version_table:
            lines.append(f"Dropped {self.version_table}")
        return lines


def baseline_marker(file: MigrationFile) -> tuple[tuple[str, ...], str] | None:
    """(heads, version table) recorded by ``atlembic convert`` in the file's header; None otherwise."""
    heads: tuple[str, ...] | None = None
    table = "alembic_version"
    for line in file.text.splitlines():
        if not line.startswith("--"):
            break
        m = _MARKER.match(line)
        if m and m[1] == "head":
            heads = tuple(m[2].split())
        elif m:
            table = m[2]
    return (heads, table) if heads else None


def version_tables(files: Sequence[MigrationFile]) -> list[str]:
    """The Alembic version tables the converted files among `files` name (``schema.table`` when the history's
    env.py set ``version_table_schema``): left out of drift and downgrade plans, as atlas_schema_revisions is."""
    found: list[str] = []
    for file in files:
        marker = baseline_marker(file)
        if marker is not None and marker[1] not in found:
            found.append(marker[1])
    return found


def _quoted(conn: Connection, table: str) -> str:
    return quote_name(table, conn.dialect.identifier_preparer.quote)


def _alembic_heads(conn: Connection, table: str) -> tuple[str, ...] | None:
    schema, _, name = table.rpartition(".")
    if not sa.inspect(conn).has_table(name, schema=schema or None):
        return None
    return tuple(sorted(r[0] for r in conn.exec_driver_sql(f"SELECT version_num FROM {_quoted(conn, table)}")))


def check_handover(
    conn: Connection,
    settings: Settings,
    files: Sequence[MigrationFile],
    version: str,
    *,
    allow_drift: bool = False,
    drop_version_table: bool = False,
) -> Handover | None:
    """Check (read-only) that the target may be recorded at `version`; None when that file is not a
    converted one (nothing to check: plain Atlas ``--baseline`` semantics)."""
    positions = [i for i, f in enumerate(files) if f.version == version]
    if not positions:
        return None  # pending_files reports the unknown version
    position = positions[-1]
    marker = baseline_marker(files[position])
    if marker is None:
        if drop_version_table:
            raise AtlembicError(f"--drop-alembic-version: {files[position].name} is not a file written by "
                                "atlembic convert (no '-- alembic:head' line)")
        return None
    heads, table = marker
    name = files[position].name
    found = _alembic_heads(conn, table)
    if found is None:
        raise AtlembicError(
            f"the target has no {table} table, so nothing shows it is at Alembic head {' '.join(heads)} as "
            f"{name} requires; refusing the hand-over (a database never migrated by Alembic needs "
            "'atlembic upgrade', not --baseline)"
        )
    if set(found) != set(heads):
        at = " ".join(found) or "no revision"
        raise AtlembicError(
            f"the target's {table} is at {at}, but {name} was converted at Alembic head {' '.join(heads)}; "
            f"bring it there with Alembic first (alembic upgrade {' '.join(heads)}), then hand it over"
        )
    drift = _drift(conn, settings, files, position, table)
    if drift and not allow_drift:
        raise AtlembicError(
            f"the target's schema differs from {name} (changes from the baseline to the target): "
            + "; ".join(drift)
            + ". Nothing was recorded; fix the drift (or plan it as a migration), or pass --allow-drift"
        )
    return Handover(name, heads, table, drift)


def _drift(conn: Connection, settings: Settings, files: Sequence[MigrationFile], position: int,
           version_table: str) -> list[str]:
    live = without_tables(inspect_schema(conn, exclude=(REVISIONS_TABLE, version_table)), [version_table])
    with open_dev_database(conn, settings.dev_url) as dev:
        expected = replay_schema(dev, files_to_reach(files, position))
        if not diff_schemas(expected, live):
            return []
        with contextlib.suppress(AtlembicError):
            # The same spelling as the replayed files: expressions re-parsed once by the engine.
            live = canonical(dev, live)
    return diff_schemas(expected, live).describe()


def without_tables(schema: Schema, names: Sequence[str]) -> Schema:
    """`schema` without the tables called `names` (``schema.table`` for a named schema)."""
    gone = set(names)
    return replace(schema, tables=tuple(t for t in schema.tables if t.name not in gone))


def drop_version_table(conn: Connection, handover: Handover) -> None:
    """Drop the Alembic version table after the hand-over was recorded."""
    conn.exec_driver_sql(f"DROP TABLE {_quoted(conn, handover.version_table)}")
    if conn.in_transaction():
        conn.commit()
    handover.dropped_version_table = True
