"""`revision --autogenerate` verifies its plan on the state its lint of the file ends in (one execution of the
file fewer): a plan that does not reach the models is still refused with the difference and nothing written,
the findings are those `lint` finds on the written file, and where the fusion would not be sound (rows in the
directory's state) or the lint cannot run (its configuration), the verification runs on its own."""

from __future__ import annotations

import re
import textwrap
from collections import OrderedDict
from pathlib import Path

import pytest

from atlembic import autogenerate, commands
from atlembic.config import Settings, load_settings
from atlembic.engines import engine_for
from atlembic.errors import AtlembicError
from atlembic.lint import lint_directory
from atlembic.migrate.directory import MigrationDir
from atlembic.plan.base import PlannedStatement
from atlembic.schema.reflector import Reflector
from atlembic.schema.sqlite import SqliteReflector

V1 = "20240101000000"
HISTORY = (f"{V1}_init.sql", "CREATE TABLE author (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(80), "
           "nickname VARCHAR(80));\nCREATE TABLE post (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(80));\n")
# The models drop table post and column author.nickname (destructive), and add a table with an index.
MODELS = """\
    import sqlalchemy as sa
    metadata = sa.MetaData()
    sa.Table("author", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(80)))
    sa.Table("book", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("title", sa.String(80)), sa.Index("ix_book_title", "title"))
    """


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A project with models and the one history file, on SQLite or on the session's PostgreSQL server."""
    if request.param == "sqlite":
        url, dev = f"sqlite:///{tmp_path / 'app.db'}", ""
    else:
        server = request.getfixturevalue("pg_server")
        url = "postgresql+psycopg://nobody@localhost:1/never_connected"
        dev = "dev_url = " + server.url("postgres").render_as_string(hide_password=False).replace("%", "%%")
    module = f"fused_models_{request.param}_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(MODELS))
    (tmp_path / "alembic").mkdir()
    (tmp_path / "alembic" / "env.py").write_text(
        f"from alembic import context\nfrom {module} import metadata\n"
        "context.configure(url=context.config.get_main_option('sqlalchemy.url'), target_metadata=metadata)\n")
    (tmp_path / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\npath_separator = os\n"
        f"sqlalchemy.url = {url}\n\n"
        f"[atlembic]\nmigrations_dir = %(here)s/migrations\n{dev}\n")
    write_history(tmp_path, HISTORY[1])
    return tmp_path


def write_history(project: Path, sql: str) -> None:
    directory = project / "migrations"
    directory.mkdir(exist_ok=True)
    (directory / HISTORY[0]).write_text(sql)
    MigrationDir(directory).write_sum()


def settings_of(project: Path) -> Settings:
    return load_settings(project / "alembic.ini")


def written(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "migrations").glob("*.sql") if p.name != HISTORY[0])


