"""Generated benchmark workloads, deterministic from a seed.

A workload is a schema of N tables (12 columns each: defaults, 2 indexes, 1-2 foreign keys to earlier
tables, a check) written as a models module, and a history of H migration files that builds it up,
written twice: as an Atlas-format directory for atlembic (per dialect, with atlas.sum) and as Alembic
revisions (``op.create_table`` / ``op.create_index``, as Alembic's autogenerate renders them). Both
tools read the same ``alembic.ini``: ``script_location`` for Alembic, ``[atlembic] migrations_dir``
for atlembic.

    python bench/workload.py --tables 100 --files 100 --dialect sqlite /tmp/project
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
CHANGED_COLUMN = "bench_extra"  # the one-column change of the `revision --autogenerate` benchmark


@dataclass(frozen=True)
class Workload:
    tables: int
    files: int
    seed: int = 20260101

    @property
    def label(self) -> str:
        return f"{self.tables} tables / {self.files} files"


def _table_name(i: int) -> str:
    return f"t{i:04d}"


def _spec(i: int, rng: random.Random) -> dict:
    """What table i holds: its foreign-key targets (earlier tables) and a few varying details."""
    refs = []
    if i > 0:
        refs.append(rng.randrange(i))
        if i > 1 and rng.random() < 0.5:
            refs.append(rng.randrange(i))
    return {"refs": refs, "name_len": rng.choice((64, 100, 120)), "scale": rng.choice((2, 4))}


def models_source(workload: Workload, *, changed: bool = False) -> str:
    """Python source of the models (SQLAlchemy Core tables on one MetaData, as a user would write)."""
    rng = random.Random(workload.seed)
    out = [
        '"""Generated benchmark models (bench/workload.py); do not edit."""',
        "import sqlalchemy as sa",
        "",
        "metadata = sa.MetaData()",
        "",
    ]
    changed_table = workload.tables // 2
    for i in range(workload.tables):
        spec = _spec(i, rng)
        name = _table_name(i)
        refs = spec["refs"] + [None] * (2 - len(spec["refs"]))
        lines = [
            f"{name} = sa.Table(",
            f"    {name!r}, metadata,",
            "    sa.Column('id', sa.Integer, primary_key=True),",
            f"    sa.Column('name', sa.String({spec['name_len']}), nullable=False),",
            "    sa.Column('code', sa.String(32), nullable=False, server_default='new'),",
            f"    sa.Column('amount', sa.Numeric(12, {spec['scale']}), server_default='0'),",
            "    sa.Column('qty', sa.Integer, nullable=False, server_default='0'),",
            "    sa.Column('active', sa.Boolean, nullable=False, server_default=sa.text('true')),",
            "    sa.Column('created_at', sa.DateTime, server_default=sa.text('CURRENT_TIMESTAMP')),",
            "    sa.Column('note', sa.Text),",
            "    sa.Column('score', sa.Float),",
            "    sa.Column('flag', sa.SmallInteger),",
        ]
        for slot, ref in zip("ab", refs, strict=True):
            if ref is None:
                lines.append(f"    sa.Column('ref_{slot}_id', sa.Integer),")
            else:
                lines.append(f"    sa.Column('ref_{slot}_id', sa.Integer, "
                             f"sa.ForeignKey('{_table_name(ref)}.id', name='fk_{name}_{slot}')),")
        if changed and i == changed_table:
            lines.append(f"    sa.Column({CHANGED_COLUMN!r}, sa.Integer),")
        lines += [
            f"    sa.CheckConstraint('qty >= 0', name='ck_{name}_qty'),",
            f"    sa.Index('ix_{name}_name', 'name'),",
            f"    sa.Index('ix_{name}_code_qty', 'code', 'qty'),",
            ")",
            "",
        ]
        out += lines
    return "\n".join(out) + "\n"


def load_metadata(source: str) -> sa.MetaData:
    namespace: dict = {}
    exec(compile(source, "<bench models>", "exec"), namespace)
    return namespace["metadata"]


def _chunks(n: int, parts: int) -> list[range]:
    """`n` items in `parts` contiguous, nearly equal chunks (every chunk non-empty when parts <= n)."""
    parts = max(1, min(parts, n))
    bounds = [round(k * n / parts) for k in range(parts + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


def _versions(count: int) -> list[str]:
    start = datetime(2025, 1, 1)
    return [(start + timedelta(minutes=k)).strftime("%Y%m%d%H%M%S") for k in range(count)]


def table_ddl(table: sa.Table, dialect: str) -> list[tuple[str, str]]:
    """``(comment, sql)`` creating one table and its indexes, as atlembic's planner comments them."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    from atlembic.engines import engine_for

    engine_dialect = engine_for(dialect).mock_engine().dialect
    out = [(f'create "{table.name}" table', str(CreateTable(table).compile(dialect=engine_dialect)).strip())]
    for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
        out.append((f'create index "{index.name}" to table: "{table.name}"',
                    str(CreateIndex(index).compile(dialect=engine_dialect)).strip()))
    return out


