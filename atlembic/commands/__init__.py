"""One function per command, in the manner of Alembic's ``command.py``: each wires the stages together and
returns an outcome; printing is the CLI's job. Planning (plan.py), moving a target along the history
(apply.py), reporting on it (report.py), renaming files merged in below the latest version (rebase.py), a
checkpoint of the directory (checkpoint.py), schemas inspected and compared (schema.py). ``convert`` is
`atlembic.convert.baseline.convert`, imported only by the command that runs it."""

from atlembic.commands.apply import downgrade, stamp, upgrade, upgrade_many, upgrade_sql
from atlembic.commands.checkpoint import CheckpointOutcome, checkpoint
from atlembic.commands.plan import PlanOutcome, check, hash_directory, plan, provider, revision
from atlembic.commands.rebase import rebase
from atlembic.commands.report import current, drift, status, unconverted_history, validate
from atlembic.commands.schema import (
    Inspected,
    SchemaApply,
    SchemaApplyError,
    as_sql,
    is_database_url,
    schema_apply,
    schema_diff,
    schema_inspect,
)

__all__ = [
    "CheckpointOutcome", "PlanOutcome", "check", "checkpoint", "current", "downgrade", "drift", "hash_directory",
    "plan", "provider", "rebase", "revision", "stamp", "status", "unconverted_history", "upgrade", "upgrade_many",
    "upgrade_sql", "validate", "Inspected", "SchemaApply", "SchemaApplyError", "as_sql", "is_database_url",
    "schema_apply", "schema_diff", "schema_inspect",
]
