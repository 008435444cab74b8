"""atlembic and Alembic side by side on generated workloads; writes docs/benchmarks.md and a plot.

    python bench/run.py                 # everything: 3 dialects x 10/100/1000 tables, 5 runs each
    python bench/run.py --quick         # 10 and 100 tables, 1 run: a smoke test (prints, writes nothing)
    python bench/run.py --dialects sqlite,postgresql --sizes 10,100 --runs 3 --out /tmp/b.md
    python bench/run.py --first-contact 300,1000   # also a team's first contact (see FIRST_COMMANDS)

Every command is a new process, as a user runs it: the wall time includes interpreter start-up and
imports, the peak RSS is the kernel's (``wait4``) for that process and its children. Per-stage times
come from atlembic's own `Timings` (bench/atl.py). The replay cache lives in a private
``XDG_CACHE_HOME`` for the run: "cold" runs empty it first, "warm" runs follow a run that filled it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from workload import Workload, write_project  # noqa: E402

SIZES = {10: 1, 100: 100, 1000: 500}  # tables -> migration files in the history
DIALECTS = ("sqlite", "postgresql", "mysql")
DIALECT_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}

# (key, label, tool): the rows of the report, in order.
COMMANDS = [
    ("check_cold", "no-change `check`, empty replay cache", "atlembic"),
    ("check_warm", "no-change `check`, warm cache", "atlembic"),
    ("alembic_check", "`alembic check` (database at head)", "alembic"),
    ("revision", "`revision --autogenerate`, one column added", "atlembic"),
    ("alembic_revision", "`alembic revision --autogenerate`, one column added", "alembic"),
    ("check_added", "`check` after one file was added", "atlembic"),
    ("upgrade", "`upgrade head` on an empty database", "atlembic"),
    ("alembic_upgrade", "`alembic upgrade head` on an empty database", "alembic"),
    ("floor", "the same SQL through the engine's own client (floor)", "client"),
]
COMPARED = {"check_cold": "alembic_check", "check_warm": "alembic_check", "revision": "alembic_revision",
            "upgrade": "alembic_upgrade"}

# A team's first contact (issue 15): its whole existing schema as the first revision, the lint of that file,
# the file applied to an empty database, and `convert` of a long Alembic history. New project, cold cache.
FIRST_HISTORY = 150  # revisions in the Alembic history that `convert` turns into a baseline
FIRST_COMMANDS = [
    ("first_revision", "first `revision --autogenerate` (new project, empty directory)", "atlembic"),
    ("alembic_first_revision", "`alembic revision --autogenerate` on an empty database", "alembic"),
    ("first_lint", "`lint` of that first file", "atlembic"),
    ("first_upgrade", "`upgrade head` of that file on an empty database", "atlembic"),
    ("first_floor", "the same file through the engine's own client (floor)", "client"),
    ("convert", f"`convert` of a {FIRST_HISTORY}-revision Alembic history", "atlembic"),
    ("alembic_history_upgrade", "`alembic upgrade head` of that history on the running server", "alembic"),
]
FIRST_COMPARED = {"first_revision": "alembic_first_revision", "first_lint": "alembic_first_revision",
                  "first_upgrade": "first_floor", "convert": "alembic_history_upgrade"}
FIRST_GOALS = {"first_revision": "<= 1.0", "first_lint": "<= 0.5", "first_upgrade": "<= 1.2", "convert": "<= 1.0"}


@dataclass
class Sample:
    wall: float
    rss_mb: float
    stages: dict[str, float] = field(default_factory=dict)


# A process started by this (big) harness inherits its peak RSS at exec (Linux keeps the old memory's high
# water mark): GNU time, a small process, starts the command instead and reports the command's own peak.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_process(cmd: list[str], cwd: Path, env: dict[str, str], *, stdin: Path | None = None,
                timings: Path | None = None) -> Sample:
    """Run `cmd` to completion; wall time and peak RSS of it (the largest of it and its children)."""
    with tempfile.TemporaryFile() as out, (open(stdin, "rb") if stdin else open(os.devnull, "rb")) as inp, \
            tempfile.NamedTemporaryFile("r") as rss:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdin=inp, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out.read().decode()[-3000:]}")
        peak_kib = int(rss.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    stages: dict[str, float] = {}
    if timings is not None:
        stages = json.loads(timings.read_text())["stages"]
    return Sample(wall, peak_kib / 1024, stages)


# -- targets: where `upgrade` runs and the DB at head that Alembic compares with --------------------


class SqliteTarget:
    dialect = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def fresh(self, label: str) -> str:
        self.count += 1
        path = self.root / f"{label}_{self.count}.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def floor(self, url: str, sql: Path) -> list[str]:
        return ["sqlite3", "-bail", url.removeprefix("sqlite:///"), f".read {sql}"]

    def stop(self) -> None:
        pass


class ServerTarget:
    """A database per use on one ephemeral server the harness starts (not the dev database)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        if dialect == "postgresql":
            from atlembic.devdb.postgresql import EphemeralPostgres

            self.server = EphemeralPostgres()
        else:
            from atlembic.devdb.mysql import EphemeralMariaDB

            self.server = EphemeralMariaDB()
        self.server.start()
        self.count = 0

    def version(self) -> str:
        return f"{self.server.product} {self.server.version}"

    def fresh(self, label: str) -> str:
        self.count += 1
        url = self.server.create_database(f"bench_{label}_{self.count}")
        return url.render_as_string(hide_password=False)

    def floor(self, url: str, sql: Path) -> list[str]:
        from sqlalchemy import make_url

        u = make_url(url)
        if self.dialect == "postgresql":
            psql = str(self.server.bindir / "psql")
            return [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", u.query["host"], "-p", u.query["port"],
                    "-U", u.username, "-d", u.database, "-f", str(sql)]
        client = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
        return [client, "--no-defaults", f"--socket={u.query['unix_socket']}", "-u", u.username, u.database,
                "-e", f"source {sql}"]

    def stop(self) -> None:
        self.server.stop()


