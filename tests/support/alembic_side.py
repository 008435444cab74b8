"""Both sides of the Alembic comparison (docs/coverage.md, tests/test_alembic_comparison.py).

Alembic side: what `alembic revision --autogenerate` + `alembic upgrade` would do to a database holding model A
and some rows, with the generic template's env.py (``context.configure(connection=..., target_metadata=B)`` and
nothing else: compare_type=True, compare_server_default=False, no render_as_batch, default plugins). The
upgrade ops are applied for real and the outcome is classified:

* ``missed``: autogenerate produced no operation at all;
* ``error``: applying the operations raised (e.g. an ALTER that SQLite cannot run);
* ``data loss``: it applied, but rows inserted before are gone (e.g. a rename planned as drop + add);
* ``partial``: it applied and the rows survived, but the schema differs from a fresh ``create_all(B)``;
* ``correct``: the reflected schema equals a fresh ``create_all(B)`` and the rows survived.

atlembic side: :func:`tests.support.roundtrip.run_round_trip` plus the row check of test_roundtrip.py: ``correct`` or
``failed`` with the failure message.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext

from atlembic.devdb import DevDatabase
from atlembic.diff import diff_schemas
from atlembic.engines import inspect_schema
from atlembic.provider import rename_hints
from atlembic.schema.model import Schema
from tests.support.cases import Case, build_cases, mysql_only_cases
from tests.support.roundtrip import Model, fresh_schema, metadata_of, reflect, run_round_trip

__all__ = ["ALEMBIC_OUTCOMES", "Outcome", "case_for", "cases_for", "run_alembic", "run_atlembic"]

ALEMBIC_OUTCOMES = ("correct", "partial", "data loss", "error", "missed")


def cases_for(dialect: str) -> list[Case]:
    """The round-trip cases of ``dialect``, built afresh (a Column belongs to one Table only, so each
    use of a model needs its own build): the shared ones of tests/support/cases.py, plus its MySQL-only ones."""
    cases = build_cases()
    if dialect == "mysql":
        cases += mysql_only_cases()
    return [c for c in cases if dialect in c.dialects]


def case_for(dialect: str, case_id: str) -> Case:
    return next(c for c in cases_for(dialect) if c.id == case_id)


@dataclass(frozen=True)
class Outcome:
    kind: str  # one of ALEMBIC_OUTCOMES, or "correct" / "failed" for atlembic
    note: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.note}" if self.note else self.kind


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_note(exc: BaseException) -> str:
    """`OperationalError: message (on `statement`)`, short, with balanced backticks (it ends up in Markdown)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        message = _short(f"{type(exc.orig).__name__}: {lines[0] if lines else ''}".replace("`", "'"), 90)
        statement = _short((exc.statement or "").replace("`", ""), 60)
        return f"{message} (on `{statement}`)" if statement else message
    lines = str(exc).strip().splitlines()
    return _short(f"{type(exc).__name__}: {lines[0] if lines else ''}".replace("`", "'"), 90)


