"""MariaDB data dirs kept between runs (atlembic.devdb.kept) never change a result.

MariaDB cannot copy a database, so a kept state's own database goes to the one replay that keeps what it
makes of it (the directory's schema); verification and lint replay on fresh databases, as they always
did, and never use up the state. The rest (manifest, sweep, races, limits) is the engine-neutral code
tests/test_cluster_state.py covers on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.devdb.mysql import EphemeralMariaDB
from atlembic.replay import cache as replay_cache
from tests.test_cache import FILES, models, write
from tests.test_cluster_state import MORE, forget_schemas, private_places_for, runs_match_no_cache
from tests.test_cluster_state import run as pg_run


@pytest.fixture(autouse=True)
def private_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mysql_server: EphemeralMariaDB) -> Iterator[Path]:
    yield from private_places_for("ATLEMBIC_MYSQL_TMPDIR", tmp_path, monkeypatch)


def run(files, metadata: sa.MetaData, *, cache: bool = True) -> tuple[str, int]:  # noqa: ANN001
    text, covered = pg_run(files, metadata, cache=cache, dialect="mysql")
    # MariaDB's errors name the database ("Table 'atlembic_dev_1a2b.book' doesn't exist"): a random name.
    return re.sub(r"atlembic_dev_[0-9a-f]+", "atlembic_dev_*", text), covered


def metadata_files() -> list[Path]:
    return sorted(replay_cache.cache_dir().glob("mysql-cluster-*.json"))


@pytest.mark.slow  # every planning case twice, with and without kept servers
def test_runs_plan_as_without_the_cache(tmp_path: Path) -> None:
    assert runs_match_no_cache(tmp_path / "migrations", run) >= 10


def test_a_run_that_adds_one_file_replays_one_file(tmp_path: Path, replayed: list[str]) -> None:
    directory = tmp_path / "migrations"
    files = write(directory, FILES)
    metadata = models()
    assert run(files, metadata) == ("", 0)
    assert replayed == list(FILES)
    assert len(metadata_files()) == 1

    more = write(directory, {**FILES, **MORE})
    metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
    replayed.clear()
    forget_schemas()
    assert run(more, metadata) == ("", len(FILES))
    assert replayed == list(MORE)

    # A plan's verification replays the directory on a fresh database (no copies on MariaDB), and the
    # kept state survives it: the next run starts from it again.
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    replayed.clear()
    forget_schemas()
    text, covered = run(more, metadata)
    assert "depth" in text and covered == len(more)
    assert replayed == [*(f.name for f in more), "99999999999999_planned.sql"]
    assert text == run(more, metadata, cache=False)[0]
    forget_schemas()
    assert run(more, metadata)[1] == len(more)


def test_a_state_database_gone_is_replayed(tmp_path: Path) -> None:
    """A kept data dir whose state database is missing is discarded; the run replays and is right."""
    files = write(tmp_path / "migrations", FILES)
    metadata = models()
    assert run(files, metadata) == ("", 0)
    [meta] = metadata_files()
    record = meta.read_text().replace('"atlembic_dev_', '"atlembic_dev_gone')
    meta.write_text(record)
    forget_schemas()
    assert run(files, metadata) == ("", 0)


def test_replays_that_create_accounts_are_not_kept(tmp_path: Path) -> None:
    files = write(tmp_path / "migrations", {"20250101000000_user.sql": "CREATE USER kept_user;\n", **FILES})
    assert run(files, models()) == ("", 0)
    assert metadata_files() == []