# -- one workload ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, dialect: str, workload: Workload, target, root: Path, cache_home: Path) -> None:
        self.dialect, self.workload, self.target = dialect, workload, target
        self.head_url = target.fresh("head")
        self.project = write_project(workload, dialect, root, self.head_url)
        self.env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONDONTWRITEBYTECODE": "1"}
        self.env.pop("ATLEMBIC_CONFIG", None)
        self.cache_home = cache_home
        # Outside the project: a file appearing in the models' directory is a change to what loading them
        # lists, and the next run would load them again (atlembic/autogenerate/snapshot.py).
        cache_home.mkdir(parents=True, exist_ok=True)
        self.timings = cache_home / "timings.json"
        self.all_sql = root / "all.sql"
        files = sorted((root / "migrations").glob("*.sql"))
        self.all_sql.write_text("".join(f.read_text() for f in files))
        # Alembic compares with a database at head (the models' state): build it with Alembic itself.
        self.run(["alembic", "upgrade", "head"])

    def run(self, args: list[str], **kw) -> Sample:
        cmd = [sys.executable, "-m", "alembic", *args[1:]] if args[0] == "alembic" else args
        return run_process(cmd, self.project, self.env, **kw)

    def atl(self, command: str, *extra: str) -> Sample:
        return self.run([sys.executable, str(BENCH / "atl.py"), command, "--timings", str(self.timings), *extra],
                        timings=self.timings)

    def alembic_ini(self, url: str) -> Path:
        ini = self.project / "alembic_upgrade.ini"
        text = (self.project / "alembic.ini").read_text().replace(self.head_url.replace("%", "%%"),
                                                                  url.replace("%", "%%"))
        ini.write_text(text)
        return ini

    def one_round(self) -> dict[str, Sample]:
        out: dict[str, Sample] = {}
        replay_cache = self.cache_home / "atlembic" / "replay"
        shutil.rmtree(replay_cache, ignore_errors=True)
        out["check_cold"] = self.atl("check")
        out["check_warm"] = self.atl("check")
        out["alembic_check"] = self.run(["alembic", "check"])

        models = self.project / "models.py"
        original_models = models.read_text()
        sum_path = self.project / "migrations" / "atlas.sum"
        original_sum = sum_path.read_bytes()
        atlas_before = set((self.project / "migrations").glob("*.sql"))
        versions = self.project / "alembic" / "versions"
        alembic_before = set(versions.glob("*.py"))
        try:
            models.write_text((self.project / "models_changed.py.txt").read_text())
            out["revision"] = self.atl("revision")
            out["alembic_revision"] = self.run(["alembic", "revision", "--autogenerate", "-m", "bench change"])
            out["check_added"] = self.atl("check")
        finally:
            models.write_text(original_models)
            for path in set((self.project / "migrations").glob("*.sql")) - atlas_before:
                path.unlink()
            sum_path.write_bytes(original_sum)
            for path in set(versions.glob("*.py")) - alembic_before:
                path.unlink()

        url = self.target.fresh("atl")
        out["upgrade"] = self.atl("upgrade", "--url", url)
        url = self.target.fresh("alembic")
        out["alembic_upgrade"] = self.run(["alembic", "-c", str(self.alembic_ini(url)), "upgrade", "head"])
        url = self.target.fresh("floor")
        out["floor"] = self.run(self.target.floor(url, self.all_sql))
        return out


