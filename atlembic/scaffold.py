"""``atlembic init DIR``: a new project laid out the way Alembic's ``init`` lays one out, plus atlembic's
parts. DIR holds env.py (Alembic's script directory, so the project also still works with Alembic);
alembic.ini, models.py and the Atlas migration directory go next to the config file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir

__all__ = ["ScaffoldStep", "init_project"]


@dataclass(frozen=True)
class ScaffoldStep:
    action: str  # "Creating directory" | "Generating" | "skipping"
    path: Path


_INI = """\
# A single-database configuration for atlembic (Alembic-compatible).

[alembic]
# Alembic's script directory: atlembic runs its env.py (offline, never connecting) for target_metadata.
script_location = {script_location}

# Put the project directory on sys.path, so env.py can import the models.
prepend_sys_path = .
path_separator = os

# The target database of upgrade/downgrade/current/status. Passwords are never printed.
sqlalchemy.url = sqlite:///%(here)s/app.db


[atlembic]
# The Atlas-format migration directory (SQL files + atlas.sum).
migrations_dir = %(here)s/migrations

# Dev database that replays the directory. Empty: in-memory SQLite for a SQLite target, an ephemeral
# local server for PostgreSQL.
# dev_url =

# Import the models directly instead of running env.py.
# metadata = models:Base.metadata


[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

_ENV_PY = '''\
"""Alembic's generic env.py, pointed at models.Base.metadata.

atlembic runs this file in Alembic's offline mode to read target_metadata; it never connects.
"""

from logging.config import fileConfig

from sqlalchemy import engine_from_config, pool

from alembic import context
from models import Base

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def include_name(name: str, type_: str, parent_names: dict) -> bool:
    """atlembic's revisions table (Atlas's atlas_schema_revisions) is not in the models: keep Alembic's
    autogenerate and `alembic check` from proposing to drop it."""
    return not (type_ == "table" and name == "atlas_schema_revisions")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

_MODELS_PY = '''\
"""The project's SQLAlchemy models: atlembic plans migrations from Base.metadata."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Add your models, then run `atlembic revision --autogenerate -m "init"`. For example:
#
# from sqlalchemy import String
# from sqlalchemy.orm import Mapped, mapped_column
#
# class User(Base):
#     __tablename__ = "user_account"
#
#     id: Mapped[int] = mapped_column(primary_key=True)
#     name: Mapped[str] = mapped_column(String(30))
'''

_README = """\
atlembic project directory (Alembic's script_location).

env.py gives atlembic the models' MetaData. Migrations themselves are Atlas-format SQL files in the
migrations directory configured in alembic.ini ([atlembic] migrations_dir).
"""


def init_project(directory: str | Path, config_file: str | Path | None = None) -> list[ScaffoldStep]:
    """Create DIR (env.py, README), then alembic.ini, models.py and migrations/ beside the ini file.

    DIR must be missing or empty (Alembic's rule); existing ini/models files are left alone.
    """
    script_dir = Path(directory).expanduser().absolute()
    if script_dir.exists() and (not script_dir.is_dir() or any(script_dir.iterdir())):
        raise AtlembicError(f"Directory {directory} already exists and is not empty")
    ini = Path(config_file or "alembic.ini").expanduser().absolute()
    here = ini.parent
    steps: list[ScaffoldStep] = []

    def generate(path: Path, content: str) -> None:
        if path.exists():
            steps.append(ScaffoldStep("skipping", path))
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        steps.append(ScaffoldStep("Generating", path))

    if not script_dir.exists():
        script_dir.mkdir(parents=True)
        steps.append(ScaffoldStep("Creating directory", script_dir))
    generate(script_dir / "env.py", _ENV_PY)
    generate(script_dir / "README", _README)
    generate(here / "models.py", _MODELS_PY)
    migrations = MigrationDir(here / "migrations")
    if not migrations.path.exists():
        migrations.path.mkdir(parents=True)
        steps.append(ScaffoldStep("Creating directory", migrations.path))
    if migrations.sum_text() is None and not migrations.files():
        migrations.write_sum()
        steps.append(ScaffoldStep("Generating", migrations.sum_path))
    try:
        relative = script_dir.relative_to(here)
        location = f"%(here)s/{relative.as_posix()}"
    except ValueError:
        location = str(script_dir).replace("%", "%%")
    generate(ini, _INI.format(script_location=location))
    return steps
