"""`atlembic schema apply` (Atlas's declarative apply): the live database planned to a desired schema, the plan
printed as Atlas prints it, `--dry-run` changing nothing, no terminal without `--auto-approve` refused, data loss
refused without `--allow-destructive`, and the rows kept through a change. SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.cli import run_cli, run_on_terminal
from tests.support.pg_fixture import fresh_database_url

START = "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id))"
DESIRED = """\
CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, email VARCHAR(120), PRIMARY KEY (id));
CREATE INDEX ix_users_email ON users (email);
CREATE TABLE posts (id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY (id),
  CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id));
"""
WITHOUT_POSTS = DESIRED.split("CREATE TABLE posts")[0]


def _columns(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {t: [c["name"] for c in inspector.get_columns(t)] for t in sorted(inspector.get_table_names())}
    finally:
        engine.dispose()


def schema_apply_scenario(root: Path, url: str, dev: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(START)
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")
    (root / "schema.sql").write_text(DESIRED)
    apply = ("schema", "apply", "--url", url, "--to", f"file://{root / 'schema.sql'}", "--dev-url", dev)

    dry = run_cli(root, *apply, "--dry-run").stdout
    assert dry.startswith("-- Planned Changes:\n-- ") and 'Create "posts" table' in dry and "email" in dry
    assert _columns(url) == {"users": ["id", "name"]}
    refused = run_cli(root, *apply, check=False)  # the tests' stdin is no terminal
    assert refused.returncode == 1 and refused.stdout == (
        "FAILED: schema apply: no terminal to ask for approval: pass --auto-approve (or --dry-run)\n")
    assert _columns(url) == {"users": ["id", "name"]}

    assert run_cli(root, *apply, "--auto-approve").stdout == dry
    assert _columns(url) == {"posts": ["id", "user_id"], "users": ["id", "name", "email"]}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, name, email FROM users ORDER BY id").all() == [
            (1, "ada", None), (2, "grace", None)]
        conn.exec_driver_sql("INSERT INTO posts (id, user_id) VALUES (7, 1)")
        conn.commit()
    assert run_cli(root, *apply, "--auto-approve").stdout == "Schema is synced, no changes to be made\n"

    # Dropping a table with a row in it: refused (printed first), then applied with --allow-destructive.
    (root / "schema.sql").write_text(WITHOUT_POSTS)
    lossy = run_cli(root, *apply, "--auto-approve", check=False)
    assert lossy.returncode == 1 and 'Drop "posts" table' in lossy.stdout
    assert lossy.stdout.splitlines()[-1].startswith("FAILED: schema apply would lose data: ")
    assert "posts" in _columns(url)
    run_cli(root, *apply, "--auto-approve", "--allow-destructive")
    assert _columns(url) == {"users": ["id", "name", "email"]}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar() == 2
    engine.dispose()


def test_schema_apply_sqlite(tmp_path: Path) -> None:
    schema_apply_scenario(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", "sqlite://dev?mode=memory")


@pytest.mark.slow
def test_schema_apply_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    schema_apply_scenario(tmp_path, fresh_database_url(pg_server), "docker://postgres/15/dev")


@pytest.mark.slow
def test_schema_apply_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    schema_apply_scenario(tmp_path, fresh_database_url(mysql_server), "docker://mariadb/latest/dev")


def test_schema_apply_env_and_bad_input(tmp_path: Path) -> None:
    """The env's url and src by default, its diff policy honoured (a skipped drop is no change); no target is one
    line, as is a statement the engine rejects (rolled back: nothing changed)."""
    db = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql(START)
        conn.exec_driver_sql("CREATE TABLE legacy (id INTEGER)")
    engine.dispose()
    (tmp_path / "schema.sql").write_text(DESIRED)
    (tmp_path / "atlas.hcl").write_text(
        'env "app" {\n  url = "sqlite://app.db"\n  src = "file://schema.sql"\n'
        '  diff {\n    skip {\n      drop_table = true\n    }\n  }\n}\n')
    out = run_cli(tmp_path, "schema", "apply", "--env", "app", "--auto-approve").stdout
    assert 'Create "posts" table' in out and "legacy" not in out
    assert _columns(f"sqlite:///{db}") == {"legacy": ["id"], "posts": ["id", "user_id"],
                                           "users": ["id", "name", "email"]}
    proc = run_cli(tmp_path, "schema", "apply", "--to", "file://schema.sql", "--auto-approve", check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED: no target database")


def test_schema_apply_failure_rolls_back(tmp_path: Path) -> None:
    """A statement the target refuses (a NOT NULL column without a default on a table with rows, which the dev
    database accepted) stops the run; the transaction is rolled back and the table is as it was."""
    url = _failing_target(tmp_path)
    proc = run_cli(tmp_path, "schema", "apply", "--url", url, "--to", "file://schema.sql",
                   "--auto-approve", check=False)
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith('FAILED: schema apply: executing statement "INSERT INTO new_audit')
    assert proc.stdout.rstrip().endswith("rolled back, nothing changed")
    assert _columns(f"sqlite:///{tmp_path / 'app.db'}") == {"audit": ["id"], "users": ["id", "name"]}


def test_schema_apply_asks_on_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql(START)
    engine.dispose()
    (tmp_path / "schema.sql").write_text(DESIRED)
    apply = ["schema", "apply", "--url", f"sqlite://{db}", "--to", "file://schema.sql"]
    code, out = run_on_terminal(tmp_path, apply, b"[y/N]", "n")
    assert code == 0 and "Apply these changes? [y/N]" in out and "Aborted: nothing was changed." in out
    assert _columns(f"sqlite:///{db}") == {"users": ["id", "name"]}
    code, out = run_on_terminal(tmp_path, apply, b"[y/N]", "y")
    assert code == 0, out
    assert _columns(f"sqlite:///{db}") == {"posts": ["id", "user_id"], "users": ["id", "name", "email"]}


FAILING = ("CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id));\n"
           "CREATE TABLE audit (id INTEGER NOT NULL, who INTEGER NOT NULL, PRIMARY KEY (id));\n"
           "CREATE TABLE extra (id INTEGER NOT NULL, PRIMARY KEY (id));\n")


def _failing_target(root: Path) -> str:
    """A SQLite target whose plan to FAILING creates `extra`, then fails on the target alone: `audit` has a row,
    so its new NOT NULL column (no default) cannot be filled, which the empty dev database accepted."""
    db = root / "app.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql(START)
        conn.exec_driver_sql("CREATE TABLE audit (id INTEGER NOT NULL, PRIMARY KEY (id))")
        conn.exec_driver_sql("INSERT INTO audit (id) VALUES (1)")
    engine.dispose()
    (root / "schema.sql").write_text(FAILING)
    return f"sqlite://{db}"


@pytest.mark.parametrize(("tx_mode", "kept"), [("file", []), ("none", ["extra", "new_audit"])])
def test_schema_apply_tx_mode_and_json_report(tmp_path: Path, tx_mode: str, kept: list[str]) -> None:
    """Atlas's --tx-mode: `file` (the default) runs the plan in one transaction, rolled back on failure; `none` runs
    each statement on its own, so those before the failed one stay (the rebuild's new table too). --format
    '{{ json . }}' reports Atlas's SchemaApply object: the statements applied (what stayed), pending (from the
    failed one on), the failed statement and the engine's error; stdout is the JSON alone, the exit code 1."""
    url = _failing_target(tmp_path)
    proc = run_cli(tmp_path, "schema", "apply", "--url", url, "--to", "file://schema.sql", "--auto-approve",
                   "--tx-mode", tx_mode, "--format", "{{ json . }}", check=False)
    assert proc.returncode == 1, proc.stdout
    report = json.loads(proc.stdout)
    assert report["Driver"] == "sqlite" and "Error" not in report
    changes = report["Changes"]
    failed = "INSERT INTO new_audit (id) SELECT id FROM audit"
    assert changes["Error"] == {"Stmt": failed, "Text": "NOT NULL constraint failed: new_audit.who"}
    applied = changes.get("Applied", [])
    assert changes["Pending"][len(changes["Pending"]) - 4:] == [failed, "DROP TABLE audit",
                                                                "ALTER TABLE new_audit RENAME TO audit",
                                                                "PRAGMA foreign_keys = on"]
    assert [a.split(" (")[0] for a in applied] == (
        [] if tx_mode == "file" else ["PRAGMA foreign_keys = off", "CREATE TABLE extra", "CREATE TABLE new_audit"])
    assert len(applied) + len(changes["Pending"]) == 7
    assert _columns(f"sqlite:///{tmp_path / 'app.db'}") == {"audit": ["id"], "users": ["id", "name"], **{
        table: ["id", "who"] if table == "new_audit" else ["id"] for table in kept}}


