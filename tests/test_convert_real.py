"""`atlembic convert` on real Alembic histories from PyPI (pinned in the test extra), each chosen for how its
env.py reaches a database, and on a small project of ours whose revision needs an autocommit block:

* optuna 5.0.0 and mlflow-skinny 3.17.2: the offered connection, or an engine from sqlalchemy.url;
* openstack-placement 16.0.0: an engine from the project's own factory (oslo.db's enginefacade), aimed by
  the project's own configuration (here its environment variable, pointed at a file or a closed loopback
  port that must never be reached), and an env.py that refuses Alembic's offline mode;
* dstack 0.22.5: an async env.py (its own async engine, ``run_sync``) that takes the offered connection when
  there is one, sets PRAGMAs and commits on it before ``configure``, one transaction per migration; revisions
  in year folders (``recursive_version_locations``); partial indexes ``WHERE status NOT IN (...)`` that PostgreSQL
  re-spells each time it parses them (compared in the one spelling it keeps);
* masakari 22.0.0: its own version table (``version_table='masakari_alembic_version'``, kept apart from
  taskflow's), a connection shared through ``config.attributes`` when one is offered, batch mode (``render_as_batch``);
* tests/fixtures/convert/autocommit: ``CREATE INDEX CONCURRENTLY`` in ``autocommit_block()`` (PostgreSQL).

On SQLite and PostgreSQL, and MariaDB where the project supports MySQL. For each: convert; `alembic upgrade
heads` a database (A) and hand it over (`upgrade head --baseline`, which checks its alembic_version and
schema); apply the baseline to a clean database (B); A and B must reflect equal, table by table, column by
column, every constraint and index; then `atlembic check` against the project's models reports the
differences Alembic's own `compare_metadata` reports, or fewer, each explained below. Alembic, the models
and atlembic each run in their own process: Alembic's upgrade, convert (which runs the history) and check (which
imports the models) in processes of their own; the two upgrades, which run neither env.py, a revision nor the models
(they import at most the package script_location names, to find it), in this one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.convert.compare import respellings
from atlembic.diff import diff_schemas
from atlembic.engines import inspect_schema
from tests.support.cli import run_cli
from tests.support.pg_fixture import require_module
from tests.test_cli import REPO

pytestmark = pytest.mark.slow  # real projects' Alembic histories converted and applied, in processes

FIXTURES = Path(__file__).parent / "fixtures" / "convert"
TOOL = FIXTURES / "alembic_tool.py"
LOGGING = """
[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARNING
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic
[formatter_generic]
format = %%(message)s
"""

# mlflow's models declare Index("index_trace_tags_request_id") and Index("index_trace_request_metadata_request_id")
# without columns (the history creates them on request_id): no database can create a column-less index,
# so the models module used here leaves those two out. Alembic reports them as remove+add pairs.
MLFLOW_MODELS = """
import mlflow.store.db.utils  # noqa: F401  (imports every model module)
from mlflow.store.db.base_sql_model import Base

metadata = Base.metadata
for table in metadata.tables.values():
    for index in list(table.indexes):
        if not index.expressions:
            table.indexes.discard(index)
"""



def _closed_port() -> int:
    """A loopback port nothing listens on (an engine aimed there would fail to connect, not reach a server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _elsewhere(dialect: str, tmp_path: Path) -> str:
    """Where a project's own configuration aims its engine during convert: never to be reached."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'elsewhere.db'}"
    driver = "postgresql+psycopg" if dialect == "postgresql" else "mysql+pymysql"
    return f"{driver}://app:s3cret@127.0.0.1:{_closed_port()}/production"


def _async_driver(url: str) -> str:
    """`url` with the async driver of its engine (dstack's own engine is async)."""
    parsed = sa.make_url(url)
    driver = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}[parsed.get_backend_name()]
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Spec:
    """One project: where its history is, its models, and how its env.py is aimed at a database."""

    module: str  # what must be importable (pinned in the test extra)
    script_location: str
    models: str
    heads: tuple[str, ...]
    start: str | None = None  # --start-metadata: the schema the history starts from
    ini: Callable[[], str] = str  # more [alembic] lines
    # The environment for a run aimed at a URL (the project's own settings); convert gets _elsewhere's URL.
    env: Callable[[str], dict[str, str]] = lambda url: {}
    convert_args: tuple[str, ...] = ()
    redirected: bool = False  # convert must say env.py's own engine was redirected to the dev database
    path: tuple[Path, ...] = field(default=())  # more sys.path entries (the fixture's models)
    version_table: str = "alembic_version"  # the one env.py's context.configure names


PROJECTS = {
    "optuna": Spec("optuna", "optuna.storages._rdb:alembic", "optuna.storages._rdb.models:BaseModel.metadata",
                   ("v3.2.0.a",)),
    "mlflow": Spec("mlflow", "mlflow.store:db_migrations", "mlflow_models:metadata", ("dc11669786a5",),
                   start="mlflow.store.tracking.dbmodels.initial_models:Base.metadata"),
    "placement": Spec("placement", "placement.db.sqlalchemy:alembic", "placement.db.sqlalchemy.models:BASE.metadata",
                      ("a082b8bb98d0",), env=lambda url: {"OS_PLACEMENT_DATABASE__CONNECTION": url}, redirected=True),
    "dstack": Spec("dstack", "dstack._internal.server:migrations", "dstack._internal.server.models:BaseModel.metadata",
                   ("40f19bea9d2a",), ini=lambda: "recursive_version_locations = true\n",
                   env=lambda url: {"DSTACK_DATABASE_URL": _async_driver(url)}),
    "masakari": Spec("masakari", "masakari.db.sqlalchemy:migrations", "masakari.db.sqlalchemy.models:BASE.metadata",
                     ("13adff5efb9a",), version_table="masakari_alembic_version"),
    # The revisions of tests/fixtures/convert/autocommit run by the sample project's env.py (Alembic's template).
    "autocommit": Spec("sqlalchemy", str(FIXTURES / "project" / "alembic"), "models:Base.metadata", ("bbb222",),
                       ini=lambda: f"version_locations = {FIXTURES / 'autocommit' / 'versions'}\n",
                       path=(FIXTURES / "autocommit",)),
}

# What `atlembic check` reports after the conversion, per project and dialect, and why it differs from
# Alembic's compare_metadata (printed by the test on failure).
EXPECTED = {
    ("optuna", "sqlite"): {
        'add table "trial_heartbeats"',  # Alembic: add_table (the history never creates it)
        'table "trial_values": modify column "trial_id": nullable True -> False',  # Alembic: modify_nullable
        # Alembic: remove_index + add_index of the same index under the model's name
        'table "trials": rename index "trials_study_id_key" to "ix_trials_study_id"',
    },
    ("optuna", "postgresql"): {
        'add table "trial_heartbeats"',
        'table "trial_values": modify column "trial_id": nullable True -> False',
        'table "trials": rename index "trials_study_id_key" to "ix_trials_study_id"',
        # Not in Alembic's report (it does not compare enum labels): the model's enum has WAITING, the
        # history never adds it. (The history names the unique constraint on trial_values, the model leaves
        # the name to the engine: no difference, as for Alembic.)
        "change enum \"trialstate\" values ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL'] -> "
        "['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING']",
    },
}

# mlflow on SQLite: the changes Alembic's compare_metadata also reports ...
MLFLOW_SQLITE_SAME = {
    "table \"assessments\": modify column \"assessment_type\": type 'VARCHAR(20)' -> 'VARCHAR(50)'",
    "table \"runs\": modify column \"status\": type 'VARCHAR(9)' -> 'VARCHAR(20)'",
    'table "experiments": drop index "idx_experiments_workspace"',
    'table "experiments": drop index "idx_experiments_workspace_creation_time"',
    'table "model_version_tags": drop index "idx_model_version_tags_workspace_name_version"',
    'table "registered_model_tags": drop index "idx_registered_model_tags_workspace_name"',
    'table "registered_models": drop index "idx_registered_models_workspace"',
    'table "issues": add index "index_issues_created_by"',
    "table \"input_tags\": add foreign key ['input_uuid'] -> inputs['input_uuid']",
    # Alembic: remove_index; here the column-less model indexes were left out (see MLFLOW_MODELS)
    'table "trace_request_metadata": drop index "index_trace_request_metadata_request_id"',
    'table "trace_tags": drop index "index_trace_tags_request_id"',
}
# ... and the ten differences atlembic reports that Alembic does not compare. Each is real: the reflected
# database and the models disagree. (Constraints the models leave unnamed match by shape, whatever name
# the history gave them: no difference, as for Alembic.)
MLFLOW_SQLITE_EXPLAINED = {
    # The history creates this trigger with op.execute; the models do not declare it (Alembic never sees
    # triggers; atlembic manages them on SQLite, so a model without it would drop it).
    'drop trigger "prevent_secrets_aad_mutation" on "secrets"': "a trigger made by the history only",
    # The models name these constraints, the history named them otherwise (Alembic does not compare names).
    'table "assessments": rename primary constraint "assessments_pk" to "assessments_pkey"':
        "PrimaryKeyConstraint(name='assessments_pkey') in the models",
    'table "registered_model_aliases": rename foreignkey constraint "fk_registered_model_aliases_registered_models"'
    ' to "registered_model_alias_registered_model_fkey"': "ForeignKeyConstraint(name=...) in the models",
    # Server defaults the history sets and the models do not (Alembic: compare_server_default=False).
    'table "endpoint_model_mappings": modify column "linkage_type": default "\'PRIMARY\'" -> None': "default",
    'table "endpoints": modify column "usage_tracking": default "\'0\'" -> None': "default",
    'table "metrics": modify column "is_nan": default "\'0\'" -> None': "default",
    'table "metrics": modify column "step": default "\'0\'" -> None': "default",
    'table "webhooks": modify column "status": default "\'ACTIVE\'" -> None': "default",
    # server_default=text("'0'") in the models, the history wrote the number 0.
    'table "label_schemas": modify column "is_default": default \'0\' -> "\'0\'"': "default spelling",
    # The models list the primary key columns in the other order (Alembic does not compare the order).
    'table "trace_request_metadata": change primary key [\'key\', \'request_id\'] -> [\'request_id\', \'key\']':
        "PrimaryKeyConstraint column order",
    'table "trace_tags": change primary key [\'key\', \'request_id\'] -> [\'request_id\', \'key\']':
        "PrimaryKeyConstraint column order",
}
# placement: the models say server_default="0" (a string, SQLite keeps it quoted), the history sa.text("0") (the
# number); Alembic does not compare server defaults (compare_server_default=False), so it reports nothing.
EXPECTED[("placement", "sqlite")] = {'table "consumers": modify column "generation": default \'0\' -> "\'0\'"'}
# On PostgreSQL and MariaDB the engine keeps the default as the models spell it: no difference. The autocommit
# project's history builds exactly its models.
EXPECTED[("placement", "postgresql")] = EXPECTED[("placement", "mysql")] = set()
EXPECTED[("autocommit", "postgresql")] = set()
# masakari's history builds exactly its models on every engine (Alembic's compare_metadata, given no
# version_table, lists only masakari_alembic_version and atlas_schema_revisions as tables to remove).
EXPECTED[("masakari", "sqlite")] = EXPECTED[("masakari", "postgresql")] = EXPECTED[("masakari", "mysql")] = set()
EXPECTED[("dstack", "sqlite")] = {
    # The history sets a server default the models do not have (Alembic: compare_server_default=False).
    'table "projects": modify column "is_public": default \'0\' -> None',
    # The history named it with a typo, the models' naming convention spells it out (Alembic ignores names).
    'table "volumes_attachments": rename foreignkey constraint "fk_volumes_attachments_instace_id_instances" to '
    '"fk_volumes_attachments_instance_id_instances"',
    # A real difference: the history makes the index on sa.text("submitted_at DESC"), but a later batch_alter_table
    # of "runs" re-creates the table from SQLAlchemy's reflection, which loses DESC on SQLite: the history's
    # database has (submitted_at, id), the models submitted_at.desc(). Alembic does not compare index order.
    'table "runs": drop index "ix_submitted_at_id"',
    'table "runs": add index "ix_submitted_at_id"',
}
EXPECTED[("dstack", "postgresql")] = {
    # As on SQLite: the history's server default and its FK name with a typo.
    'table "projects": modify column "is_public": default \'false\' -> None',
    'table "volumes_attachments": rename foreignkey constraint "fk_volumes_attachments_instace_id_instances" to '
    '"fk_volumes_attachments_instance_id_instances"',
    # A real difference (Alembic does not compare index predicates): the history makes each pipeline index
    # WHERE deleted IS FALSE, the models say deleted = false(); PostgreSQL keeps the two as different predicates.
    *(f'table "{table}": {verb} index "ix_{table}_pipeline_fetch_q"' for table in (
        "fleets", "gateway_computes", "instances", "placement_groups", "service_router_worker_sync", "volumes")
      for verb in ("drop", "add")),
}
EXPECTED[("mlflow", "sqlite")] = MLFLOW_SQLITE_SAME | set(MLFLOW_SQLITE_EXPLAINED)
EXPECTED[("mlflow", "postgresql")] = {"<models rejected by PostgreSQL: input_tags FK to non-unique inputs.input_uuid>"}

# Differences between Alembic's database (A) and the converted baseline's (B) accepted as re-spellings of the
# same thing (atlembic/convert/compare.py), per project and dialect; none elsewhere.
# mlflow on PostgreSQL needed 5 (CHECKs made before a column type change, re-parsed) until CHECKs were compared
# in PostgreSQL's canonical spelling (schema/postgresql.canonical_check): none now.
RESPELLED: dict[tuple[str, str], int] = {}


def _project(tmp_path: Path, name: str, url: str) -> Path:
    spec = PROJECTS[name]
    project = tmp_path / name
    project.mkdir()
    (project / "alembic.ini").write_text(
        f"[alembic]\nscript_location = {spec.script_location}\nsqlalchemy.url = {url.replace('%', '%%')}\n"
        f"{spec.ini()}\n[atlembic]\nmetadata = {spec.models}\n{LOGGING}"
    )
    (project / "mlflow_models.py").write_text(MLFLOW_MODELS)
    (tmp_path / "home").mkdir(exist_ok=True)
    return project


def _environ(project: Path, name: str, url: str) -> dict[str, str]:
    """The process environment of a run whose project settings aim at `url`; HOME is a scratch directory,
    so that no configuration file of this machine's user is read."""
    spec = PROJECTS[name]
    path = os.pathsep.join([str(REPO), str(project), *map(str, spec.path)])
    return {**os.environ, "PYTHONPATH": path, "HOME": str(project.parent / "home"), **spec.env(url)}


def _alembic(project: Path, name: str, url: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(TOOL), *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env=_environ(project, name, url))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _atlembic(project: Path, name: str, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=project, env=_environ(project, name, url),
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"atlembic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _upgrade(project: Path, *args: str) -> str:
    """`atlembic ARGS` (an upgrade: no env.py, revision or models) in this process, with the scratch HOME of the
    project's processes (the replay cache convert and check share)."""
    return run_cli(project, *args, env={"HOME": str(project.parent / "home")}).stdout


def _schema(url: str, version_table: str):  # noqa: ANN202
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect_schema(conn, exclude=("atlas_schema_revisions", version_table))
    finally:
        engine.dispose()


def _check_lines(project: Path, name: str, url: str, url_args: list[str]) -> set[str]:
    proc = _atlembic(project, name, url, *url_args, "check", check=False)
    out = proc.stdout.strip()
    if "no unique constraint matching given keys" in out:
        # mlflow's models declare FOREIGN KEY input_tags.input_uuid -> inputs.input_uuid, which is not unique
        # in the models: PostgreSQL refuses to create them (SQLite does not check; Alembic reports add_fk).
        assert 'referenced table "inputs"' in out and "input_tags" in out, out
        return {"<models rejected by PostgreSQL: input_tags FK to non-unique inputs.input_uuid>"}
    if proc.returncode == 0:
        return set()
    assert out.startswith("FAILED: New upgrade operations detected: "), out
    return set(out.removeprefix("FAILED: New upgrade operations detected: ").split("; "))


def _run(tmp_path: Path, name: str, dialect: str, url_a: str, url_b: str, dev: list[str]) -> None:
    spec = PROJECTS[name]
    require_module(spec.module, f"pip install -e .[test] installs the {name} pinned there")
    project = _project(tmp_path, name, url_a)
    elsewhere = _elsewhere(dialect, tmp_path)
    start = ["--start-metadata", spec.start] if spec.start else []
    out = _atlembic(project, name, elsewhere, *dev, "convert", *start, *spec.convert_args).stdout
    assert f"to head {' '.join(spec.heads)}" in out, out
    if spec.redirected:  # the project's own engine went to the dev database, never to its configured target
        assert "redirected" in out and "s3cret" not in out, out
    assert not (tmp_path / "elsewhere.db").exists()
    [baseline] = sorted((project / "migrations").glob("*_baseline.sql"))
    version = baseline.name.split("_")[0]
    text = baseline.read_text()
    assert all(f"-- alembic:head {head}" in text for head in spec.heads), text[:500]
    assert spec.version_table not in text.split("\n\n", 1)[1]

    # A: Alembic's own upgrade, then the hand-over (alembic_version and schema checked).
    _alembic(project, name, url_a, "upgrade", "alembic.ini", url_a, *([spec.start] if spec.start else []))
    handed = _upgrade(project, *dev, "upgrade", "head", "--baseline", version)
    assert "Schema equals" in handed, handed
    # B: the baseline on a clean database.
    _upgrade(project, *dev, "--url", url_b, "upgrade", "head")
    a, b = _schema(url_a, spec.version_table), _schema(url_b, spec.version_table)
    assert [t.name for t in a.tables] == [t.name for t in b.tables]
    remaining = diff_schemas(a, b)
    accepted = respellings(remaining) if remaining else []
    assert accepted is not None, "; ".join(remaining.describe())
    assert len(accepted) == RESPELLED.get((name, dialect), 0), accepted

    # The models against the converted directory. Alembic's compare_metadata on database A (a process of its own)
    # is run only to explain a mismatch: each expectation was written from both side by side.
    ours = _check_lines(project, name, elsewhere, dev)
    expected = EXPECTED.get((name, dialect))
    if expected is None or ours != set(expected):
        theirs = [line for line in _alembic(project, name, url_a, "compare", url_a, spec.models).splitlines() if line]
        detail = "atlembic:\n  " + "\n  ".join(sorted(ours)) + "\nalembic:\n  " + "\n  ".join(theirs)
        raise AssertionError(f"{name} on {dialect}: " + ("no expectation" if expected is None else "mismatch")
                             + f"\n{detail}")


SQLITE = ["optuna", "mlflow", "placement", "dstack", "masakari"]
POSTGRESQL = ["optuna", "mlflow", "placement", "autocommit", "dstack", "masakari"]
MARIADB = ["placement", "masakari"]


@pytest.mark.parametrize("name", SQLITE)
def test_real_history_sqlite(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, "sqlite", f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}", [])


@pytest.mark.postgresql
@pytest.mark.parametrize("name", POSTGRESQL)
def test_real_history_postgresql(tmp_path: Path, name: str, pg_server) -> None:  # noqa: ANN001
    from tests.support.pg_fixture import fresh_pg_url

    dev = ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    _run(tmp_path, name, "postgresql", fresh_pg_url(pg_server), fresh_pg_url(pg_server), dev)


@pytest.mark.parametrize("name", MARIADB)
def test_real_history_mariadb(tmp_path: Path, name: str, mysql_server) -> None:  # noqa: ANN001
    from tests.support.mysql_fixture import fresh_mysql_url

    dev = ["--dev-url", mysql_server.url().render_as_string(hide_password=False)]
    _run(tmp_path, name, "mysql", fresh_mysql_url(mysql_server), fresh_mysql_url(mysql_server), dev)
