"""Flask-Migrate projects as ``flask db init`` makes them: alembic.ini and env.py inside ``migrations/``, no
script_location, and an env.py (Flask-Migrate's own template) that takes the URL, the engine and the models
from ``flask.current_app``. atlembic finds that layout from the project root, loads the app as ``flask db``
does (``FLASK_APP`` or ``[atlembic] flask_app``), runs env.py inside its application context, and still
connects to nothing but the dev database: the app's own database is a loopback port that records every
connection (PostgreSQL) or a file that must never appear (SQLite).

The histories are made by Flask-Migrate itself (``flask db migrate`` + ``flask db upgrade`` on a setup
database of the test's), in a process of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.pg_fixture import fresh_pg_url, require_module
from tests.test_cli import REPO
from tests.test_envpy import Listener, listener  # noqa: F401  (the fixture, used by name)

pytestmark = pytest.mark.slow  # Flask-Migrate and atlembic in processes of their own

APP = """\
import os

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

# Flask-Migrate's documented naming convention: batch mode (SQLite) cannot create an unnamed constraint.
db = SQLAlchemy(metadata=sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}))
migrate = Migrate()


class Customer(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(80), nullable=False)
{extra}

class Order(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    customer_id = sa.Column(sa.ForeignKey("customer.id"), nullable=False, index=True)
    total = sa.Column(sa.Numeric(10, 2), nullable=False, server_default="0")


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["SHOP_DATABASE_URL"]
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    return app
"""
EMAIL = '    email = sa.Column(sa.String(120), unique=True)\n'
NICKNAME = EMAIL + '    nickname = sa.Column(sa.String(40))\n'


def write_app(root: Path, extra: str) -> None:
    (root / "shop.py").write_text(APP.replace("{extra}", extra))


def flask_db(root: Path, *args: str) -> None:
    """Flask-Migrate's own command on the setup database (never atlembic's business)."""
    env = {**os.environ, "SHOP_DATABASE_URL": f"sqlite:///{root / 'setup.db'}", "FLASK_APP": "shop:create_app"}
    proc = subprocess.run([sys.executable, "-m", "flask", "db", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shop app with a two-revision Flask-Migrate history (customers and orders; then an email column)."""
    require_module("flask_migrate", "Flask-Migrate is in the test extra")
    root = tmp_path_factory.mktemp("flask") / "shop"
    root.mkdir()
    write_app(root, "")
    flask_db(root, "init")
    flask_db(root, "migrate", "-m", "customers and orders")
    flask_db(root, "upgrade")
    write_app(root, EMAIL)
    flask_db(root, "migrate", "-m", "email")
    flask_db(root, "upgrade")  # the history works under Flask-Migrate itself
    (root / "setup.db").unlink()
    return root


@pytest.fixture
def project(history: Path, tmp_path: Path) -> Path:
    """This test's own copy of the project."""
    return Path(shutil.copytree(history, tmp_path / "shop", ignore=shutil.ignore_patterns("__pycache__")))


def atlembic(root: Path, *args: str, app_url: str, flask_app: str | None = "shop:create_app"
             ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLASK_APP"}
    env.update({"PYTHONPATH": str(REPO), "SHOP_DATABASE_URL": app_url})
    if flask_app is not None:
        env["FLASK_APP"] = flask_app
    return subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _through_the_workflow(root: Path, app_url: str, target_url: str, dev: tuple[str, ...]) -> None:
    """convert, check, a model edit planned and applied, check again: from the project root."""
    out = ok(atlembic(root, *dev, "convert", app_url=app_url))
    atlas = root / "migrations" / "atlas"
    baseline = sorted(atlas.glob("*.sql"))
    assert baseline, out
    assert "CREATE TABLE customer" in baseline[-1].read_text() and "email" in baseline[-1].read_text()
    assert (atlas / "atlas.sum").is_file()
    ok(atlembic(root, *dev, "check", app_url=app_url))

    write_app(root, NICKNAME)
    ok(atlembic(root, *dev, "revision", "--autogenerate", "-m", "nickname", app_url=app_url))
    written = sorted(atlas.glob("*_nickname.sql"))
    assert len(written) == 1 and "nickname" in written[0].read_text()
    ok(atlembic(root, *dev, "--url", target_url, "upgrade", "head", app_url=app_url))
    ok(atlembic(root, *dev, "check", app_url=app_url))
    current = ok(atlembic(root, *dev, "--url", target_url, "current", app_url=app_url))
    assert written[0].name.split("_")[0] in current


def test_flask_migrate_project_on_sqlite(project: Path, tmp_path: Path) -> None:
    """The app's own database (a SQLite file) is never created; the target gets the nickname column."""
    app_db = tmp_path / "production.db"
    target = tmp_path / "target.db"
    _through_the_workflow(project, f"sqlite:///{app_db}", f"sqlite:///{target}", ())
    assert not app_db.exists(), "the app's own database was created"
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{target}")
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("customer")}
    finally:
        engine.dispose()
    assert {"id", "name", "email", "nickname"} <= columns


def test_flask_migrate_project_on_postgresql(project: Path, pg_server, listener: Listener) -> None:  # noqa: F811
    """The app's engine (Flask-SQLAlchemy's, aimed at a loopback port that records connections) is
    redirected to the dev database during convert and never opened by anything."""
    app_url = f"postgresql+psycopg://shop:secret@127.0.0.1:{listener.port}/production"
    _through_the_workflow(project, app_url, fresh_pg_url(pg_server), ("--dev-url", fresh_pg_url(pg_server)))
    assert listener.accepted == [], "something connected to the app's own database"


def test_flask_app_from_the_ini(project: Path, tmp_path: Path) -> None:
    """``[atlembic] flask_app`` in Flask-Migrate's alembic.ini, no FLASK_APP: the app is loaded from there."""
    ini = project / "migrations" / "alembic.ini"
    ini.write_text(ini.read_text() + "\n[atlembic]\nflask_app = shop:create_app()\n")
    app_url = f"sqlite:///{tmp_path / 'production.db'}"
    ok(atlembic(project, "convert", app_url=app_url, flask_app=None))
    ok(atlembic(project, "check", app_url=app_url, flask_app=None))
    assert not (tmp_path / "production.db").exists()


def test_no_flask_app_is_one_line(project: Path, tmp_path: Path) -> None:
    """No FLASK_APP and no app.py / wsgi.py: one line naming env.py and what to set; nothing written."""
    proc = atlembic(project, "convert", app_url=f"sqlite:///{tmp_path / 'production.db'}", flask_app=None)
    assert proc.returncode == 255, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if line.startswith("FAILED")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert str(project / "migrations" / "env.py") in lines[0] and "FLASK_APP=" in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (project / "migrations" / "atlas").exists()


def test_an_app_that_fails_to_load_names_the_app(project: Path, tmp_path: Path) -> None:
    """A factory that raises: one line naming where the app came from and its error."""
    (project / "broken.py").write_text(textwrap.dedent("""\
        def create_app():
            raise RuntimeError("SECRET_KEY is not set")
        """))
    proc = atlembic(project, "check", app_url=f"sqlite:///{tmp_path / 'production.db'}",
                    flask_app="broken:create_app")
    assert proc.returncode == 255, proc.stdout + proc.stderr
    assert "FLASK_APP=broken:create_app" in proc.stdout and "SECRET_KEY is not set" in proc.stdout, proc.stdout