def test_schema_apply_json_dry_run_and_bad_flags(tmp_path: Path) -> None:
    """--format json with --dry-run: every planned statement pending, nothing changed (Atlas's '{{ json .Changes }}':
    that part alone); --format without --dry-run
    or --auto-approve and an unknown --tx-mode are refused on one line, as Atlas refuses them."""
    url = _failing_target(tmp_path)
    apply = ("schema", "apply", "--url", url, "--to", "file://schema.sql")
    report = json.loads(run_cli(tmp_path, *apply, "--dry-run", "--format", "json").stdout)
    assert "Applied" not in report["Changes"] and any(s.startswith("CREATE TABLE extra")
                                                      for s in report["Changes"]["Pending"])
    assert json.loads(run_cli(tmp_path, *apply, "--dry-run", "--format", "{{ json .Changes }}").stdout) == report[
        "Changes"]
    assert _columns(f"sqlite:///{tmp_path / 'app.db'}") == {"audit": ["id"], "users": ["id", "name"]}
    for flags, message in ((("--format", "json"), "--log and --format can only be used with --dry-run or "
                                                   "--auto-approve"),
                           (("--tx-mode", "all", "--auto-approve"), 'unknown tx-mode "all"'),
                           (("--format", "{{ .Changes }}", "--dry-run"), "--format '{{ .Changes }}': expected")):
        proc = run_cli(tmp_path, *apply, *flags, check=False)
        assert proc.returncode == 1 and proc.stdout.startswith(f"FAILED: {message}"), proc.stdout