def _flatten(items: Iterable[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """UpgradeOps/ModifyTableOps are containers, not invokable: flatten them in order."""
    flat: list[ops.MigrateOperation] = []
    for item in items:
        if isinstance(item, ops.OpContainer):
            flat.extend(_flatten(item.ops))
        else:
            flat.append(item)
    return flat


def _op_names(diffs: list[Any]) -> str:
    """`add_column, remove_column` from Alembic's diff tuples (nested lists for column changes)."""
    names: list[str] = []
    for diff in diffs:
        for entry in diff if isinstance(diff, list) else [diff]:
            if entry[0] not in names:
                names.append(entry[0])
    return ", ".join(names)


def _create_models(engine: sa.Engine, metadata: sa.MetaData) -> None:
    with engine.begin() as conn:
        for schema in sorted({t.schema for t in metadata.tables.values() if t.schema}):
            conn.execute(sa.schema.CreateSchema(schema))  # create_all expects them to exist
    metadata.create_all(engine)


def _insert(engine: sa.Engine, metadata: sa.MetaData, rows: dict[str, list[dict]]) -> None:
    with engine.begin() as conn:
        for table, values in rows.items():
            conn.execute(metadata.tables[table].insert(), values)


def lost_rows(engine: sa.Engine, md_b: sa.MetaData, rows: dict[str, list[dict]]) -> str | None:
    """Why rows inserted under model A are not all readable under model B's names, or None.

    Like run_round_trip: tables and columns model B does not have (dropped on purpose) are not checked;
    declared renames (`renamed_from`) map old names to new ones.
    """
    hints = rename_hints(md_b)
    new_table = {old: new for new, old in hints.tables.items()}
    inspector = sa.inspect(engine)
    for table, values in rows.items():
        t = md_b.tables.get(new_table.get(table, table))
        if t is None:
            continue
        if not inspector.has_table(t.name, schema=t.schema):
            return f"table {t.name} is gone"
        present = {c["name"] for c in inspector.get_columns(t.name, schema=t.schema)}
        new_column = {old: new for (tbl, new), old in hints.columns.items() if tbl == t.fullname}
        keep = [(c, new_column.get(c, c)) for c in values[0] if new_column.get(c, c) in t.c]
        missing = [new for _, new in keep if new not in present]
        if missing:
            return f"{t.name}.{missing[0]} is gone"
        with engine.connect() as conn:
            found = conn.execute(sa.select(*[sa.column(new) for _, new in keep]).select_from(
                sa.table(t.name, schema=t.schema))).all()
        before = sorted(tuple(str(v[old]) for old, _ in keep) for v in values)
        after = sorted(tuple(str(v) for v in r) for r in found)
        if before != after:
            if len(after) < len(before):
                return f"{len(before) - len(after)} of {len(before)} rows of {t.name} are gone"
            changed = [new for i, (_, new) in enumerate(keep) if [b[i] for b in before] != [a[i] for a in after]]
            return f"values of {t.name}.{', '.join(changed) or '?'} are gone"
    return None


def _compare(actual: Schema, expected: Schema, strict: bool) -> list[str]:
    remaining = diff_schemas(actual, expected).describe()
    if not remaining and strict and actual != expected:
        remaining = ["schemas differ in what the diff does not compare (e.g. table options)"]
    return remaining


def run_alembic(dev: DevDatabase, target_url: str, model_a: Model, model_b: Model,
                rows: dict[str, list[dict]]) -> Outcome:
    """Alembic autogenerate A -> B on an empty target database, applied for real, classified."""
    md_a, md_b = metadata_of(model_a), metadata_of(model_b)
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool)
    try:
        _create_models(engine, md_a)
        _insert(engine, md_a, rows)
        with warnings.catch_warnings(record=True) as caught, engine.connect() as conn:
            warnings.simplefilter("always")
            # EnvironmentContext.configure's defaults that plugins read (alembic_utils: include_schemas)
            context = MigrationContext.configure(conn, opts={"target_metadata": md_b, "include_schemas": False})
            try:
                script = produce_migrations(context, md_b)
            except Exception as exc:  # noqa: BLE001 - `revision --autogenerate` itself failing is the outcome
                return Outcome("error", f"autogenerate raised {_error_note(exc)}")
        alerts = [_short(str(w.message), 80) for w in caught if "alembic" in (w.filename or "")
                  or issubclass(w.category, sa.exc.SAWarning)]
        planned = _flatten(script.upgrade_ops.ops)
        if not planned:
            return Outcome("missed", f"warned: {alerts[0]}" if alerts else "no operations")
        names = _op_names(script.upgrade_ops.as_diffs())
        try:
            with engine.begin() as conn:
                operations = Operations(MigrationContext.configure(conn))
                for operation in planned:
                    operations.invoke(operation)
        except Exception as exc:  # noqa: BLE001 - any failure of the upgrade is the outcome
            return Outcome("error", f"{names} → {_error_note(exc)}")
        lost = lost_rows(engine, md_b, rows)
        with engine.connect() as conn:
            actual = inspect_schema(conn)
        remaining = _compare(actual, fresh_schema(dev, md_b), strict=dev.dialect_name == "mysql")
        if lost:
            return Outcome("data loss", f"{names} → {lost}")
        if remaining:
            more = f" (+{len(remaining) - 1} more)" if len(remaining) > 1 else ""
            return Outcome("partial", f"{names} → left to reach B: {_short(remaining[0], 80)}{more}")
        return Outcome("correct", names)
    finally:
        engine.dispose()


def run_atlembic(dev: DevDatabase, target_url: str, tmp: Path, model_a: Model, model_b: Model,
                 rows: dict[str, list[dict]], model_b_again: Model | None = None) -> Outcome:
    """atlembic's round trip (plan, verify, apply A and A -> B, re-plan in sync, schema equal, rows kept).

    ``model_b_again`` (a second, independent builder of B) enables the stricter whole-schema equality
    used for MySQL, where the diff does not compare table options.
    """
    try:
        _, survived = run_round_trip(dev, target_url, tmp, model_a, model_b, rows)
        for table, after in survived.items():
            before = sorted(rows[table], key=lambda r: r["id"])
            if len(after) != len(before):
                return Outcome("failed", f"rows of {table} lost")
            for old, new in zip(before, after, strict=True):
                if {k: str(v) for k, v in new.items()} != {k: str(old[k]) for k in new}:
                    return Outcome("failed", f"values of {table} changed")
        if model_b_again is not None:
            remaining = _compare(reflect(target_url), fresh_schema(dev, metadata_of(model_b_again)), strict=True)
            if remaining:
                return Outcome("failed", _short(remaining[0]))
    except Exception as exc:  # noqa: BLE001 - the failure is the result
        text = str(exc).strip() or type(exc).__name__
        return Outcome("failed", _short(text.splitlines()[0]))
    return Outcome("correct")
