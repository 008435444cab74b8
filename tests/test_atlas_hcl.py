"""atlas.hcl as Atlas reads it (its cmdapi project tests are the reference: envs by name, unnamed envs,
variables, locals, partial evaluation, config URLs), turned into the same `Settings` alembic.ini gives; the
desired schema from a program's output or SQL files; Atlas's format template's indentation in written files.
The end-to-end walk through Atlas's SQLAlchemy guide on every engine is tests/test_atlas_urls.py's."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from atlembic.atlas import load_env
from atlembic.atlas.hcl import Scope, evaluate
from atlembic.atlas.project import indent_of
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import render_migration
from tests.support.cli import run_cli
from tests.support.pg_fixture import require_module
from tests.test_cli import atlembic

MODELS = '''
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
'''


def write(tmp_path: Path, text: str, name: str = "atlas.hcl") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return f"file://{path}"


def failure(config: str, env: str | None, *args: str, **kwargs: object) -> str:
    with pytest.raises(AtlembicError) as info:
        load_env(config, env, args, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# -- envs, variables, locals (Atlas's TestEnvByName, TestUnnamedEnv, TestPartialParse) ---------------------


def test_env_by_name_to_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_TOKEN", "token_atlas")
    monkeypatch.delenv("NOT_SET", raising=False)
    config = write(tmp_path, '''
        variable "name" {
          type    = string
          default = "hello"
        }
        locals {
          envName  = atlas.env
          emptyEnv = getenv("NOT_SET")
          dir      = "file://${local.envName}-migrations"
        }
        env "local" {
          url = "sqlite://${var.name}.db?_fk=1"
          dev = "sqlite://dev?mode=memory"
          schemas = ["hello", "world"]
          migration {
            dir              = local.dir
            format           = atlas
            lock_timeout     = "1s"
            baseline         = "20220101000000"
            exec_order       = LINEAR_SKIP
          }
          lint {
            latest = 3
          }
          bool  = true
          token = getenv("ATLAS_TOKEN")
        }
    ''')
    env = load_env(config, "local")
    settings = env.settings
    assert settings.url == f"sqlite:///{tmp_path / 'hello.db'}"
    assert settings.dev_url is None and settings.dialect == "sqlite"
    assert settings.migrations_dir == tmp_path / "local-migrations"
    assert settings.here == tmp_path and settings.schema_source is None and settings.indent is None
    assert (env.baseline, env.lock_timeout, env.lint_latest) == ("20220101000000", "1s", 3)


def test_unnamed_env_takes_the_name_asked_for(tmp_path: Path) -> None:
    config = write(tmp_path, '''
        env {
          name = atlas.env
          url  = "sqlite://${atlas.env}.db"
        }
    ''')
    assert load_env(config, "staging").settings.url == f"sqlite:///{tmp_path / 'staging.db'}"
    # A name that decides by condition (Atlas: contains(...) ? atlas.env : "dev").
    config = write(tmp_path, '''
        env {
          name = contains(["dev", "prod", "staging"], atlas.env) ? atlas.env : "dev"
        }
    ''')
    assert load_env(config, "prod").name == "prod"
    assert failure(config, "none") == f'{tmp_path / "atlas.hcl"}: env "none" not defined in config file'


def test_only_what_the_env_references_is_evaluated(tmp_path: Path) -> None:
    config = write(tmp_path, '''
        data "template_dir" "unknown" {
          path = "unknown"
        }
        data "external" "boom" {
          program = ["false"]
        }
        env {
          name = atlas.env
          url  = data.template_dir.unknown.url
        }
        env "dev" {
          url = "sqlite://b.db"
          other = data.external.boom
        }
    ''')
    assert load_env(config, "dev").settings.url.endswith("/b.db")
    message = failure(config, "other")
    assert message == ('atlas.hcl: env: url: data "template_dir" is not supported by atlembic (external_schema, '
                       'composite_schema, external and sql are)')


def test_variables_from_the_command_line(tmp_path: Path) -> None:
    config = write(tmp_path, '''
        variable "db" {
          type = string
        }
        variable "port" {
          type    = number
          default = 5432
        }
        variable "schemas" {
          type = list(string)
          default = ["public"]
        }
        env "x" {
          url = "postgres://u@localhost:${var.port + 1}/${var.db}?search_path=${join(",", var.schemas)}"
        }
    ''')
    url = load_env(config, "x", ["db=app", "port=6000", "schemas=a", "schemas=b"]).settings.url
    assert url == "postgresql+psycopg://u@localhost:6001/app?options=-csearch_path%3Da%2Cb"
    assert failure(config, "x") == ('atlas.hcl: env "x": url: variable "db" has no default: '
                                    "pass --var db=VALUE")
    assert "variable \"port\" is a number" in failure(config, "x", "db=a", "port=many")
    assert failure(config, "x", "db") == "--var 'db': expected NAME=VALUE"


def test_expressions() -> None:
    scope = Scope()
    cases = {
        '"a\\tb\\u00e9"': "a\tbé",
        '"x$${y}%%{z}"': "x${y}%{z}",
        "1 + 2 * 3": 7,
        '"a" == "a" && !false ? upper("y") : "n"': "Y",
        '[1, 2, 3][1]': 2,
        '{a = 1, "b" = [true]}["b"][0]': True,
        'format("%s-%d", "a", 3)': "a-3",
        'urlescape("&pass?")': "%26pass%3F",
        "LINEAR_SKIP": "LINEAR_SKIP",
        '"<<-EOT\n    hello\n      world\n    EOT"': "hello\n  world\n",
    }
    for text, value in cases.items():
        assert evaluate(text, scope, "t") == value, text
    for bad, reason in {"foo.bar": "unknown reference foo.bar", "nope(1)": "function nope() is not supported",
                        '"abc': "unterminated string", "[for x in y: x]": "for expressions are not supported"
                        }.items():
        with pytest.raises(AtlembicError, match=f"^t: {re.escape(reason)}"):
            evaluate(bad, scope, "t")


# -- bad files: one line naming atlas.hcl, the line where the parser gives one, the attribute ----------------


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    config = write(tmp_path, 'env "x" {\n  url = \n}\n')
    message = failure(config, "x")
    assert message.startswith(f"{tmp_path / 'atlas.hcl'}:2: syntax error: "), message


def test_bad_attribute_is_named(tmp_path: Path) -> None:
    config = write(tmp_path, 'env "x" {\n  migration {\n    dir = local.missing\n  }\n}\n')
    assert failure(config, "x") == 'atlas.hcl: migration: dir: local "missing" is not defined'
    config = write(tmp_path, 'env "x" {\n  url = ["a"]\n}\n')
    assert failure(config, "x") == 'atlas.hcl: env "x": url: expected a string'
    config = write(tmp_path, 'env "x" {\n  migration {\n    dir = "file://m?format=sqitch"\n  }\n}\n')
    assert failure(config, "x").endswith("unknown migration directory format 'sqitch' (supported: atlas, "
                                         "golang-migrate, goose, flyway, liquibase, dbmate)")


def test_config_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "atlas.hcl"
    path.write_text('env "x" {}\n')
    assert failure(str(path), "x") == f"missing scheme for config file. Did you mean file://{path}?"
    assert failure(f"boring://{path}", "x") == 'unsupported config file driver "boring"'
    assert failure(f"file://{tmp_path}/nope.hcl", "x") == f"config file {tmp_path}/nope.hcl does not exist"
    monkeypatch.chdir(tmp_path)
    assert load_env(None, "x").settings.migrations_dir == tmp_path / "migrations"  # ./atlas.hcl, file://migrations
    assert load_env("file://atlas.hcl", "x").name == "x"


def test_revisions_schema_must_be_where_atlembic_keeps_the_table(tmp_path: Path) -> None:
    config = write(tmp_path, '''
        env "ok" {
          url = "postgres://u@localhost/db?search_path=app"
          migration {
            revisions_schema = "app"
          }
        }
        env "other" {
          url = "postgres://u@localhost/db"
          migration {
            revisions_schema = "atlas"
          }
        }
    ''')
    assert load_env(config, "ok").settings.dialect == "postgresql"
    assert failure(config, "other") == ('atlas.hcl: migration: revisions_schema = \'atlas\': atlembic keeps '
                                        "atlas_schema_revisions in 'atlas_schema_revisions' for this URL; leave "
                                        "revisions_schema out")


# -- the format template --------------------------------------------------------------------------------


def test_indent_of_the_format_template() -> None:
    assert indent_of('{{ sql . "  " }}', "t") == "  "
    assert indent_of('{{ sql $ "\\t" }}', "t") == "\t"
    assert indent_of("{{ sql . }}", "t") == ""
    with pytest.raises(AtlembicError, match="only a template that indents the statements is supported"):
        indent_of("{{ range .Changes }}{{ .Cmd }}{{ end }}", "t")


SQLALCHEMY_CREATE = "CREATE TABLE users (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(30), \n\tPRIMARY KEY (id)\n)"


def test_render_indents_as_the_template_asks() -> None:
    change = [("create \"users\" table", SQLALCHEMY_CREATE)]
    assert render_migration(change, indent="  ") == (
        '-- Create "users" table\nCREATE TABLE users (\n  id INTEGER NOT NULL,\n  name VARCHAR(30),\n'
        "  PRIMARY KEY (id)\n);\n")
    assert render_migration(change, indent="") == (
        '-- Create "users" table\nCREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(30), PRIMARY KEY (id));\n')
    plain = render_migration(change)
    assert plain == ('-- Create "users" table\nCREATE TABLE users (\n\tid INTEGER NOT NULL,\n\tname VARCHAR(30),\n'
                     "\tPRIMARY KEY (id)\n);\n")
    # A literal's own line breaks are not element lines: left as written.
    literal = "INSERT INTO t (a) VALUES ('x \n  y')"
    assert render_migration([("", literal)], indent="  ") == literal + ";\n"


# -- the desired schema from a program or SQL files ------------------------------------------------------


def test_src_files_directories_and_lists(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "2_posts.sql").write_text("CREATE TABLE posts (id int);")
    (tmp_path / "schema" / "1_users.sql").write_text("CREATE TABLE users (id int);\n")
    (tmp_path / "schema" / "notes.txt").write_text("not SQL")
    (tmp_path / "extra.sql").write_text("CREATE TABLE extra (id int);\n")
    config = write(tmp_path, '''
        env "dir" {
          src = "file://schema"
        }
        env "list" {
          src = ["file://extra.sql", "file://schema"]
        }
        env "hcl" {
          src = "file://schema.hcl"
        }
        env "missing" {
          src = "missing.sql"
        }
    ''')
    source = load_env(config, "dir").settings.schema_source
    assert source is not None
    assert source.sql("sqlite") == "CREATE TABLE users (id int);\nCREATE TABLE posts (id int);\n"
    listed = load_env(config, "list").settings.schema_source
    assert listed is not None and listed.sql("sqlite").startswith("CREATE TABLE extra (id int);\nCREATE TABLE users")
    hcl = load_env(config, "hcl").settings.schema_source
    assert hcl is not None
    with pytest.raises(AtlembicError, match='^atlas.hcl: env "hcl": src: file://schema.hcl: only SQL schema files'):
        hcl.sql("sqlite")
    missing = load_env(config, "missing").settings.schema_source
    assert missing is not None
    with pytest.raises(AtlembicError, match=f"missing.sql: {tmp_path / 'missing.sql'} does not exist$"):
        missing.sql("sqlite")


def test_composite_schema_puts_each_part_in_its_schema(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "b.sql").write_text("CREATE TABLE b (id int);\n")
    config = write(tmp_path, '''
        data "composite_schema" "app" {
          schema "public" {
            url = "file://a.sql"
          }
          schema "billing" {
            url = "file://b.sql"
          }
        }
        env "x" {
          src = data.composite_schema.app.url
        }
    ''')
    source = load_env(config, "x").settings.schema_source
    assert source is not None
    assert source.sql("postgresql") == (
        "CREATE SCHEMA IF NOT EXISTS public;\nSET search_path TO public;\nCREATE TABLE a (id int);\n"
        "RESET search_path;\nCREATE SCHEMA IF NOT EXISTS billing;\nSET search_path TO billing;\n"
        "CREATE TABLE b (id int);\nRESET search_path;\n")
    with pytest.raises(AtlembicError, match="SQLite has one schema per database: give one schema block, not 2"):
        source.sql("sqlite")


PRINT_DDL = '''
import sys
print("-- atlas:pos users[type=table] models.py:1")
print("CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(30), PRIMARY KEY (id));")
if len(sys.argv) > 1:
    print("half-way", file=sys.stderr)
    print("ModuleNotFoundError: No module named 'app'", file=sys.stderr)
    sys.exit(int(sys.argv[1]))
'''


def test_external_schema_runs_the_program_in_the_project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    (tmp_path / "load_models.py").write_text(PRINT_DDL)
    config = write(tmp_path, f'''
        data "external_schema" "script" {{
          program = ["{sys.executable}", "load_models.py"]
        }}
        data "external_schema" "failing" {{
          program = ["{sys.executable}", "load_models.py", "3"]
        }}
        data "external_schema" "absent" {{
          program = ["no-such-program-atlembic"]
        }}
        env "script" {{
          src = data.external_schema.script.url
        }}
        env "failing" {{
          src = data.external_schema.failing.url
        }}
        env "absent" {{
          src = data.external_schema.absent.url
        }}
    ''')
    monkeypatch.chdir("/")  # the program runs in atlas.hcl's directory whatever the working directory
    source = load_env(config, "script").settings.schema_source
    assert source is not None and source.sql("sqlite").startswith("-- atlas:pos users[type=table]")
    failing = load_env(config, "failing").settings.schema_source
    assert failing is not None
    with pytest.raises(AtlembicError) as info:
        failing.sql("sqlite")
    assert str(info.value) == (f'atlas.hcl: data "external_schema" "failing": program {sys.executable!r} exited '
                               "with code 3: ModuleNotFoundError: No module named 'app'")
    absent = load_env(config, "absent").settings.schema_source
    assert absent is not None
    with pytest.raises(AtlembicError, match="program 'no-such-program-atlembic' not found"):
        absent.sql("sqlite")


# -- through the CLI, on SQLite (PostgreSQL and MariaDB: tests/test_atlas_urls.py) ----------------------------


def sqlalchemy_guide_project(tmp_path: Path, dialect: str, dev: str, url: str, *, script: bool = False,
                             provider: str = "atlembic") -> Path:
    """A project as Atlas's SQLAlchemy guide lays it out: models/, atlas.hcl with an external_schema
    (standalone mode: the `provider` command, atlembic's or the upstream atlas-provider-sqlalchemy; script
    mode: a load_models.py printing the DDL)."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "models.py").write_text(MODELS)
    if script:
        (project / "load_models.py").write_text(textwrap.dedent(f'''
            import sys
            sys.path.insert(0, "models")
            from atlembic.commands import provider
            from pathlib import Path
            print(provider([Path("models")], "{dialect}"), end="")
        '''))
        program = f'"{sys.executable}", "load_models.py"'
    elif provider == "upstream":
        command = Path(sys.executable).parent / "atlas-provider-sqlalchemy"
        program = f'"{command}", "--path", "./models", "--dialect", "{dialect}"'
    else:
        program = f'"atlembic", "provider", "--path", "./models", "--dialect", "{dialect}"'
    (project / "atlas.hcl").write_text(textwrap.dedent(f'''
        data "external_schema" "sqlalchemy" {{
          program = [{program}]
        }}

        env "sqlalchemy" {{
          src = data.external_schema.sqlalchemy.url
          dev = "{dev}"
          url = "{url}"
          migration {{
            dir = "file://migrations"
          }}
          format {{
            migrate {{
              diff = "{{{{ sql . \\"  \\" }}}}"
            }}
          }}
        }}
    '''))
    return project