def write_atlas_history(workload: Workload, metadata: sa.MetaData, dialect: str, directory: Path) -> list[Path]:
    """The Atlas-format migration directory (files + atlas.sum) that builds the schema up."""
    from atlembic.migrate.directory import MigrationDir, render_migration

    directory.mkdir(parents=True, exist_ok=True)
    tables = list(metadata.tables.values())
    paths = []
    for version, chunk in zip(_versions(workload.files), _chunks(len(tables), workload.files), strict=False):
        changes = [c for i in chunk for c in table_ddl(tables[i], dialect)]
        path = directory / f"{version}_create_{tables[chunk[0]].name}.sql"
        path.write_text(render_migration(changes))
        paths.append(path)
    MigrationDir(directory).write_sum()
    return paths


def write_alembic_history(workload: Workload, metadata: sa.MetaData, versions_dir: Path) -> list[Path]:
    """The same history as Alembic revisions, rendered by Alembic itself."""
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    versions_dir.mkdir(parents=True, exist_ok=True)
    tables = list(metadata.tables.values())
    paths = []
    previous = None
    for k, chunk in enumerate(_chunks(len(tables), workload.files)):
        upgrade_ops = []
        for i in chunk:
            upgrade_ops.append(ops.CreateTableOp.from_table(tables[i]))
            upgrade_ops += [ops.CreateIndexOp.from_index(ix) for ix in sorted(tables[i].indexes, key=lambda x: x.name)]
        body = render_python_code(ops.UpgradeOps(ops=upgrade_ops))
        rev = f"r{k:04d}"
        path = versions_dir / f"{rev}_create_{tables[chunk[0]].name}.py"
        path.write_text(
            f'"""create {tables[chunk[0]].name}"""\n'
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {rev!r}\ndown_revision = {previous!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n{body}\n\n\ndef downgrade():\n    pass\n"
        )
        paths.append(path)
        previous = rev
    return paths


ALEMBIC_INI = """[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
path_separator = os
sqlalchemy.url = {url}

[atlembic]
migrations_dir = %(here)s/migrations
"""

ENV_PY = '''"""Alembic's generic env.py, trimmed: online mode against sqlalchemy.url, the models' metadata."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from models import metadata as target_metadata

config = context.config


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''"""${message}"""
import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''


def write_project(workload: Workload, dialect: str, root: Path, url: str) -> Path:
    """A project both tools run in: alembic.ini, env.py, models.py, migrations/, alembic/versions/."""
    root.mkdir(parents=True, exist_ok=True)
    source = models_source(workload)
    (root / "models.py").write_text(source)
    (root / "models_changed.py.txt").write_text(models_source(workload, changed=True))
    (root / "alembic.ini").write_text(ALEMBIC_INI.format(url=url.replace("%", "%%")))
    (root / "alembic").mkdir(exist_ok=True)
    (root / "alembic" / "env.py").write_text(ENV_PY)
    (root / "alembic" / "script.py.mako").write_text(SCRIPT_MAKO)
    metadata = load_metadata(source)
    write_atlas_history(workload, metadata, dialect, root / "migrations")
    write_alembic_history(workload, metadata, root / "alembic" / "versions")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=10)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--dialect", default="sqlite", choices=("sqlite", "postgresql", "mysql"))
    parser.add_argument("--url", default="sqlite:///target.db")
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    write_project(Workload(args.tables, args.files), args.dialect, args.root, args.url)
    print(args.root)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