class FirstContact:
    """A new project on an existing schema: models.py and alembic.ini, no migration files yet (`revision`),
    and the same models with a long Alembic history (`convert`)."""

    def __init__(self, dialect: str, tables: int, target, root: Path, cache_home: Path) -> None:
        self.dialect, self.target, self.cache_home = dialect, target, cache_home
        self.fresh_project = write_project(Workload(tables, 1), dialect, root / "new", target.fresh("new"))
        for path in (self.fresh_project / "alembic" / "versions").glob("*.py"):
            path.unlink()
        shutil.rmtree(self.fresh_project / "migrations")
        self.history = write_project(Workload(tables, FIRST_HISTORY), dialect, root / "history", target.fresh("hist"))
        shutil.rmtree(self.history / "migrations")
        self.env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONDONTWRITEBYTECODE": "1"}
        self.env.pop("ATLEMBIC_CONFIG", None)
        self.timings = cache_home / "first-timings.json"
        cache_home.mkdir(parents=True, exist_ok=True)

    def atlembic(self, project: Path, *args: str) -> Sample:
        return run_process([sys.executable, "-m", "atlembic", *args], project, self.env)

    def one_round(self) -> dict[str, Sample]:
        out: dict[str, Sample] = {}
        project = self.fresh_project
        shutil.rmtree(self.cache_home / "atlembic", ignore_errors=True)
        shutil.rmtree(project / "migrations", ignore_errors=True)
        out["first_revision"] = run_process(
            [sys.executable, str(BENCH / "atl.py"), "revision", "--timings", str(self.timings)], project, self.env,
            timings=self.timings)
        out["first_lint"] = self.atlembic(project, "lint")
        [written] = sorted((project / "migrations").glob("*.sql"))
        out["first_upgrade"] = self.atlembic(project, "--url", self.target.fresh("first"), "upgrade", "head")
        out["first_floor"] = run_process(self.target.floor(self.target.fresh("floor1"), written), project, self.env)
        versions = project / "alembic" / "versions"
        out["alembic_first_revision"] = run_process(
            [sys.executable, "-m", "alembic", "-c", str(_ini_for(project, self.target.fresh("empty"))),
             "revision", "--autogenerate", "-m", "first"], project, self.env)
        for path in versions.glob("*.py"):
            path.unlink()

        history = self.history
        shutil.rmtree(history / "migrations", ignore_errors=True)
        shutil.rmtree(self.cache_home / "atlembic", ignore_errors=True)
        out["convert"] = self.atlembic(history, "convert")
        out["alembic_history_upgrade"] = run_process(
            [sys.executable, "-m", "alembic", "-c", str(_ini_for(history, self.target.fresh("hup"))), "upgrade",
             "head"], history, self.env)
        return out


