"""The planning pipeline: desired state from the models, current state from the directory, both
normalized by the same dev database; their diff planned as SQL and verified before anyone sees it.

    models ──provider──▶ DDL ──dev DB──▶ inspect ──▶ desired      (desired.py; snapshot.py skips the import)
    directory ──replay on dev DB──▶ inspect ──▶ current            (current.py)
    diff(current, desired) ──plan──▶ statements                    (plan.py)
    directory + statements ──replay on dev DB──▶ must reach desired (verify.py)
"""

from atlembic.autogenerate.current import replay_schema
from atlembic.autogenerate.desired import (
    desired_schema,
    desired_schema_from_sql,
    desired_schema_keyed,
    schema_file_statements,
)
from atlembic.autogenerate.plan import Plan, plan_changes
from atlembic.autogenerate.verify import verify_plan

__all__ = ["Plan", "desired_schema", "desired_schema_from_sql", "desired_schema_keyed", "plan_changes", "replay_schema",
           "schema_file_statements", "verify_plan"]
