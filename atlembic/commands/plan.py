"""The planning commands: revision (empty or planned from the models), check, hash, provider.

Each wires the stages together and returns what happened; printing is the CLI's job."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlembic import autogenerate
from atlembic.autogenerate import snapshot as models_cache
from atlembic.autogenerate.plan import Plan
from atlembic.autogenerate.verify import check_reached, not_applied
from atlembic.config import Settings
from atlembic.diff import RenameCandidate, rename_candidates
from atlembic.engines import engine_for, find_engine
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir, MigrationFile, Statements
from atlembic.migrate.executor import leaves_tables_empty
from atlembic.migrate.history import check_rev_id
from atlembic.provider import dialect_mock_engine, load_models_path, metadata_ddl, table_positions
from atlembic.replay.lazy import LazyDevDatabase
from atlembic.schema.exclude import exclude_objects
from atlembic.schema.model import Schema
from atlembic.timings import Timings

# What the plan leaves out of the comparison (env.py's filters, atlas.hcl's exclude): `SchemaFilter.compare`.
Keep = Callable[[Schema, Schema], tuple[Schema, Schema]]
# Checks that a plan (with statements) reaches the desired schema, raising AtlembicError if not.
Verifier = Callable[[Plan, Schema, Keep], None]


@dataclass
class PlanOutcome:
    """What `revision --autogenerate` and `check` found."""

    plan: Plan
    dev_description: str
    timings: Timings = field(default_factory=Timings)
    path: Path | None = None
    # Drop + add pairs that might be renames nobody confirmed: planned as drop + add, said so.
    unconfirmed_renames: list[RenameCandidate] = field(default_factory=list)
    lint: Any = None  # atlembic.lint.LintResult of the written file (revision --autogenerate)
    lint_failed: str | None = None

    def changes_detected(self) -> str | None:
        """What `check` fails with when the models and the directory differ (None: they agree)."""
        if not self.plan.statements:
            return None
        return f"New upgrade operations detected: {'; '.join(self.plan.diff.describe())}"


def plan(
    settings: Settings, *, verify: bool = True, confirm_rename: Callable[[str], bool] | None = None
) -> PlanOutcome:
    """Plan the changes that take the directory's state to the models' state.

    Renames come from the models' `renamed_from` hints; a drop + add that looks like a rename is put
    to `confirm_rename` (the CLI asks on a terminal, as Atlas does) and otherwise left as drop + add.
    """
    directory = settings.migration_dir().checked()
    timings = Timings()
    files = directory.files_from_last_checkpoint()
    with _lazy_dev(settings, timings, files) as dev:
        verifier = _replay_verifier(dev, files, timings) if verify else None
        return _plan_on(settings, files, dev, timings, verifier, confirm_rename=confirm_rename)


def _lazy_dev(settings: Settings, timings: Timings, files: list[Any]) -> LazyDevDatabase:
    # Started on first use: when the replay cache holds both schemas, no dev database is needed. Given the
    # files, an embedded server starts on the data dir an earlier run kept with the longest prefix of them
    # replayed (atlembic.devdb.kept), whichever thread starts it.
    return LazyDevDatabase(settings.dialect, settings.dev_url, timings, files)


def _replay_verifier(dev: LazyDevDatabase, files: list[Any], timings: Timings) -> Verifier:
    """Verification on its own: the directory plus the planned file replayed on a clean dev database."""
    def verify(plan: Plan, desired: Schema, keep: Keep) -> None:
        autogenerate.verify_plan(dev, files, plan, desired, timings, keep=keep)
    return verify


def _plan_on(
    settings: Settings, files: list[Any], dev: LazyDevDatabase, timings: Timings, verifier: Verifier | None,
    *, confirm_rename: Callable[[str], bool] | None = None,
) -> PlanOutcome:
    """`plan` of the directory's `files` (from the last checkpoint) on a dev database the caller opened
    (and closes); a plan with statements goes to `verifier` (None: not verified)."""
    with _replaying(dev, files, timings) as current_schema:
        desired, renames, schema_filter = models_cache.desired_side(settings, dev, timings)
        current = current_schema()
        # What env.py's include_object / include_name / include_schemas keep out is neither created nor dropped,
        # nor what atlas.hcl's exclude globs match.
        def keep(current: Schema, desired: Schema) -> tuple[Schema, Schema]:
            return schema_filter.compare(exclude_objects(current, settings.exclude),
                                         exclude_objects(desired, settings.exclude))

        current, desired = keep(current, desired)
        result = autogenerate.plan_changes(current, desired, dev.dialect_name, timings, renames,
                                           settings.diff_policy)
        candidates = rename_candidates(result.diff)
        confirmed = [c for c in candidates if confirm_rename is not None and confirm_rename(c.question)]
        for candidate in confirmed:
            renames = renames.merged(candidate.as_renames())
        if confirmed:
            result = autogenerate.plan_changes(current, desired, dev.dialect_name, timings, renames,
                                               settings.diff_policy)
        if result.statements and verifier is not None:
            verifier(result, result.reaches, keep)
        unconfirmed = [c for c in candidates if c not in confirmed]
        return PlanOutcome(result, dev.description, timings, unconfirmed_renames=unconfirmed)


@contextlib.contextmanager
def _replaying(dev: LazyDevDatabase, files: list[Any], timings: Timings) -> Iterator[Callable[[], Any]]:
    """Yields a function returning the directory's schema. On an embedded server the replay runs in the
    background, in its own scratch database, while this thread creates the models in another one: the
    server works in two backends, on two cores, and the stage times overlap. (SQLite's in-memory work
    is all Python: one after the other.) An error of this thread wins over the replay's, as when they
    ran in order."""
    if not dev.concurrent:
        yield lambda: autogenerate.replay_schema(dev, files, timings)
        return
    from concurrent.futures import ThreadPoolExecutor

    side = Timings()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="atlembic-replay") as pool:
        replayed = pool.submit(autogenerate.replay_schema, dev, files, side)
        try:
            yield replayed.result
        except BaseException:
            with contextlib.suppress(Exception):
                replayed.result()
            raise
        finally:
            for name, seconds in side.stages.items():
                timings.stages[name] = timings.stages.get(name, 0.0) + seconds


def revision(
    settings: Settings,
    message: str | None,
    *,
    autogenerate: bool = False,
    rev_id: str | None = None,
    confirm_rename: Callable[[str], bool] | None = None,
    exact_name: bool = False,
) -> PlanOutcome | Path:
    """Write the next migration file: planned from the models, or empty to fill in by hand. `exact_name`: the
    message is the file's name after its version as given (Atlas's ``migrate diff|new NAME``)."""
    directory = settings.migration_dir().checked()
    if rev_id is not None:
        check_rev_id(rev_id, [f.version for f in directory.files()])
    name = directory.new_file_name(message or "", version=rev_id, exact=exact_name)
    if not autogenerate:
        return directory.write_migration(name, Statements())
    timings = Timings()
    # One dev database for planning, verifying and linting the written file (a server starts once).
    files = directory.files_from_last_checkpoint()
    with _lazy_dev(settings, timings, files) as dev:
        linted = _LintedVerification(settings, directory, name, files, dev, timings)
        outcome = _plan_on(settings, files, dev, timings, linted.verify, confirm_rename=confirm_rename)
        if outcome.plan.statements:
            # A format with a down part gets the reverse, planned between the same two schemas (Atlas's formatters
            # write each change's reverse there).
            reverse = outcome.plan.reverse(dev.dialect_name, timings) if directory.dir_format.has_down else None
            with timings.stage("write"):
                outcome.path = directory.write_migration(name, outcome.plan.new_file(settings.indent, reverse))
            if linted.done:
                outcome.lint, outcome.lint_failed = linted.lint, linted.lint_failed
            else:
                _lint_written(settings, dev, outcome, timings)
    return outcome


class _LintedVerification:
    """`revision`'s verification fused with the lint of the file it writes: lint executes every statement of
    the file, statement by statement, on a copy of the directory's state, so the state it ends in is what
    replaying the directory plus the file reaches; inspected once, it must equal the models' schema. The file
    is then executed twice (planning's replay aside) instead of three times.

    Sound only where running the file statement by statement reaches what running it in its transaction
    reaches: while no table holds a row (checks at COMMIT, such as SQLite's foreign keys, find nothing) -- a
    statement a transaction refuses is planned under ``atlas:txmode none``, so replays run it outside one too.
    Otherwise, and when the lint cannot run (its configuration), the verification runs on its own first."""

    def __init__(self, settings: Settings, directory: MigrationDir, name: str, files: list[MigrationFile],
                 dev: LazyDevDatabase, timings: Timings) -> None:
        self.settings, self.directory, self.name, self.files = settings, directory, name, files
        self.dev, self.timings = dev, timings
        self.done = False  # the planned file was linted (or its lint failed) during verification
        self.lint: Any = None
        self.lint_failed: str | None = None

    def verify(self, plan: Plan, desired: Schema, keep: Keep) -> None:
        # Imported here: only a planned revision is linted, and `check` should not load the analyzers.
        from atlembic import lint

        if not leaves_tables_empty(self.files, engine_for(self.dev.dialect_name)):
            autogenerate.verify_plan(self.dev, self.files, plan, desired, self.timings, keep=keep)
            return
        planned = self.directory.new_migration(self.name, plan.new_file(self.settings.indent))
        try:
            with self.timings.stage("lint"):
                result = lint.lint_new_file(self.settings, self.dev, self.files, planned)
        except lint.RejectedStatement as exc:
            raise not_applied(exc.error) from exc
        except AtlembicError as exc:  # not linted: verified on its own; the file is written and says why
            autogenerate.verify_plan(self.dev, self.files, plan, desired, self.timings, keep=keep)
            self.done, self.lint_failed = True, str(exc)
            return
        assert result.reached is not None  # lint_new_file inspects the end
        with self.timings.stage("verify"):
            check_reached(result.reached, desired, keep)
        self.done, self.lint = True, result


def _lint_written(settings: Settings, dev: LazyDevDatabase, outcome: PlanOutcome, timings: Timings) -> None:
    """Lint the file `revision` wrote (verified on its own before)."""
    from atlembic.lint import lint_directory  # as in _LintedVerification.verify

    with timings.stage("lint"):
        try:
            outcome.lint = lint_directory(settings, latest=1, dev=dev)
        except AtlembicError as exc:  # the file is written and verified; say why it was not linted
            outcome.lint_failed = str(exc)


def check(settings: Settings) -> PlanOutcome:
    """Plan without writing; the CLI fails when anything is planned."""
    return plan(settings, verify=False)


def hash_directory(settings: Settings) -> Path:
    """Recompute atlas.sum from the files (after a hand edit)."""
    directory = settings.migration_dir()
    directory.write_sum()
    return directory.path / "atlas.sum"


def provider(paths: Sequence[Path], dialect: str, *, skip_errors: bool = False) -> str:
    """The models under each of `paths` as DDL, as atlas-provider-sqlalchemy prints them: the `atlas:pos`
    directives of their tables, then each path's CREATE statements (no line ends in whitespace). An engine
    atlembic knows renders as it renders the models; another SQLAlchemy dialect as `create_all` does."""
    engine = find_engine(dialect)
    mock_engine = None if engine is not None else dialect_mock_engine(dialect)  # before any model is imported
    loaded = [(path, load_models_path(path, skip_errors=skip_errors)) for path in paths]
    directives = [d for path, metadata in loaded for d in table_positions(path, metadata)]
    head = "".join(f"-- {d}\n" for d in directives) + ("\n" if directives else "")
    statements = []
    for _, metadata in loaded:
        if mock_engine is None:
            assert engine is not None
            statements.extend(engine.metadata_ddl(metadata))
        else:
            statements.extend(metadata_ddl(metadata, dialect, mock_engine, named_schemas=False))
    return head + "".join("\n".join(line.rstrip() for line in s.splitlines()) + ";\n\n" for s in statements)