def _ini_for(project: Path, url: str) -> Path:
    """A copy of the project's alembic.ini pointing at `url`."""
    text = (project / "alembic.ini").read_text()
    line = next(x for x in text.splitlines() if x.startswith("sqlalchemy.url"))
    ini = project / "alembic_bench.ini"
    ini.write_text(text.replace(line, f"sqlalchemy.url = {url.replace('%', '%%')}"))
    return ini


# -- report ------------------------------------------------------------------------------------------


def summarize(samples: list[Sample]) -> dict:
    walls = [s.wall for s in samples]
    stages: dict[str, list[float]] = {}
    for s in samples:
        for name, value in s.stages.items():
            stages.setdefault(name, []).append(value)
    return {
        "median": statistics.median(walls), "min": min(walls), "max": max(walls), "n": len(walls),
        "rss_mb": max(s.rss_mb for s in samples),
        "stages": {name: statistics.median(values) for name, values in stages.items()},
    }


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    import alembic
    import sqlalchemy

    import atlembic

    return {
        "machine": f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem} RAM",
        "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__, "alembic": alembic.__version__,
        "atlembic": atlembic.__version__,
    }


def fmt(s: float) -> str:
    return f"{s:.2f}" if s < 10 else f"{s:.1f}"


def cell(r: dict | None) -> str:
    if not r:
        return "-"
    return f"{fmt(r['median'])} s ({fmt(r['min'])}–{fmt(r['max'])})"


STAGE_ORDER = ["import", "models snapshot", "load metadata", "dev database start", "provider", "load models",
               "replay", "inspect", "diff", "plan", "verify", "write", "lint", "apply", "dev database stop", "command"]

TARGETS_TEXT = [
    ("1000 tables, no-change check, SQLite (warm / cold)", "< 3 s"),
    ("1000 tables, no-change check, PostgreSQL incl. ephemeral cluster (warm / cold)", "< 6 s"),
    ("1000 tables, no-change check vs `alembic check` (ratio, warm / cold)", "<= 1.0"),
    ("500 files unchanged: first check / second check, per dialect", ">= 5x"),
    ("500 files, PostgreSQL `upgrade head` / `psql -f`", "<= 1.5x"),
    ("1000 tables, peak RSS of any atlembic command", "< 400 MB"),
]


def first_report(first: dict, meta: dict) -> list[str]:
    """The first-contact section: per dialect, each command at each size, the ratios against the goals."""
    if not first:
        return []
    lines = ["## First contact: a team's first revision, its lint, its upgrade, and convert", "",
             f"Measured {meta.get('first_date', meta['date'])}, {meta.get('first_runs', '?')} run(s) each (median, "
             "min–max). A new project on the workload's models (bench/workload.py) with no migration files: "
             "`revision --autogenerate` writes the whole schema as one file (the embedded dev database started "
             "by the command, cold cache); Alembic's first autogenerate compares the same models with an empty "
             f"database. `convert` turns a {FIRST_HISTORY}-revision Alembic history of the same schema into a "
             "baseline; Alembic's own `upgrade head` of that history runs on a server already running.", ""]
    for dialect, by_size in first.items():
        sizes = sorted(by_size, key=int)
        lines += [f"### {DIALECT_LABELS[dialect]}", "", "| command | " + " | ".join(f"{t} tables" for t in sizes)
                  + " |", "|---|" + "---|" * len(sizes)]
        for key, label, _tool in FIRST_COMMANDS:
            lines.append(f"| {label} | " + " | ".join(cell(by_size[t].get(key)) for t in sizes) + " |")
        for key, other in FIRST_COMPARED.items():
            row = []
            for t in sizes:
                a, b = by_size[t].get(key), by_size[t].get(other)
                row.append(f"{a['median'] / b['median']:.2f}" if a and b else "-")
            lines.append(f"| ratio {key} / {other} (goal {FIRST_GOALS[key]}) | " + " | ".join(row) + " |")
        peaks = [max(by_size[t][k]["rss_mb"] for k, _, tool in FIRST_COMMANDS if tool == "atlembic" and k in by_size[t])
                 for t in sizes]
        lines.append("| peak RSS of any atlembic command (MB) | " + " | ".join(f"{p:.0f}" for p in peaks) + " |")
        big = by_size[sizes[-1]].get("first_revision")
        if big and big["stages"]:
            stages = big["stages"]
            lines += ["", f"Stages of the first revision at {sizes[-1]} tables (median seconds): " + ", ".join(
                f"{name} {stages[name]:.2f}" for name in STAGE_ORDER if name in stages) + "."]
        lines.append("")
    return lines