@pytest.fixture
def verified_alone(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the verification ran on its own (replaying the directory and the planned file)."""
    calls: list[int] = []
    original = autogenerate.verify_plan

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(1)
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(autogenerate, "verify_plan", counting)
    return calls


def _break(monkeypatch: pytest.MonkeyPatch, dialect: str, how: str) -> None:
    """Break the dialect's planner on purpose: "forget" leaves out its CREATE INDEX, "garble" appends a statement
    no engine accepts."""
    planner_class = type(engine_for(dialect).planner())
    original = planner_class.plan

    def plan(self: object, diff: object) -> list[PlannedStatement]:
        statements = original(self, diff)  # type: ignore[arg-type]
        if how == "forget":
            return [s for s in statements if "CREATE INDEX" not in s.sql]
        if how == "garble":
            return [*statements, PlannedStatement("garbled", "ALTER TABLE garbled ADD COLUMN x INTEGER")]
        # right after CREATE TABLE book: among the statements on tables the file creates, which lint runs
        # together (PostgreSQL: in one batch)
        created = next(i for i, s in enumerate(statements) if s.sql.startswith("CREATE TABLE book"))
        return [*statements[:created + 1], PlannedStatement("bad", "CREATE INDEX ix_bad ON book (no_such_column)"),
                PlannedStatement("more", "CREATE INDEX ix_more ON book (id)"), *statements[created + 1:]]

    monkeypatch.setattr(planner_class, "plan", plan)


def test_plan_that_does_not_reach_the_models_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                        verified_alone: list[int]) -> None:
    settings = settings_of(project)
    _break(monkeypatch, settings.dialect, "forget")
    with pytest.raises(AtlembicError, match="does not reach the models' schema; remaining: .*ix_book_title"):
        commands.revision(settings, "next", autogenerate=True)
    assert written(project) == [] and verified_alone == []  # refused by the lint's state, nothing written


@pytest.mark.parametrize(("how", "statement"),
                         [("garble", "ALTER TABLE garbled"), ("bad index", "CREATE INDEX ix_bad")])
def test_plan_that_does_not_apply_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch,
                                             verified_alone: list[int], how: str, statement: str) -> None:
    settings = settings_of(project)
    _break(monkeypatch, settings.dialect, how)
    with pytest.raises(AtlembicError) as refused:
        commands.revision(settings, "next", autogenerate=True)
    assert written(project) == [] and verified_alone == []
    message = str(refused.value)
    assert re.fullmatch(rf'the planned migration does not apply on the dev database: \d+_next\.sql:(\d+): executing '
                        rf'statement "{statement}.*', message, re.DOTALL), message
    # the line is the statement's in the file that would have been written
    text = commands.plan(settings, verify=False).plan.render(settings.indent)
    line = int(message.split(".sql:")[1].split(":")[0])
    assert text.splitlines()[line - 1].startswith(statement)


def _findings(result: object) -> list[tuple]:
    return [(f.path, f.file, f.line, f.code, f.analyzer, f.message, f.error) for f in result.findings]  # type: ignore[attr-defined]


def test_findings_are_those_of_lint_on_the_written_file(project: Path, verified_alone: list[int]) -> None:
    settings = settings_of(project)
    outcome = commands.revision(settings, "next", autogenerate=True)
    assert isinstance(outcome, commands.PlanOutcome) and outcome.path is not None and verified_alone == []
    assert {"lint", "verify"} <= set(outcome.timings.stages) and outcome.lint_failed is None
    codes = [f.code for f in outcome.lint.findings]
    assert "DS102" in codes and "DS103" in codes  # drops post, drops author.nickname
    assert _findings(outcome.lint) == _findings(lint_directory(settings, latest=1))
    assert outcome.lint.files == [outcome.path.name]


def test_rows_in_the_history_verify_on_their_own(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                 verified_alone: list[int]) -> None:
    """A state with rows: a COMMIT-time check (SQLite's foreign keys) is only seen by running the file in its
    transaction, so the verification replays it; the lint still runs, on the written file."""
    write_history(project, HISTORY[1] + "INSERT INTO author (id, name) VALUES (1, 'ann');\n")
    settings = settings_of(project)
    outcome = commands.revision(settings, "next", autogenerate=True)
    assert isinstance(outcome, commands.PlanOutcome) and verified_alone == [1]
    assert _findings(outcome.lint) == _findings(lint_directory(settings, latest=1)) and outcome.lint.findings
    (project / "migrations" / outcome.path.name).unlink()  # type: ignore[union-attr]
    MigrationDir(project / "migrations").write_sum()
    _break(monkeypatch, settings.dialect, "forget")
    with pytest.raises(AtlembicError, match="does not reach the models' schema"):
        commands.revision(settings, "again", autogenerate=True)
    assert written(project) == []


def test_lint_that_cannot_run_leaves_the_verification_alone(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                            verified_alone: list[int]) -> None:
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text() + "lint_ignore = nope\n")
    settings = settings_of(project)
    outcome = commands.revision(settings, "next", autogenerate=True)
    assert isinstance(outcome, commands.PlanOutcome) and outcome.path is not None and verified_alone == [1]
    assert outcome.lint is None and "lint_ignore: unknown analyzer or code 'nope'" in (outcome.lint_failed or "")
    outcome.path.unlink()
    MigrationDir(project / "migrations").write_sum()
    _break(monkeypatch, settings.dialect, "forget")
    with pytest.raises(AtlembicError, match="does not reach the models' schema"):
        commands.revision(settings, "again", autogenerate=True)
    assert written(project) == []


def test_first_revision(project: Path, monkeypatch: pytest.MonkeyPatch, verified_alone: list[int]) -> None:
    """An empty directory: the whole file is statements on tables it creates, inspected in full once at its end."""
    for path in (project / "migrations").iterdir():
        path.unlink()
    settings = settings_of(project)
    outcome = commands.revision(settings, "first", autogenerate=True)
    assert isinstance(outcome, commands.PlanOutcome) and outcome.path is not None and verified_alone == []
    assert outcome.lint.files == [outcome.path.name]
    assert _findings(outcome.lint) == _findings(lint_directory(settings, latest=1))
    outcome.path.unlink()
    MigrationDir(project / "migrations").write_sum()
    _break(monkeypatch, settings.dialect, "forget")
    with pytest.raises(AtlembicError, match="does not reach the models' schema; remaining: .*ix_book_title"):
        commands.revision(settings, "first", autogenerate=True)
    assert written(project) == [] and verified_alone == []


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_first_revision_on_sqlite_reflects_its_catalog_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The models' DDL runs on the dev database as the file writes it (no element line ends in white space), so
    the state a first revision's file ends in has the models' catalog text and is not reflected again."""
    for path in (project / "migrations").iterdir():
        path.unlink()
    reflected: list[int] = []
    original = Reflector.inspect

    def counting(self: Reflector, *args: object, **kwargs: object) -> object:
        reflected.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SqliteReflector, "_seen", OrderedDict())
    monkeypatch.setattr(Reflector, "inspect", counting)
    outcome = commands.revision(settings_of(project), "first", autogenerate=True)
    assert isinstance(outcome, commands.PlanOutcome) and outcome.path is not None
    # The models' side and the empty directory's are reflected; the file's end state is the models' catalog.
    assert len(reflected) == 2
