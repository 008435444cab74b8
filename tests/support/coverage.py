"""Regenerate docs/coverage.md: every round-trip case x dialect, atlembic's result and Alembic's.

    python -m tests.support.coverage          # all dialects whose server binaries are installed
    python -m tests.support.coverage --dialects sqlite,postgresql --jobs 4 --output /tmp/coverage.md

Run it from the repository's root: `tests` is a package of the checkout, not installed. It lives with the test
harness it runs (tests/support/alembic_side.py), both sides of every case of tests/support/cases.py, for real:
atlembic's round trip (tests/support/roundtrip.py), and Alembic's autogenerate with the generic env.py defaults,
its upgrade operations applied to a database holding model A and some rows. PostgreSQL and MariaDB run as
ephemeral servers started from the local binaries (atlembic.devdb); a dialect whose server or driver is missing
is left out and said so in the output.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import alembic
import sqlalchemy as sa

import atlembic
from atlembic.devdb import DevDatabase
from atlembic.engines import open_dev_database
from atlembic.errors import AtlembicError
from tests.support.alembic_side import ALEMBIC_OUTCOMES, Outcome, case_for, cases_for, run_alembic, run_atlembic
from tests.support.alembic_utils_side import run_alembic_utils

REPO = Path(__file__).resolve().parents[2]

DIALECTS = ("sqlite", "postgresql", "mysql")
TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}
OUTPUT = REPO / "docs" / "coverage.md"


# ----------------------------------------------------------------------------------------------- servers


def start_servers(dialects: list[str], stack: ExitStack) -> tuple[dict[str, str | None], dict[str, str]]:
    """({dialect: dev URL for the workers (None: embedded)}, {dialect: why it is left out})."""
    urls: dict[str, str | None] = {}
    skipped: dict[str, str] = {}
    for dialect in dialects:
        try:
            if dialect == "sqlite":
                urls[dialect] = None
            elif dialect == "postgresql":
                import psycopg  # noqa: F401 - the driver of the server's URLs

                from atlembic.devdb.postgresql import EphemeralPostgres, find_pg_bindir

                server = stack.enter_context(EphemeralPostgres(find_pg_bindir()))
                urls[dialect] = server.url("postgres").render_as_string(hide_password=False)
            elif dialect == "mysql":
                import pymysql  # noqa: F401

                from atlembic.devdb.mysql import EphemeralMariaDB, find_mysql_binaries

                server = stack.enter_context(EphemeralMariaDB(find_mysql_binaries()))
                urls[dialect] = server.url().render_as_string(hide_password=False)
            else:
                skipped[dialect] = "unknown dialect"
        except (ImportError, AtlembicError) as exc:
            skipped[dialect] = str(exc).splitlines()[0]
    return urls, skipped


def server_version(dialect: str, dev_url: str | None) -> str:
    if dev_url is None:
        return f"SQLite {sqlite3.sqlite_version}"
    engine = sa.create_engine(dev_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version()").scalar_one()
    finally:
        engine.dispose()
    if dialect == "postgresql":
        return " ".join(str(version).split()[:2])
    return f"MariaDB {version}" if "mariadb" in str(version).lower() else f"MySQL {version}"


# ------------------------------------------------------------------------------------------------ worker

_devs: dict[str, DevDatabase] = {}


def _dev(dialect: str, dev_url: str | None) -> DevDatabase:
    if dialect not in _devs:
        _devs[dialect] = open_dev_database(dialect, dev_url)
    return _devs[dialect]


def measure(dialect: str, case_id: str, dev_url: str | None) -> dict[str, Any]:
    """Both sides of one case on one dialect, each on its own fresh target database."""
    start = time.perf_counter()
    dev = _dev(dialect, dev_url)
    with tempfile.TemporaryDirectory(prefix="atlembic-coverage-") as tmp_dir:
        tmp = Path(tmp_dir)
        with ExitStack() as stack:

            def target(name: str) -> str:
                if dialect == "sqlite":
                    return f"sqlite:///{tmp / f'{name}.db'}"
                engine = stack.enter_context(dev.clean_database())  # dropped when the case is done
                return engine.url.render_as_string(hide_password=False)

            case = case_for(dialect, case_id)
            try:
                theirs = run_alembic(dev, target("alembic"), case.a, case.b, case.rows)
            except Exception as exc:  # noqa: BLE001 - e.g. create_all(A) failing: a harness problem, shown as such
                theirs = Outcome("not run", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            with_entities = None
            if dialect == "postgresql":
                with_entities = run_alembic_utils(dev, target("alembic_utils"), case_for(dialect, case_id))
            case, again = case_for(dialect, case_id), case_for(dialect, case_id)
            (tmp / "atlembic").mkdir()
            ours = run_atlembic(dev, target("atlembic"), tmp / "atlembic", case.a, case.b, case.rows,
                                model_b_again=again.b if dialect == "mysql" else None)
    return {"dialect": dialect, "case": case_id, "alembic": theirs, "atlembic": ours,
            "alembic_utils": with_entities, "seconds": time.perf_counter() - start}


# ------------------------------------------------------------------------------------------------ report


def _cell(text: str) -> str:
    text = re.sub(r"atlembic_(dev|test)_[0-9a-f]+", "scratch_db", text)  # random names: keep the file stable
    return text.replace("|", "\\|").replace("\n", " ")


def _mark(outcome: Outcome) -> str:
    return {"correct": "✅ correct", "partial": "⚠️ partial", "data loss": "❌ data loss", "error": "❌ error",
            "missed": "❌ missed", "failed": "❌ failed"}.get(outcome.kind, outcome.kind)


def render(results: list[dict[str, Any]], dialects: list[str], versions: dict[str, str],
           skipped: dict[str, str], seconds: float) -> str:
    # Shared cases in tests/support/cases.py's order, then the dialect-specific ones.
    by_case: dict[str, dict[str, dict[str, Any]]] = {c.id: {} for d in dialects for c in cases_for(d)}
    for r in results:
        by_case[r["case"]][r["dialect"]] = r
    lines = [
        "# Coverage: atlembic vs Alembic autogenerate",
        "",
        "<!-- Generated by tests/support/coverage.py from real runs; do not edit by hand. -->",
        "",
        f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `python -m tests.support.coverage` "
        f"in {seconds:.0f} s.",
        "",
        f"- atlembic {atlembic.__version__}, Alembic {alembic.__version__}, alembic_utils "
        f"{version('alembic_utils')}, SQLAlchemy {sa.__version__}, Python {sys.version.split()[0]}",
        *(f"- {TITLES[d]}: {versions[d]}" for d in dialects),
        *(f"- {TITLES.get(d, d)}: not measured ({why})" for d, why in skipped.items()),
        "",
        "Each row is one round-trip case of `tests/support/cases.py` (as `tests/test_roundtrip.py` and, for MySQL,",
        "`tests/test_mysql.py` run them) on one dialect: model A is created, rows are inserted, then the database is",
        "migrated to model B.",
        "",
        "- **atlembic**: `tests/support/roundtrip.py` — plan A, apply, insert rows, plan A -> B (verified on the dev",
        "  database), apply, re-plan must be in sync, the reflected target must equal a fresh `create_all(B)` and",
        "  the rows must still be there.",
        "- **Alembic autogenerate**: `produce_migrations()` with the generic template's `env.py` settings",
        "  (`target_metadata` only: `compare_type=True`, `compare_server_default=False`, no `render_as_batch`,",
        "  default plugins) on the database holding A and the rows; its upgrade operations applied for real.",
        "  *missed*: no operation; *error*: applying raised; *data loss*: rows (or their values) are gone;",
        "  *partial*: applied, but the schema still differs from `create_all(B)` (atlembic's inspect + diff);",
        "  *correct*: schema equal and rows kept.",
        "",
        "## Summary",
        "",
        "| dialect | cases | atlembic correct | Alembic correct | Alembic partial | Alembic data loss "
        "| Alembic error | Alembic missed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in dialects:
        rows = [r for r in results if r["dialect"] == d]
        ours = Counter(r["atlembic"].kind for r in rows)
        theirs = Counter(r["alembic"].kind for r in rows)
        lines.append(f"| {TITLES[d]} | {len(rows)} | {ours['correct']} | "
                     + " | ".join(str(theirs[k]) for k in ALEMBIC_OUTCOMES) + " |")
    total = len(results)
    lines += [
        f"| **all** | {total} | {sum(r['atlembic'].kind == 'correct' for r in results)} | "
        + " | ".join(str(sum(r["alembic"].kind == k for r in results)) for k in ALEMBIC_OUTCOMES) + " |",
        "",
        "## Cases",
        "",
        "| change kind | dialect | atlembic | Alembic autogenerate | what Alembic did |",
        "|---|---|---|---|---|",
    ]
    for case_id, per_dialect in by_case.items():
        for d in dialects:
            r = per_dialect.get(d)
            if r is None:
                continue
            ours = _mark(r["atlembic"]) + (f": {_cell(r['atlembic'].note)}" if r["atlembic"].note else "")
            lines.append(f"| `{case_id}` | {TITLES[d]} | {ours} | {_mark(r['alembic'])} | "
                         f"{_cell(r['alembic'].note)} |")
    lines += [
        "",
        "Alembic's *what it did* lists the operations it planned (its diff kinds), then what went wrong.",
        "Cases run only on the dialects that have the feature (e.g. enums and sequences on PostgreSQL).",
        "",
        *_alembic_utils_section([r for per_dialect in by_case.values() for r in per_dialect.values()
                                 if r.get("alembic_utils") is not None]),
    ]
    return "\n".join(lines)


def _alembic_utils_section(results: list[dict[str, Any]]) -> list[str]:
    """The object-kind cases again, with Alembic's autogenerate given the objects as alembic_utils entities."""
    if not results:
        return []
    correct = sum(r["alembic_utils"].kind == "correct" for r in results)
    lines = [
        "## Alembic with alembic_utils (PostgreSQL)",
        "",
        "The PostgreSQL cases whose models declare views, materialized views, functions, triggers, policies,",
        "extensions or grants, with those objects written as the alembic_utils entities a project registers in",
        "env.py (`PGView`, `PGMaterializedView`, `PGFunction`, `PGTrigger`, `PGPolicy`, `PGExtension`,",
        "`PGGrantTable` in `public`) and `register_entities(<model B's entities>)` called before Alembic's",
        "autogenerate, which then runs and is applied and classified as above",
        "(`tests/support/alembic_utils_side.py`); what both models share and alembic_utils has no entity for",
        "(enabling row security, making the granted role) stays table setup. atlembic's and plain Alembic's",
        "columns repeat the table above. Every other case has nothing alembic_utils expresses (tables, columns,",
        "keys, enums, sequences: Alembic's own column applies). A dropped object goes unseen when model B",
        "registers no entity in its schema: alembic_utils looks for entities to drop only in the schemas its",
        "registered entities name.",
        "",
        f"alembic_utils correct: {correct} of {len(results)}.",
        "",
        "| change kind | dialect | atlembic | Alembic autogenerate | Alembic + alembic_utils | what it did |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        theirs = r["alembic_utils"]
        lines.append(f"| `{r['case']}` | {TITLES[r['dialect']]} | {_mark(r['atlembic'])} | {_mark(r['alembic'])} | "
                     f"{_mark(theirs)} | {_cell(theirs.note)} |")
    return [*lines, ""]


# -------------------------------------------------------------------------------------------------- main


KEPT_MARKER = "<!-- kept by python -m tests.support.coverage: written by hand below -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", default=",".join(DIALECTS), help="comma-separated (default: all)")
    parser.add_argument("--jobs", type=int, default=max(2, min(4, os.cpu_count() or 2)),
                        help="worker processes (default: CPUs, 2 to 4)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    wanted = [d.strip() for d in args.dialects.split(",") if d.strip()]
    start = time.perf_counter()
    with ExitStack() as stack:
        urls, skipped = start_servers(wanted, stack)
        dialects = [d for d in DIALECTS if d in urls]
        for d, why in skipped.items():
            print(f"coverage: {d} left out: {why}", file=sys.stderr)
        versions = {d: server_version(d, urls[d]) for d in dialects}
        # Server dialects first: they take longest, so the pool ends with short SQLite tasks.
        tasks = [(d, c.id, urls[d]) for d in sorted(dialects, key=lambda d: d == "sqlite") for c in cases_for(d)]
        results: list[dict[str, Any]] = []
        context = multiprocessing.get_context("spawn")  # no inherited engines or sockets
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
            futures = [pool.submit(measure, *task) for task in tasks]
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                r = future.result()
                results.append(r)
                print(f"[{done:3}/{len(tasks)}] {r['seconds']:5.1f}s {r['dialect']:10} {r['case']:40} "
                      f"atlembic: {r['atlembic'].kind:7} alembic: {r['alembic'].kind}", file=sys.stderr)
    seconds = time.perf_counter() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # What follows the marker is written by hand (the real projects' figures, tests/test_convert_real.py): kept.
    previous = args.output.read_text() if args.output.exists() else ""
    kept = previous[previous.index(KEPT_MARKER):] if KEPT_MARKER in previous else ""
    args.output.write_text(render(results, dialects, versions, skipped, seconds) + ("\n" + kept if kept else ""))
    for d in dialects:
        rows = [r for r in results if r["dialect"] == d]
        print(f"{d}: atlembic correct {sum(r['atlembic'].kind == 'correct' for r in rows)}/{len(rows)}, "
              f"Alembic correct {sum(r['alembic'].kind == 'correct' for r in rows)}/{len(rows)}")
    print(f"wrote {args.output} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
