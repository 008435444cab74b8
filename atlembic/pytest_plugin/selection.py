"""Which built-in tests ``pytest --atlembic`` collects: pytest-alembic's configuration names, so a project's
pytest.ini / pyproject.toml moves over unchanged. ``pytest_alembic_include`` (only these),
``pytest_alembic_exclude`` and ``--atlembic-exclude`` (all but these), ``pytest_alembic_include_experimental``
(pytest-alembic's experimental tests: the one atlembic has built in is included, the other is said in a warning),
each a list of names separated by commas or lines, with or without ``test_``, in pytest-alembic's names or
atlembic's; an unknown name is refused, as pytest-alembic refuses it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from atlembic.errors import AtlembicError

__all__ = ["Selection", "select"]

# pytest-alembic's names of the tests atlembic builds in under another name
_ALIASES = {"single_head_revision": "single_head", "downgrade_leaves_no_trace": "up_down_consistency"}
# pytest-alembic's experimental tests atlembic does not have, and why
_NOT_BUILT_IN = {"all_models_register_on_metadata": "atlembic compares the models it is given (test_model_"
                                                    "definitions_match_ddl); it does not import a package to find more"}


class Selection:
    """The built-in tests to collect, in atlembic's order, and the warnings about the names given."""

    def __init__(self, names: list[str], warnings: list[str]) -> None:
        self.names = names
        self.warnings = warnings


def _names(raw: str) -> list[str]:
    return [name.strip() for name in re.split(r"[,\n]", raw) if name.strip()]


def select(available: Sequence[str], include: str, exclude: str, experimental: str) -> Selection:
    """The tests of `available` (``test_...``) that the option values select; `exclude` is
    ``--atlembic-exclude``, else ``pytest_alembic_exclude``."""
    warnings: list[str] = []

    def resolve(option: str, raw: str, *, experimental_ok: bool = False) -> list[str]:
        found = []
        for name in _names(raw):
            bare = name.removeprefix("test_")
            if experimental_ok and bare in _NOT_BUILT_IN:
                warnings.append(f"{option}: {bare} is not built into atlembic: {_NOT_BUILT_IN[bare]}")
                continue
            test = f"test_{_ALIASES.get(bare, bare)}"
            if test not in available:
                known = ", ".join(t.removeprefix("test_") for t in available)
                raise AtlembicError(f"{option}: unknown built-in test {name!r} (atlembic's: {known})")
            found.append(test)
        return found

    included = resolve("pytest_alembic_include", include) if _names(include) else list(available)
    included += resolve("pytest_alembic_include_experimental", experimental, experimental_ok=True)
    excluded = set(resolve("pytest_alembic_exclude", exclude))
    return Selection([t for t in available if t in included and t not in excluded], warnings)
