"""Showing an apply as it happens: a Rich progress line per file on a terminal, plain lines otherwise.

Plain lines follow Alembic's status-line style (``Running upgrade A -> B, msg ...`` then ``  done``),
written and flushed as each file starts, so a log shows which file was running if the process dies.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from atlembic.errors import plural
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.executor import AppliedFile, ApplyReporter, StatementError

__all__ = ["PlainReporter", "RichReporter", "reporter_for"]


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms" if ns < 10_000_000_000 else f"{ns / 1e9:.1f} s"


class PlainReporter(ApplyReporter):
    def __init__(self, parents: dict[str, str | None], out: IO[str] | None = None) -> None:
        self.parents = parents
        self.out = out or sys.stdout

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def file_started(self, file: MigrationFile, start: int, total: int) -> None:
        resume = f" (resuming at statement {start + 1} of {total})" if start else ""
        self._write(f"Running upgrade {self.parents.get(file.version) or ''} -> {file.version}, "
                    f"{file.description}{resume} ...")

    def file_done(self, applied: AppliedFile) -> None:
        self._write(f"  done ({plural(applied.statements, 'statement')}, {_ms(applied.elapsed_ns)})\n")

    def file_failed(self, file: MigrationFile, error: StatementError) -> None:
        self._write("  FAILED\n")

    def close(self) -> None:
        pass


class RichReporter(ApplyReporter):
    """One live progress line per file: name, statements done of total, elapsed time."""

    def __init__(self, parents: dict[str, str | None], console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.parents = parents
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("statements"),
            TimeElapsedColumn(),
            console=console or Console(),
            transient=False,
        )
        self.progress.start()
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, int] = {}

    def file_started(self, file: MigrationFile, start: int, total: int) -> None:
        label = f"{self.parents.get(file.version) or '<base>'} -> {file.version}, {file.description}"
        self.tasks[file.version] = self.progress.add_task(label, total=total, completed=start)
        self.started[file.version] = time.monotonic_ns()

    def statement_done(self, file: MigrationFile, done: int) -> None:
        self.progress.update(self.tasks[file.version], completed=done)

    def file_done(self, applied: AppliedFile) -> None:
        task = self.tasks[applied.file.version]
        self.progress.update(task, completed=self.progress.tasks[task].total,
                             description=f"[green]done[/] {self.progress.tasks[task].description}")
        self.progress.stop_task(task)

    def file_failed(self, file: MigrationFile, error: StatementError) -> None:
        task = self.tasks[file.version]
        self.progress.update(task, description=f"[red]FAILED[/] {self.progress.tasks[task].description}")
        self.progress.stop_task(task)

    def close(self) -> None:
        self.progress.stop()


def reporter_for(parents: dict[str, str | None], *, quiet: bool, terminal: bool | None = None
                 ) -> PlainReporter | RichReporter | None:
    if quiet:
        return None
    if terminal is None:
        terminal = sys.stdout.isatty()
    return RichReporter(parents) if terminal else PlainReporter(parents)
