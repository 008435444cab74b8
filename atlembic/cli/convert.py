"""CLI of ``atlembic convert`` (registered on `atlembic.cli.app`). Parsing and printing only."""

from __future__ import annotations

from typing import Annotated

import typer

from atlembic.cli.app import app, globals_of, timings_line
from atlembic.errors import plural


@app.command()
def convert(
    ctx: typer.Context,
    history: Annotated[bool, typer.Option("--history", help="one file per Alembic revision instead of a baseline")]
    = False,
    start_metadata: Annotated[str | None, typer.Option(
        "--start-metadata", metavar="MODULE:ATTR",
        help="module:attr of a MetaData whose create_all builds the schema the first revision expects")] = None,
    start_sql: Annotated[str | None, typer.Option(
        "--start-sql", metavar="FILE", help="SQL file that builds that starting schema")] = None,
    head: Annotated[str | None, typer.Option(
        "--head", metavar="REVISION",
        help="the Alembic revision to convert up to (with several heads); 'heads' for all")] = None,
    data: Annotated[str, typer.Option(
        "--data", metavar="MODE", help="with --history: 'run' keeps the DML a revision ran where it ran it, 'review' "
                                       "keeps it as -- REVIEW comments only")] = "run",
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="print stage timings")] = False,
) -> None:
    """Turn the Alembic history (script_location) into an Atlas baseline file plus atlas.sum."""
    # Imported here: running an Alembic history needs asyncio, Alembic's runtime and more, which no other
    # command loads.
    from atlembic.convert.baseline import convert as convert_history

    g = globals_of(ctx)
    result = convert_history(g.settings(), history=history, start_metadata=start_metadata, start_sql=start_sql,
                             head=head, data=data)
    g.say(f"Dev database: {result.dev_description}")
    g.say(f"Alembic history: {result.script_location}, {plural(len(result.revisions), 'revision')} run to head "
          f"{' '.join(result.heads)}")
    for line in result.aimed:
        g.say(f"  {line}")
    if result.data_migrations:
        g.say("Revisions that move data (schema only in the converted files; review them):")
        for info in result.data_migrations:
            g.say(f"  {info.revision} {info.path.name}: {info.data_summary()}")
    if result.unsupported:
        g.say("Not converted (atlembic does not model these objects; add them by hand): "
              + ", ".join(result.unsupported))
    if result.left_out:
        g.say("Not converted (env.py's include_object / include_name / include_schemas exclude them): "
              + ", ".join(result.left_out))
    for line in result.respelled:
        g.say(f"Accepted: {line}")
    for file in result.files:
        g.say(f"Generating {file.path} ({plural(file.statements, 'statement')}) ...  done")
    g.say("Verified: the files rebuild the Alembic head schema on a clean dev database.")
    if not history:
        g.say(f"Hand over databases already at Alembic head {' '.join(result.heads)} with: "
              f"atlembic upgrade head --baseline {result.baseline_version}")
    if verbose:
        g.say(timings_line(result.timings.stages))
