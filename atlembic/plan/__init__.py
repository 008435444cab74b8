"""Changes -> SQL statements, one planner per dialect (base.py holds what they share); each dialect
module's `Planner` subclass registers itself when this package imports it."""

from atlembic.errors import AtlembicError
from atlembic.plan import mysql, postgresql, sqlite  # noqa: F401  (register the planners)
from atlembic.plan.base import _PLANNERS, Planner


def planner_for(dialect_name: str) -> Planner:
    """The planner of a dialect (SQLAlchemy's name: ``sqlite``, ``postgresql``, ``mysql``)."""
    cls = _PLANNERS.get(dialect_name)
    if cls is None:
        raise AtlembicError(f"no migration planner for dialect {dialect_name!r}")
    return cls()