def report(results: dict, meta: dict, runs: int, plot_name: str | None, first: dict | None = None) -> str:
    lines = [
        "# Benchmarks: atlembic and Alembic side by side",
        "",
        "Generated by `python bench/run.py` (see [bench/run.py](../bench/run.py)); do not edit by hand.",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['machine']}",
        f"- Versions: Python {meta['python']}, SQLAlchemy {meta['sqlalchemy']}, Alembic {meta['alembic']}, "
        f"atlembic {meta['atlembic']}; " + ", ".join(meta["engines"].values()),
        f"- Each figure: median of {runs} runs (min–max), wall time of a new process (start-up and imports "
        "included); peak RSS as the kernel counts it for the process and its children.",
        "- Workloads (bench/workload.py, seed 20260101): N tables of 12 columns (defaults, 2 indexes, 1-2 foreign "
        "keys, a check), built up by a history of H migration files: "
        + ", ".join(f"{t} tables / {f} files" for t, f in SIZES.items()) + ". The same history is rendered as "
        "Alembic revisions (`op.create_table`/`op.create_index`). atlembic's dev database is the embedded one "
        "(in-memory SQLite; an ephemeral PostgreSQL cluster or MariaDB server started and removed by each "
        "command, so its time is included); Alembic's `check`/`revision` compare with a database at head on a "
        "server that is already running.",
        "",
    ]
    if plot_name:
        lines += [f"![time against schema size]({plot_name})", ""]
    lines += ["## Targets", "", "| target | goal | measured |", "|---|---|---|"]
    lines += [f"| {text} | {goal} | {measured_target(results, i)} |" for i, (text, goal) in enumerate(TARGETS_TEXT)]
    lines.append("")
    for dialect, by_size in results.items():
        lines += [f"## {DIALECT_LABELS[dialect]}", "",
                  "| command | " + " | ".join(f"{t} tables / {SIZES[t]} file{'s' * (SIZES[t] != 1)}" for t in by_size)
                  + " |",
                  "|---|" + "---|" * len(by_size)]
        for key, label, _tool in COMMANDS:
            row = [cell(by_size[t].get(key)) for t in by_size]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        for key, other in COMPARED.items():
            row = []
            for t in by_size:
                a, b = by_size[t].get(key), by_size[t].get(other)
                row.append(f"{a['median'] / b['median']:.2f}" if a and b else "-")
            lines.append(f"| ratio {key} / {other} | " + " | ".join(row) + " |")
        lines.append("| peak RSS atlembic / Alembic (MB) | " + " | ".join(
            f"{max(by_size[t][k]['rss_mb'] for k, _, tool in COMMANDS if tool == 'atlembic' and k in by_size[t]):.0f}"
            f" / {max(by_size[t][k]['rss_mb'] for k, _, tool in COMMANDS if tool == 'alembic' and k in by_size[t]):.0f}"
            for t in by_size) + " |")
        lines.append("")
        lines += [f"Stages (median seconds) at {max(by_size)} tables:", "",
                  "| command | " + " | ".join(STAGE_ORDER) + " |", "|---|" + "---|" * len(STAGE_ORDER)]
        big = by_size[max(by_size)]
        for key, _label, tool in COMMANDS:
            if tool != "atlembic" or key not in big:
                continue
            stages = big[key]["stages"]
            lines.append(f"| {key} | " + " | ".join(f"{stages[s]:.2f}" if s in stages else "" for s in STAGE_ORDER)
                         + " |")
        lines.append("")
    lines += first_report(first or {}, meta)
    lines.append(NOTES)
    return "\n".join(lines)