def guide_walkthrough(project: Path) -> list[Path]:
    """diff, diff again (nothing), apply, status, lint: as the guide runs them, in this process (the executable
    itself: test_bad_atlas_hcl_is_one_failed_line_through_the_cli); returns the written files."""
    run_cli(project, "migrate", "diff", "--env", "sqlalchemy", "initial")
    files = sorted((project / "migrations").glob("*_initial.sql"))
    assert len(files) == 1 and (project / "migrations" / "atlas.sum").is_file()
    again = run_cli(project, "migrate", "diff", "--env", "sqlalchemy")
    assert "The migration directory is synced with the desired state" in again.stdout
    applied = run_cli(project, "migrate", "apply", "--env", "sqlalchemy")
    assert f"Migrating to version {files[0].name.split('_')[0]} (1 migration in total):" in applied.stdout
    status = run_cli(project, "migrate", "status", "--env", "sqlalchemy")
    assert "Migration Status: OK" in status.stdout and "-- Pending Files:   0" in status.stdout
    run_cli(project, "migrate", "lint", "--env", "sqlalchemy", "--latest", "1")
    again_apply = run_cli(project, "migrate", "apply", "--env", "sqlalchemy")
    assert "No migration files to execute" in again_apply.stdout
    return files


@pytest.mark.slow
@pytest.mark.parametrize(("script", "provider"), [(False, "atlembic"), (True, "atlembic"), (False, "upstream")],
                         ids=["standalone", "script", "upstream-provider"])
