"""The built-in tests of ``pytest --atlembic``, pytest-alembic's on atlembic's commands.

Each but `single_head` runs with the project's settings aimed at a clean test database
(`PluginSession.test_database`); each fails with `CheckFailed`: the lines atlembic would print (``FAILED:
...``, or lint's findings).
"""

from __future__ import annotations

from collections.abc import Callable

from atlembic import commands
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from atlembic.pytest_plugin.runner import BASE, MigrationRunner
from atlembic.pytest_plugin.session import PluginSession

__all__ = ["CHECKS", "CheckFailed", "run"]


class CheckFailed(Exception):
    """A built-in test failed; ``str()`` is its report."""


def single_head(session: PluginSession) -> None:
    """The directory is one line of files: no two files share a version, atlas.sum lists them in the order
    they sort (a file merged in below the latest one is out of order), and atlas.sum matches the files. No
    database is needed."""
    directory = session.settings.migration_dir()
    seen: dict[str, str] = {}
    for file in directory.files():
        if file.version in seen:
            raise AtlembicError(f"migration files {seen[file.version]} and {file.name} have the same version "
                                f"{file.version}: rename one after the latest version, then run `atlembic hash`")
        seen[file.version] = file.name
    listed = _names_in_sum(directory)
    for earlier, name in zip(listed, listed[1:], strict=False):
        if name < earlier:
            raise AtlembicError(
                f"migration file {name} was added out of order: its version sorts before {earlier}, which "
                f"atlas.sum lists before it; rename it after the latest version, then run `atlembic hash`")
    directory.check_sum()


def _names_in_sum(directory: MigrationDir) -> list[str]:
    """The file names of atlas.sum's rows, in the order it lists them (whether or not its hashes match)."""
    text = directory.sum_text() or ""
    return [line.partition("h1:")[0].strip() for line in text.splitlines()[1:] if "h1:" in line]


def upgrade(session: PluginSession) -> None:
    """Every file applies, from an empty database to the last one, as `atlembic upgrade head` applies it."""
    with session.test_database() as settings:
        MigrationRunner(settings).migrate_up_to("head")


def model_definitions_match_ddl(session: PluginSession) -> None:
    """The models and the directory agree: `atlembic check` plans nothing."""
    with session.test_database() as settings:
        outcome = commands.check(settings)
    detected = outcome.changes_detected()
    if detected is not None:
        raise AtlembicError(detected)


def up_down_consistency(session: PluginSession) -> None:
    """Each file, once applied, is downgraded (atlembic's planned downgrade), leaves the database equal to
    the directory before it, and applies again."""
    with session.test_database() as settings:
        runner = MigrationRunner(settings)
        before = BASE
        for version in runner.history:
            _step(f"applying {version}", runner.migrate_up_to, version)
            _step(f"downgrading {version} to {before}", runner.migrate_down_to, before)
            changes = commands.drift(settings).changes
            if changes:
                raise AtlembicError(f"downgrading {version} to {before} left the database unlike the migration "
                                    f"directory at {before}: " + "; ".join(changes))
            _step(f"applying {version} again after downgrading it", runner.migrate_up_to, version)
            before = version


def _step(what: str, move: Callable[[str], object], version: str) -> None:
    try:
        move(version)
    except AtlembicError as exc:
        raise AtlembicError(f"{what}: {exc}") from None


def lint(session: PluginSession) -> None:
    """No erroring lint finding (``[atlembic] lint_error``, destructive by default) in any file: what
    `atlembic lint` prints for them, and its summary."""
    from atlembic.lint import lint_directory, summary

    with session.test_database() as settings:
        result = lint_directory(settings)
    if result.errors:
        findings = [f"{f.path}:{f.line}: {f.code}: {f.message}" for f in result.errors]
        raise CheckFailed("\n".join([*findings, summary(result)]))


CHECKS: dict[str, Callable[[PluginSession], None]] = {
    "test_single_head": single_head,
    "test_upgrade": upgrade,
    "test_model_definitions_match_ddl": model_definitions_match_ddl,
    "test_up_down_consistency": up_down_consistency,
    "test_lint": lint,
}


def run(name: str, session: PluginSession) -> None:
    """Run the built-in test `name`; atlembic's error is its ``FAILED:`` line."""
    __tracebackhide__ = True
    try:
        CHECKS[name](session)
    except AtlembicError as exc:
        raise CheckFailed(f"FAILED: {exc}") from None