NOTES = """## Reading the figures

- **Cold and warm.** "Empty replay cache" is a first run (a fresh CI runner, or `--no-cache`): the models'
  DDL and the whole history run on the dev database and both results are inspected, then cached. "Warm" is
  every later run on an unchanged directory and unchanged models: both schemas come from the replay cache,
  and no dev database is started at all. "`check` after one file was added": on SQLite the cached state of
  the 500 files is deserialized and only the new file replayed. On PostgreSQL and MariaDB the dev server's
  data dir is kept between runs with the replayed directory in it (atlembic/devdb/kept.py, renamed away on
  tmpfs at a clean close and back at the next start): the run starts on it and replays the new file on
  the state of the 500 files (PostgreSQL on a copy, `CREATE DATABASE ... TEMPLATE`; MariaDB, which cannot
  copy a database, on the state itself). The `revision` before it verifies on a copy of that state on
  PostgreSQL; MariaDB replays the directory for verification and lint.
- **What bounds a warm `check`**: interpreter start-up and imports (`import`: SQLAlchemy, Alembic, which
  pulls in Mako and Pygments, and atlembic, ~0.3-0.4 s), then ~0.1 s of work: checking the models'
  snapshot (every file, directory and environment variable their last load read, atlembic/autogenerate/snapshot.py;
  unchanged models are not imported and their DDL is not compiled), loading both cached schemas and
  diffing them. None of it depends on the history: the replay and inspection of the directory's side drop
  to zero (2.5-5 s cold).
- **What bounds a cold `check`**: the engine executing the DDL twice (models and history; on PostgreSQL and
  MariaDB they run at the same time in two scratch databases) and SQLAlchemy's per-table reflection
  (`inspect`, ~0.6 s per 1000 tables on SQLite; there a catalog equal to one already reflected, the
  models and a history that created the same tables, is not reflected twice).
- **The commands run without Python's cyclic garbage collector and skip the interpreter's teardown**
  (atlembic/cli/app.py): at 1000 tables its full passes over the models and two schemas cost 45% of a warm
  `check`, and freeing the heap object by object at exit 0.5-1.2 s more.
- **What bounds `upgrade`**: the engine executing the statements (the `psql -f`/client floor). On
  PostgreSQL each file is sent as one batch inside its transaction and the revisions row is written twice
  (started, then finished with the last statement, in the same transaction); what remains above the floor
  is interpreter start-up and imports (~0.3 s), splitting and hashing the statements and those row writes.
- **`revision --autogenerate`** lints the new file statement by statement on the directory's state
  (re-inspecting only the table a simple statement changed; a run of statements on tables the file itself
  creates, a first revision's CREATE TABLE and CREATE INDEX pairs, is inspected once for the whole run), and
  the state the lint ends in, inspected, is the plan's verification: the file runs once, not twice (alone
  only where rows could exist). On PostgreSQL the directory's state is copied for it (`CREATE DATABASE ...
  TEMPLATE STRATEGY FILE_COPY`, 0.11 s at 1000 tables); MariaDB has no such copy and replays it.
- **What bounds a first revision** (the first-contact rows): Alembic's first autogenerate runs no DDL at all;
  atlembic runs the schema's DDL twice on the dev database, the models' (`load models`) and the planned
  file's (inside `lint`), and reflects the result. On SQLite the models' DDL runs as the file writes it, so
  the file's end state has the models' catalog text and is not reflected again: 0.80x Alembic at 1000
  tables. On PostgreSQL the two executions of the 3000 statements are 2.55 s and ~2.5 s of the 11.2 s
  command at 1000 tables (1.47x Alembic), the dev server's start 1.05 s; on MariaDB 1.77 s and ~1.9 s of
  8.5 s (1.14x).
- **What bounds `convert`**: the history itself runs on the dev database through the project's env.py (what
  Alembic's own `upgrade head` does, 1.0x), then the baseline is written and run on a clean dev database and
  both states are inspected and compared: at 1000 tables about the cost of a first revision on top.
- **What bounds `upgrade` on MariaDB**: no transactional DDL, so each statement is recorded in the revisions
  row around it; they go to the server in multi-statement batches with those writes between them
  (atlembic/migrate/batch.py), and what remains above `mariadb <` is interpreter start-up and imports and
  parsing one result per statement and per row write.
- Timings are wall-clock on a shared 2-core machine: expect noise of tens of percent between runs; the
  min–max columns show it.

## Measurements behind design choices

Measured once, by hand, on the same kind of machine, when each choice was made; the code's comments say
why, these say how much (see docs/architecture.md for the designs).

- PostgreSQL template data dir copied instead of `initdb`: `initdb` ~0.35 s on tmpfs, ~0.6 s on disk; the copy
  ~0.05 s.
- MariaDB template data dir copied instead of `mariadb-install-db`: ~0.35 s -> ~0.05 s.
- the directory's state copied within a run (`CREATE DATABASE ... TEMPLATE`): 0.2 s where replaying 1000
  tables takes 1.6 s.
- `STRATEGY FILE_COPY` for those copies (PostgreSQL 15+): 0.11 s instead of 0.2-0.27 s at 1000 tables, no WAL
  the size of the copy.
- kept data dirs renamed on tmpfs, never copied: 110 MB data dir: `cp -a` to tmpfs 0.33 s, to disk 0.46 s and
  up to 5 s under writeback; a cluster on disk replays the 500 files in 2.0-5.6 s instead of 1.5-1.6 s.
- a kept data dir checked against a manifest (paths, sizes, mtimes of ~8300 files): hashing its 110 MB would
  take ~0.1 s at each end.
- a clean server stop before keeping a data dir: ~0.05 s after replaying 1000 tables.
- orphaned kept dirs removed in the background: ~0.2 s for 110 MB of tmpfs.
- MariaDB dev server without persistent optimizer statistics: 1000 `CREATE TABLE`: 1.8 s -> 1.25 s.
- server states saved only after replays that may have written rows and took >= 0.5 s: a dump plus its restore
  cost ~0.1 s, and restoring a dump of a create-only history is slower than replaying it.
- the models' DDL sent to PostgreSQL in one batch: a third less time than one call per statement at 1000
  tables.
- commands run without the cyclic garbage collector: no-change `check` at 1000 tables 3.0 s -> 1.65 s; +9 MB
  peak for a 67-revision `convert`.
- the interpreter's teardown skipped at exit: 0.5-1.2 s after a `check` at 1000 tables.
"""