def test_guide_walkthrough_sqlite(tmp_path: Path, script: bool, provider: str) -> None:
    if provider == "upstream":
        require_module("atlas_provider_sqlalchemy", "the upstream provider is a test dependency")
    project = sqlalchemy_guide_project(tmp_path, "sqlite", "sqlite://dev?mode=memory", "sqlite://app.db",
                                       script=script, provider=provider)
    [written] = guide_walkthrough(project)
    assert written.read_text() == (
        '-- Create "users" table\nCREATE TABLE users (\n  id INTEGER NOT NULL,\n  name VARCHAR(30) NOT NULL,\n'
        '  PRIMARY KEY (id)\n);\n-- Create "posts" table\nCREATE TABLE posts (\n  id INTEGER NOT NULL,\n'
        "  user_id INTEGER NOT NULL,\n  PRIMARY KEY (id),\n  FOREIGN KEY(user_id) REFERENCES users (id)\n);\n")
    import sqlite3

    with sqlite3.connect(project / "app.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"users", "posts", "atlas_schema_revisions"}


@pytest.mark.slow
def test_bad_atlas_hcl_is_one_failed_line_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "atlas.hcl").write_text('env "x" {\n  src = [\n}\n')
    proc = atlembic(tmp_path, "migrate", "diff", "--env", "x", check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()]
    assert proc.stdout.startswith(f"FAILED: {tmp_path / 'atlas.hcl'}:3: syntax error: ")
    (tmp_path / "atlas.hcl").write_text('env "x" {\n  dev = "docker://oracle/21/dev"\n}\n')
    proc = run_cli(tmp_path, "migrate", "lint", "--env", "x", check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith('FAILED: docker://oracle/21/dev: unsupported docker image "oracle"'), proc.stdout
