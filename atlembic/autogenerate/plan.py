"""The diff of the two sides and the dialect's statements for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlembic.diff import Renames, SchemaDiff, diff_schemas
from atlembic.engines import engine_for
from atlembic.migrate.directory import Statements, render_migration
from atlembic.plan.base import PlannedStatement
from atlembic.schema.model import Schema
from atlembic.schema.policy import NO_POLICY, DiffPolicy
from atlembic.timings import Timings

_NO_PLANNER = "no migration planner for dialect {name!r}"


@dataclass
class Plan:
    diff: SchemaDiff
    statements: list[PlannedStatement]
    reaches: Schema  # the schema the statements reach: the desired one, without what the diff policy skips
    directives: list[str] = field(default_factory=list)  # file header, e.g. "atlas:txmode none"

    def render(self, indent: str | None = None) -> str:
        """The migration file's text; `indent`: see `render_migration`."""
        return render_migration(self.changes(), self.directives, indent)

    def changes(self) -> list[tuple[str, str]]:
        """Each statement's (comment, SQL)."""
        return [(s.comment, s.sql) for s in self.statements]

    def new_file(self, indent: str | None = None, reverse: Plan | None = None) -> Statements:
        """What a new migration file of this plan holds; `reverse`: the plan that undoes it (a format's down
        part)."""
        return Statements(self.changes(), reverse.changes() if reverse is not None else (), self.directives, indent)

    def reverse(self, dialect: str, timings: Timings | None = None) -> Plan:
        """The plan from the desired schema back to the current one, this plan's renames the other way."""
        return plan_changes(self.diff.desired, self.diff.current, dialect, timings, self.diff.reverse_renames())


def plan_changes(
    current: Schema,
    desired: Schema,
    dialect: str,
    timings: Timings | None = None,
    renames: Renames | None = None,
    policy: DiffPolicy = NO_POLICY,
) -> Plan:
    """The statements that take `current` to `desired` on `dialect`, under the diff `policy` (atlas.hcl's
    ``diff`` block: kinds of change left out, concurrent indexes)."""
    timings = timings or Timings()
    with timings.stage("diff"):
        desired = policy.restrain(current, desired)
        diff = diff_schemas(current, desired, renames)
    if not diff:
        return Plan(diff, [], desired)
    with timings.stage("plan"):
        planner = engine_for(dialect, _NO_PLANNER).planner(policy)
        statements = planner.plan(diff)
    return Plan(diff, statements, desired, planner.directives)
