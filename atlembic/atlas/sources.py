"""Desired schemas an atlas.hcl ``src`` names, as SQL DDL (`atlembic.config.SchemaSource`): a program's
standard output (``data "external_schema"``: atlas-provider-sqlalchemy, a ``load_models.py`` that prints
DDL, ``atlembic provider``, any ORM's provider), SQL files and directories of them, several of those in
order, and ``data "composite_schema"`` (each part into its schema)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atlembic.config import SchemaSource
from atlembic.engines import engine_for
from atlembic.errors import AtlembicError

__all__ = ["CompositeSource", "FileSource", "ListSource", "ProgramSource", "check_to_urls"]


def check_to_urls(urls: Sequence[str]) -> None:
    """Atlas's rule for several ``--to`` URLs, with its messages: one kind of source, and only ``file://`` may come
    more than once (their schemas compose)."""
    if len(urls) < 2:
        return
    schemes = []
    for url in urls:
        scheme, sep, _ = url.partition("://")
        if not sep:
            raise AtlembicError(f"--to {url}: missing scheme. Did you mean file://{url}?")
        schemes.append(scheme.lower())
    other = next((s for s in schemes if s != schemes[0]), None)
    if other is not None:
        raise AtlembicError(f'got mixed --to url schemes: "{schemes[0]}" and "{other}", the desired state must be '
                            "provided from a single kind of source")
    if schemes[0] != "file":
        raise AtlembicError(f'got multiple --to urls of scheme "{schemes[0]}", only multiple \'file://\' urls are '
                            "supported")


@dataclass(frozen=True)
class ProgramSource:
    """A program run without a shell in `cwd` (atlas.hcl's directory, else its ``working_dir``); its standard
    output is the DDL. `where` names the data source in messages."""

    program: tuple[str, ...]
    cwd: Path
    where: str

    def sql(self, dialect: str) -> str:
        return run_program(self.program, self.cwd, self.where)


def run_program(program: Sequence[str], cwd: Path, where: str) -> str:
    """The standard output of `program`; when it fails, one line with its exit code and its last stderr line."""
    if not program:
        raise AtlembicError(f"{where}: program cannot be empty")
    try:
        proc = subprocess.run(list(program), cwd=cwd, capture_output=True, text=True, check=False,
                              env=os.environ.copy())
    except FileNotFoundError:
        raise AtlembicError(f"{where}: program {program[0]!r} not found (run from {cwd})") from None
    except OSError as exc:
        raise AtlembicError(f"{where}: cannot run {program[0]!r}: {exc.strerror}") from None
    if proc.returncode != 0:
        last = next((line.strip() for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
        raise AtlembicError(f"{where}: program {program[0]!r} exited with code {proc.returncode}"
                            + (f": {last}" if last else " (no error output)"))
    return proc.stdout


@dataclass(frozen=True)
class FileSource:
    """A ``.sql`` file, or a directory whose top-level ``*.sql`` files are read in name order (as Atlas reads
    a schema directory). `where` is how the atlas.hcl wrote it."""

    path: Path
    where: str

    def sql(self, dialect: str) -> str:
        path = self.path
        if path.is_dir():
            files = sorted(p for p in path.glob("*.sql") if p.is_file())
            if not files:
                raise AtlembicError(f"{self.where}: no .sql files in {path}")
        elif path.suffix != ".sql":
            raise AtlembicError(f"{self.where}: only SQL schema files are supported (Atlas HCL schemas are not: "
                                "use SQL, or a program that prints it)")
        elif path.is_file():
            files = [path]
        else:
            raise AtlembicError(f"{self.where}: {path} does not exist")
        return "".join(_with_end(f.read_text(encoding="utf-8")) for f in files)


def _with_end(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


@dataclass(frozen=True)
class ListSource:
    """Several sources (``src = [...]``), their DDL in the order given."""

    parts: tuple[SchemaSource, ...]

    def sql(self, dialect: str) -> str:
        return "".join(_with_end(part.sql(dialect)) for part in self.parts)


@dataclass(frozen=True)
class CompositeSource:
    """``data "composite_schema"``: each ``schema "NAME" { url = ... }`` part created in schema NAME. On an
    engine with named schemas, a part runs with its schema first on the search path (created if missing); an
    engine without them (SQLite, MySQL's schemas are databases) takes a single part."""

    parts: tuple[tuple[str, SchemaSource], ...]
    where: str

    def sql(self, dialect: str) -> str:
        engine = engine_for(dialect)
        if not engine.named_schemas:
            if len(self.parts) != 1:
                raise AtlembicError(f"{self.where}: {engine.title} has one schema per database: give one schema "
                                    f"block, not {len(self.parts)}")
            return self.parts[0][1].sql(dialect)
        out = []
        for schema, part in self.parts:
            quoted = engine.mock_engine().dialect.identifier_preparer.quote(schema)
            out.append(f"CREATE SCHEMA IF NOT EXISTS {quoted};\nSET search_path TO {quoted};\n")
            out.append(_with_end(part.sql(dialect)))
            out.append("RESET search_path;\n")
        return "".join(out)
