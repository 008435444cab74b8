"""The pytest plugin shipped with atlembic (entry point ``pytest11``: installing atlembic is enough).

Off unless asked: loading it adds four options, pytest-alembic's ini options (`atlembic.pytest_plugin.selection`)
and the `atlembic_runner` fixture, and imports nothing but pytest, so a run without ``--atlembic`` collects and
runs exactly what it would without the plugin.
``pytest --atlembic`` adds the built-in tests (`atlembic.pytest_plugin.checks`) as items of the project's
alembic.ini (``alembic.ini::test_upgrade``), as pytest-alembic adds its own to ``tests/conftest.py``. Every
database they and the fixture use is a clean one made for the test (`atlembic.pytest_plugin.session`); the
database in ``sqlalchemy.url`` is never opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the heavy parts load only when a test needs them
    from atlembic.pytest_plugin.runner import MigrationRunner
    from atlembic.pytest_plugin.session import PluginSession

__all__ = ["atlembic_runner"]

_SESSION = pytest.StashKey["PluginSession"]()
_SELECTED = pytest.StashKey[list[str]]()  # the built-in tests to collect (atlembic.pytest_plugin.selection)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("atlembic", "atlembic migration tests")
    group.addoption(
        "--atlembic", action="store_true", default=False,
        help="collect atlembic's built-in migration tests (test_single_head, test_upgrade, "
             "test_model_definitions_match_ddl, test_up_down_consistency, test_lint) as items of alembic.ini")
    group.addoption(
        "--atlembic-config", metavar="PATH", default=None,
        help="alembic.ini of the project the built-in tests and the atlembic_runner fixture use "
             "(default: alembic.ini in the rootdir, else $ATLEMBIC_CONFIG)")
    group.addoption(
        "--atlembic-url", metavar="URL", default=None,
        help="database server to test on: a clean scratch database per test (or a SQLite file, absent or "
             "empty, used in place) instead of the embedded dev database; never sqlalchemy.url")
    group.addoption(
        "--atlembic-exclude", metavar="NAMES", default=None,
        help="built-in tests not to collect, separated by commas (as pytest-alembic's --alembic-exclude; "
             "overrides the pytest_alembic_exclude ini option)")
    # pytest-alembic's ini options, so its configuration moves over unchanged (atlembic.pytest_plugin.selection)
    parser.addini("pytest_alembic_include", "built-in tests to collect (the others are not), separated by commas",
                  default="")
    parser.addini("pytest_alembic_exclude", "built-in tests not to collect, separated by commas", default="")
    parser.addini("pytest_alembic_include_experimental",
                  "pytest-alembic's experimental tests to collect (downgrade_leaves_no_trace is atlembic's "
                  "test_up_down_consistency)", default="")
    parser.addini("pytest_alembic_enabled", "false: --atlembic collects no built-in test", type="bool",
                  default=True)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("atlembic"):
        return
    config.addinivalue_line("markers", "atlembic: atlembic's built-in migration tests (--atlembic)")
    config.addinivalue_line("markers", "alembic: the built-in migration tests, as pytest-alembic marks its own")
    from atlembic.errors import AtlembicError
    from atlembic.pytest_plugin.checks import CHECKS
    from atlembic.pytest_plugin.selection import select

    try:
        _session(config).check_options()
        exclude = config.getoption("atlembic_exclude")
        chosen = select(list(CHECKS), str(config.getini("pytest_alembic_include")),
                        str(config.getini("pytest_alembic_exclude") if exclude is None else exclude),
                        str(config.getini("pytest_alembic_include_experimental")))
    except AtlembicError as exc:  # a bad option is refused before anything is collected
        raise pytest.UsageError(f"FAILED: {exc}") from None
    for warning in chosen.warnings:
        config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
    config.stash[_SELECTED] = chosen.names if config.getini("pytest_alembic_enabled") else []


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The config file, when collection visits it (``pytest --atlembic alembic.ini::test_lint``)."""
    config = parent.config
    if not config.getoption("atlembic") or file_path != _session(config).config_file:
        return None
    return BuiltinTests.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: the built-in tests are selected like any other
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The built-in tests when collection did not reach the config file (testpaths = tests, say)."""
    if config.getoption("atlembic") and config.stash[_SELECTED] and \
            not any(isinstance(item, BuiltinTest) for item in items):
        collector = BuiltinTests.from_parent(session, path=_session(config).config_file)
        items[:0] = collector.collect()


class BuiltinTests(pytest.File):
    """The project's config file, whose items are the built-in tests."""

    def collect(self) -> Iterator[pytest.Item]:
        for name in self.config.stash[_SELECTED]:
            item = BuiltinTest.from_parent(self, name=name)
            item.add_marker("atlembic")
            item.add_marker("alembic")
            yield item


class BuiltinTest(pytest.Item):
    """One built-in test; its failure is reported as the lines atlembic prints, not a traceback into it."""

    def runtest(self) -> None:
        from atlembic.pytest_plugin import checks

        checks.run(self.name, _session(self.config))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from atlembic.pytest_plugin.checks import CheckFailed

        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[atlembic] {self.name}"


@pytest.fixture
def atlembic_runner(request: pytest.FixtureRequest) -> Iterator[MigrationRunner]:
    """pytest-alembic's ``alembic_runner`` on a clean test database (the embedded dev database of the
    project's dialect, or a scratch database on ``--atlembic-url``): ``migrate_up_to(v)``,
    ``migrate_up_before(v)``, ``migrate_up_one()``, ``migrate_down_to(v)``, ``migrate_down_one()``,
    ``insert_into(table, rows)``, ``engine``, ``history``, ``current``."""
    from atlembic.errors import AtlembicError
    from atlembic.pytest_plugin.runner import MigrationRunner

    with _session(request.config).test_database() as settings:
        try:
            runner = MigrationRunner(settings)
        except AtlembicError as exc:  # the directory is unusable: say so in atlembic's line
            raise pytest.fail.Exception(f"FAILED: {exc}", pytrace=False) from None
        try:
            yield runner
        finally:
            runner.engine.dispose()


def _session(config: pytest.Config) -> PluginSession:
    """The run's one `PluginSession` (its dev database started on first use, closed at the end)."""
    if _SESSION not in config.stash:
        from atlembic.pytest_plugin.session import PluginSession

        session = PluginSession(config.getoption("atlembic_config"), config.getoption("atlembic_url"),
                                config.rootpath)
        config.stash[_SESSION] = session
        config.add_cleanup(session.close)
    return config.stash[_SESSION]