def measured_target(results: dict, index: int) -> str:
    def get(dialect: str, size: int, key: str) -> dict | None:
        return results.get(dialect, {}).get(size, {}).get(key)

    def med(dialect: str, size: int, key: str) -> float | None:
        r = get(dialect, size, key)
        return r["median"] if r else None

    big = 1000
    if index in (0, 1):
        d = "sqlite" if index == 0 else "postgresql"
        w, c = med(d, big, "check_warm"), med(d, big, "check_cold")
        return f"{w:.2f} s / {c:.2f} s" if w and c else "not measured"
    if index == 2:
        parts = []
        for d in results:
            w, c, a = med(d, big, "check_warm"), med(d, big, "check_cold"), med(d, big, "alembic_check")
            if w and c and a:
                parts.append(f"{DIALECT_LABELS[d]} {w / a:.2f} / {c / a:.2f}")
        return ", ".join(parts) or "not measured"
    if index == 3:
        parts = []
        for d in results:
            w, c = med(d, big, "check_warm"), med(d, big, "check_cold")
            if w and c:
                parts.append(f"{DIALECT_LABELS[d]} {c / w:.1f}x")
        return ", ".join(parts) or "not measured"
    if index == 4:
        u, f = med("postgresql", big, "upgrade"), med("postgresql", big, "floor")
        return f"{u:.2f} s / {f:.2f} s = {u / f:.2f}x" if u and f else "not measured"
    peaks = [r["rss_mb"] for d in results for k, _, tool in COMMANDS if tool == "atlembic"
             for r in [get(d, big, k)] if r]
    return f"{max(peaks):.0f} MB" if peaks else "not measured"


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return False
    series = [("check_warm", "atlembic check (warm)", "C0", "-"), ("check_cold", "atlembic check (cold)", "C0", ":"),
              ("alembic_check", "alembic check", "C1", "-"), ("revision", "atlembic revision", "C2", "-"),
              ("alembic_revision", "alembic revision", "C3", "-"), ("upgrade", "atlembic upgrade", "C4", "-"),
              ("alembic_upgrade", "alembic upgrade", "C5", "-"), ("floor", "client (floor)", "C7", "--")]
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.2), squeeze=False)
    for ax, (dialect, by_size) in zip(axes[0], results.items(), strict=True):
        sizes = sorted(by_size)
        for key, label, color, style in series:
            xs = [t for t in sizes if key in by_size[t]]
            ax.plot(xs, [by_size[t][key]["median"] for t in xs], style, color=color, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(DIALECT_LABELS[dialect])
        ax.set_xlabel("tables (history: 1 / 100 / 500 files)")
        ax.set_ylabel("seconds (median)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def measure(bench, label: str, runs: int) -> dict:  # noqa: ANN001  (Bench or FirstContact)
    """`runs` rounds of `bench`, each sample printed as it comes; the summary per command."""
    rounds: dict[str, list[Sample]] = {}
    for r in range(runs):
        for key, sample in bench.one_round().items():
            rounds.setdefault(key, []).append(sample)
            print(f"{label} run {r + 1}/{runs} {key:24s} {sample.wall:7.2f} s {sample.rss_mb:6.0f} MB", flush=True)
    return {k: summarize(v) for k, v in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 and 100 tables, 1 run, print only")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--dialects", default=",".join(DIALECTS))
    parser.add_argument("--sizes", help="comma-separated table counts (10,100,1000)")
    parser.add_argument("--out", type=Path, help="markdown report (default docs/benchmarks.md; --quick: none)")
    parser.add_argument("--first-contact", help="comma-separated table counts for the first-contact rows (300,1000)")
    parser.add_argument("--first-only", action="store_true",
                        help="run only the first-contact rows; the other rows are kept from docs/benchmarks.json")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 5)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([10, 100] if args.quick else list(SIZES))
    out = args.out or (None if args.quick else REPO / "docs" / "benchmarks.md")
    dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]

    results: dict = {}
    first: dict = {}
    meta = machine()
    meta["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta["engines"] = {}
    first_sizes = [int(t) for t in args.first_contact.split(",")] if args.first_contact else []
    kept = REPO / "docs" / "benchmarks.json"
    if args.first_only:
        if not first_sizes:
            parser.error("--first-only needs --first-contact SIZES")
        saved = json.loads(kept.read_text()) if kept.exists() else {"meta": meta, "results": {}}
        meta, results = {**saved["meta"], **{k: meta[k] for k in ("machine", "python", "sqlalchemy", "alembic",
                                                                 "atlembic")}}, saved["results"]
        sizes = []
        results = {d: {int(t): r for t, r in by_size.items()} for d, by_size in results.items()}
    meta["first_date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta["first_runs"] = runs
    with tempfile.TemporaryDirectory(prefix="atlembic-bench-") as tmp:
        cache_home = Path(tmp) / "cache"
        for dialect in dialects:
            target = SqliteTarget(Path(tmp)) if dialect == "sqlite" else ServerTarget(dialect)
            try:
                meta["engines"][dialect] = target.version()
                if sizes:
                    results[dialect] = {}
                for tables in first_sizes:
                    contact = FirstContact(dialect, tables, target, Path(tmp) / f"first-{dialect}-{tables}", cache_home)
                    first.setdefault(dialect, {})[tables] = measure(contact, f"{dialect:10s} {tables:5d} tables", runs)
                for tables in sizes:
                    bench = Bench(dialect, Workload(tables, SIZES[tables]), target, Path(tmp) / f"{dialect}-{tables}",
                                  cache_home)
                    results[dialect][tables] = measure(bench, f"{dialect:10s} {tables:5d} tables", runs)
            finally:
                target.stop()

    text = report(results, meta, runs, "benchmarks.png" if out else None, first)
    if out is None:
        print(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "benchmarks.json").write_text(json.dumps({"meta": meta, "results": results, "first": first},
                                                           indent=1))
    if not plot(results, out.parent / "benchmarks.png"):
        text = text.replace("![time against schema size](benchmarks.png)\n", "")
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