def test_schema_apply_composes_several_to_urls(tmp_path: Path) -> None:
    """Several --to file:// URLs are one desired schema (posts, in its own file, references users); mixing kinds
    of source, or several of one that is not file://, is refused with Atlas's message."""
    db = tmp_path / "app.db"
    users, posts = DESIRED.split("CREATE TABLE posts")
    (tmp_path / "users.sql").write_text(users)
    (tmp_path / "posts.sql").write_text("CREATE TABLE posts" + posts)
    apply = ("schema", "apply", "--url", f"sqlite://{db}", "--auto-approve")
    run_cli(tmp_path, *apply, "--to", "file://users.sql", "--to", "file://posts.sql")
    assert _columns(f"sqlite:///{db}") == {"posts": ["id", "user_id"], "users": ["id", "name", "email"]}
    diff = run_cli(tmp_path, "schema", "diff", "--from", f"sqlite://{db}", "--to", "file://users.sql",
                   "--to", "file://posts.sql").stdout
    assert diff == "Schemas are synced, no changes to be made.\n"
    mixed = run_cli(tmp_path, *apply, "--to", "file://users.sql", "--to", f"sqlite://{db}", check=False)
    assert mixed.returncode == 1 and mixed.stdout.startswith(
        'FAILED: got mixed --to url schemes: "file" and "sqlite"'), mixed.stdout
    two = run_cli(tmp_path, *apply, "--to", f"sqlite://{db}", "--to", f"sqlite://{db}", check=False)
    assert two.returncode == 1 and two.stdout.startswith(
        "FAILED: got multiple --to urls of scheme \"sqlite\", only multiple 'file://' urls are supported")


# On the target only: an event trigger that gives every table created a column the desired schema lacks, as a
# database with an auditing or replication hook does. The dev database has none, so the plan is right there and
# the target ends up elsewhere: the check after apply must say so.
STAMPING = """\
CREATE FUNCTION stamp_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE obj record;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
    EXECUTE 'ALTER TABLE ' || obj.object_identity || ' ADD COLUMN stamped_at timestamptz';
  END LOOP;
END $$"""


@pytest.mark.slow
def test_schema_apply_check_fails_when_the_target_does_not_reach_the_schema(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    url = fresh_database_url(pg_server)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(STAMPING)
        conn.exec_driver_sql("CREATE EVENT TRIGGER stamp ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
                             "EXECUTE FUNCTION stamp_new_tables()")
    engine.dispose()
    (tmp_path / "schema.sql").write_text(WITHOUT_POSTS)
    proc = run_cli(tmp_path, "schema", "apply", "--url", url, "--to", "file://schema.sql", "--auto-approve",
                   "--exclude", "stamp_new_tables", "--dev-url", "docker://postgres/15/dev", check=False)
    assert proc.returncode == 1, proc.stdout
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("FAILED: schema apply ran, but ") and "does not equal the desired schema" in last, last
    assert "stamped_at" in last
    assert _columns(url)["users"] == ["id", "name", "email", "stamped_at"]
