"""An atlas.hcl project: its ``env`` blocks to `Settings` (the same that alembic.ini gives), so that every
command runs unchanged on an Atlas project.

Read as Atlas reads it: ``--config file://path`` (default ``./atlas.hcl``); ``variable`` blocks take
``--var name=value`` (repeated for a list) or their ``default``; ``locals`` blocks; ``data`` sources
(``external_schema``, ``composite_schema``, ``external``, ``sql``) run only when the selected env references them;
``atlas.env`` is the selected env's name, and an unnamed ``env { name = atlas.env }`` block matches any.
What atlembic reads of an env: ``src``, ``url``, ``dev``, ``exclude``, ``migration { dir, format,
revisions_schema, baseline, lock_timeout, exclude }``, ``format { migrate { diff } }``, ``lint { latest }`` and
``diff { skip, concurrent_index }`` (also top level); everything else Atlas accepts is left alone (README "Coming
from Atlas").
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from atlembic.atlas.hcl import Block, ExprError, HclError, HclSet, Scope, evaluate, parse_file
from atlembic.atlas.sources import (
    CompositeSource,
    FileSource,
    ListSource,
    ProgramSource,
    check_to_urls,
    run_program,
)
from atlembic.atlas.urls import dev_target, target_url
from atlembic.config import SchemaSource, Settings
from atlembic.engines import engine_for
from atlembic.errors import AtlembicError, one_line
from atlembic.migrate.formats import ATLAS, dir_format
from atlembic.migrate.revisions import TABLE as REVISIONS_TABLE
from atlembic.migrate.revisions import postgres_bound_schema
from atlembic.schema.policy import SKIP_KINDS, DiffPolicy

__all__ = ["AtlasEnv", "config_path", "directory_url", "indent_of", "load_env", "load_envs"]

DEFAULT_CONFIG = "atlas.hcl"


@dataclass
class AtlasEnv:
    """One env of an atlas.hcl: the `Settings` every command takes, and the defaults of the ``migrate`` verbs'
    own flags that the env sets."""

    name: str
    settings: Settings
    baseline: str | None = None
    lock_timeout: str | None = None
    lint_latest: int | None = None
    warnings: list[str] = field(default_factory=list)
    each: dict[str, Any] | None = None  # an instance of a for_each env: its each.key and each.value


def config_path(config: str | None) -> Path:
    """The file ``--config`` names (Atlas's ``file://path``), else ./atlas.hcl."""
    if config is None:
        path = Path.cwd() / DEFAULT_CONFIG
    else:
        scheme, sep, rest = config.partition("://")
        if not sep:
            raise AtlembicError(f"missing scheme for config file. Did you mean file://{config}?")
        if scheme != "file":
            raise AtlembicError(f'unsupported config file driver "{scheme}"')
        path = Path(urllib.parse.unquote(rest.split("?", 1)[0])).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
    if not path.is_file():
        raise AtlembicError(f"config file {path} does not exist")
    return path.absolute()


def _parse_vars(pairs: Sequence[str]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise AtlembicError(f"--var {pair!r}: expected NAME=VALUE")
        values.setdefault(name, []).append(value)
    return values


class _Project(Scope):
    """The file's top-level blocks as the scope every attribute is evaluated in (memoized, lazily)."""

    def __init__(self, path: Path, root: Block, env_name: str, variables: dict[str, list[str]]) -> None:
        self.path = path
        self.root = root
        self.env_name = env_name
        self.variables = variables
        self.sources: dict[str, SchemaSource] = {}
        self.each: dict[str, Any] | None = None  # each.key and each.value while a for_each instance is built
        self._done: dict[tuple[str, ...], Any] = {}
        self._busy: set[tuple[str, ...]] = set()

    def where(self, block: Block, attribute: str) -> str:
        address = f"{block.address}: " if block.type else ""
        return f"{self.path.name}: {address}{attribute}"

    def value(self, block: Block, attribute: str, default: Any = None) -> Any:
        if attribute not in block.attributes:
            return default
        return evaluate(block.attributes[attribute], self, self.where(block, attribute))

    def resolve(self, root: str, path: list[Any]) -> Any:
        if root not in ("atlas", "var", "local", "data", "each") or not path:
            raise LookupError(root)  # a bare word: its own text (format = atlas)
        if root == "each":
            if self.each is None:
                raise ExprError("each is only defined in an env block with for_each")
            return _follow(self.each, path, root)
        if root == "atlas":
            return _follow({"env": self.env_name}, path, root)
        key: tuple[str, ...]
        if root == "data":
            if len(path) < 2:
                raise ExprError(f"data.{'.'.join(map(str, path))}: expected data.TYPE.NAME")
            key = ("data", str(path[0]), str(path[1]))
            rest = path[2:]
        else:
            key, rest = (root, str(path[0])), path[1:]
        return _follow(self._memo(key), rest, ".".join(key))

    def _memo(self, key: tuple[str, ...]) -> Any:
        if key in self._done:
            return self._done[key]
        if key in self._busy:
            raise ExprError(f"{'.'.join(key)} refers to itself")
        self._busy.add(key)
        try:
            if key[0] == "data":
                value = self._data(key[1], key[2])
            else:
                value = (self._variable if key[0] == "var" else self._local)(key[1])
            self._done[key] = value
        finally:
            self._busy.discard(key)
        return value

    def _variable(self, name: str) -> Any:
        blocks = [b for b in self.root.blocks("variable") if b.labels == (name,)]
        if not blocks:
            raise ExprError(f'variable "{name}" is not declared')
        block = blocks[-1]
        kind = str(block.attributes.get("type", "string")).removeprefix("${").removesuffix("}").replace(" ", "")
        given = self.variables.get(name)
        if given is None:
            if "default" not in block.attributes:
                raise ExprError(f'variable "{name}" has no default: pass --var {name}=VALUE')
            return self.value(block, "default")
        if kind.startswith(("list(", "set(")):
            return [_typed(kind[kind.index("(") + 1:-1], v, name) for v in given]
        return _typed(kind, given[-1], name)

    def _local(self, name: str) -> Any:
        for block in reversed(self.root.blocks("locals")):
            if name in block.attributes:
                return self.value(block, name)
        raise ExprError(f'local "{name}" is not defined')

    def _data(self, kind: str, name: str) -> Any:
        blocks = [b for b in self.root.blocks("data") if b.labels == (kind, name)]
        if not blocks:
            raise ExprError(f'data "{kind}" "{name}" is not defined')
        block = blocks[-1]
        where = f"{self.path.name}: {block.address}"
        if kind == "external_schema":
            url = f"mem://external_schema/{name}"
            self.sources[url] = ProgramSource(self._program(block), self._workdir(block), where)
            return {"url": url}
        if kind == "external":
            return run_program(self._program(block), self._workdir(block), where)
        if kind == "sql":
            return self._query(block, block.address)
        if kind == "composite_schema":
            url = f"mem://composite_schema/{name}"
            parts = tuple((part.labels[0] if part.labels else "", self.source(self.value(part, "url"), where))
                          for part in block.blocks("schema"))
            if not parts or any(not schema for schema, _ in parts):
                raise ExprError(f"{block.address}: expected schema \"NAME\" {{ url = ... }} blocks")
            self.sources[url] = CompositeSource(parts, where)
            return {"url": url}
        raise ExprError(f'data "{kind}" is not supported by atlembic (external_schema, composite_schema, '
                        "external and sql are)")

    def _query(self, block: Block, where: str) -> dict[str, Any]:
        """Atlas's ``data "sql"``: the first column of the rows `query` returns on `url`, as ``values`` (a
        list), ``value`` (the first, null for none) and ``count``; what a ``for_each`` of tenants reads."""
        unknown = sorted(set(block.attributes) - {"url", "query"})
        if unknown:
            hint = " (write the values into the query)" if unknown == ["args"] else ""
            raise ExprError(f"{where}: attribute {unknown[0]!r} is not supported{hint}")
        raw, query = self.value(block, "url"), self.value(block, "query")
        if not isinstance(raw, str) or not isinstance(query, str) or not raw or not query:
            raise ExprError(f"{where}: expected url and query strings")
        url = make_url(target_url(raw, self.path.parent))
        found = engine_for(url)
        found.require_driver(url)
        engine = sa.create_engine(found.connect_url(url), poolclass=sa.pool.NullPool)
        try:  # the driver's own cursor, the query as written (no parameters: no % or : is a placeholder)
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(query)
                values = [row[0] for row in cursor.fetchall()]
            finally:
                connection.close()
        except Exception as exc:  # the driver's error (a bad query, no such table): the block's one line
            raise ExprError(f"{where}: {one_line(exc, raw)}") from None
        finally:
            engine.dispose()
        values = [v.decode() if isinstance(v, bytes) else v for v in values]
        return {"values": values, "value": values[0] if values else None, "count": len(values)}

    def _program(self, block: Block) -> tuple[str, ...]:
        program = self.value(block, "program")
        if not isinstance(program, list) or not all(isinstance(a, (str, int, float)) for a in program):
            raise HclError(f"{self.where(block, 'program')}: expected a list of strings")
        return tuple(str(a) for a in program)

    def _workdir(self, block: Block) -> Path:
        workdir = self.value(block, "working_dir")
        return (self.path.parent / str(workdir)) if workdir else self.path.parent

    def source(self, value: Any, where: str, base: Path | None = None) -> SchemaSource:
        """A ``src`` value (one URL or path, or a list of them) as the schema source it names; relative paths
        are taken from `base` (default: atlas.hcl's directory)."""
        base = base or self.path.parent
        if isinstance(value, list):
            parts = tuple(self.source(v, where, base) for v in value)
            return parts[0] if len(parts) == 1 else ListSource(parts)
        if not isinstance(value, str) or not value:
            raise HclError(f"{where}: expected a URL or a path, or a list of them")
        if value in self.sources:
            return self.sources[value]
        scheme, sep, rest = value.partition("://")
        if sep and scheme != "file":
            raise HclError(f"{where}: {value!r}: schema sources of this kind are not supported (file://, "
                           "data.external_schema and data.composite_schema are)")
        path = Path(urllib.parse.unquote(rest if sep else value)).expanduser()
        return FileSource(path if path.is_absolute() else base / path, f"{where}: {value}")


def _follow(value: Any, path: list[Any], name: str) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise ExprError(f"{name} has no attribute {part!r}") from None
        name = f"{name}.{part}"
    return value


def _typed(kind: str, text: str, name: str) -> Any:
    if kind == "number":
        try:
            return float(text) if re.search(r"[.eE]", text) else int(text)
        except ValueError:
            raise ExprError(f'--var {name}={text}: variable "{name}" is a number') from None
    if kind == "bool":
        if text not in ("true", "false"):
            raise ExprError(f'--var {name}={text}: variable "{name}" is a bool (true or false)')
        return text == "true"
    return text


def _select_env(project: _Project, name: str) -> Block:
    found = [b for b in project.root.blocks("env") if b.labels == (name,)]
    if not found:  # an unnamed env { name = ... } matches what its name evaluates to, as Atlas's partial parse
        found = [b for b in project.root.blocks("env") if not b.labels and project.value(b, "name") == name]
    if not found:
        raise AtlembicError(f'{project.path}: env "{name}" not defined in config file')
    if len(found) > 1:
        raise AtlembicError(f'{project.path}: env "{name}" is defined {len(found)} times (atlembic runs one env '
                            "at a time)")
    return found[0]


def indent_of(template: str, where: str) -> str:
    """The indentation a ``format { migrate { diff = ... } }`` template asks for: Atlas accepts exactly
    ``{{ sql . "INDENT" }}`` (or ``$`` for ``.``, the indentation left out for none) for the statements."""
    m = re.fullmatch(r'\s*\{\{-?\s*sql\s+[.$]\s*(?:("(?:[^"\\]|\\.)*"|`[^`]*`)\s*)?-?\}\}\s*', template)
    if m is None:
        raise AtlembicError(f"{where}: only a template that indents the statements is supported "
                            f'({{{{ sql . "  " }}}}), got {template!r}')
    quoted = m[1] or '""'
    if quoted.startswith("`"):
        return quoted[1:-1]
    return str(evaluate(quoted, Scope(), where))


def _revisions_schema(url: str | None) -> str | None:
    """Where atlembic keeps atlas_schema_revisions for a target URL (migrate/revisions.py, Atlas's places):
    PostgreSQL's schema of a schema-bound URL (one schema in its search_path), else the schema
    atlas_schema_revisions; MySQL's URL database (else a database of that name), SQLite's main."""
    if url is None:
        return None
    parsed = make_url(url)
    family = engine_for(parsed).family
    if family == "postgresql":
        return postgres_bound_schema(parsed) or REVISIONS_TABLE
    if family == "mysql":
        return parsed.database or REVISIONS_TABLE
    return "main"


def load_envs(
    config: str | None, env: str | None, var_args: Sequence[str] = (), *, url: str | None = None,
    dev_url: str | None = None, directory: str | None = None, to: Sequence[str] | None = None,
    dir_format: str | None = None,
) -> list[AtlasEnv]:
    """The env `env` of the atlas.hcl `config` names (``file://...``, default ./atlas.hcl), with the
    ``migrate`` verbs' flags (`url`, `dev_url`, `directory`, `to`: Atlas URLs; `dir_format`: ``--dir-format``, the
    directory's format unless its URL's ``?format=`` says) taking precedence over it: one
    `AtlasEnv`, or one per element of its ``for_each`` (``each.key``, ``each.value``), as Atlas instantiates
    the block. Without `env`, the flags alone (as Atlas without ``--env``), relative to the working directory."""
    if env is None:
        path = config_path(config) if config is not None else Path.cwd() / DEFAULT_CONFIG
        project = _Project(path, parse_file(path) if config is not None else Block("", ()), "",
                           _parse_vars(var_args))
        block = Block("env", ())
    else:
        path = config_path(config)
        project = _Project(path, parse_file(path), env, _parse_vars(var_args))
        block = _select_env(project, env)
    if "for_each" not in block.attributes:
        return [_build(project, block, path, env, url=url, dev_url=dev_url, directory=directory, to=to,
                       dir_format=dir_format)]
    if url is not None:
        raise AtlembicError(f'--url cannot be combined with env "{env}": its for_each names the targets')
    instances = []
    for each in _for_each(project, block):
        project.each = each
        instances.append(_build(project, block, path, env, dev_url=dev_url, directory=directory, to=to,
                                dir_format=dir_format))
    project.each = None
    return instances


def load_env(
    config: str | None, env: str | None, var_args: Sequence[str] = (), *, url: str | None = None,
    dev_url: str | None = None, directory: str | None = None, to: Sequence[str] | None = None,
    dir_format: str | None = None,
) -> AtlasEnv:
    """`load_envs` for a command that runs on one env: an env whose for_each gives several instances is
    refused, as Atlas refuses it."""
    envs = load_envs(config, env, var_args, url=url, dev_url=dev_url, directory=directory, to=to,
                     dir_format=dir_format)
    if len(envs) > 1:
        raise AtlembicError(f'multiple envs found for "{env}" (its for_each gives {len(envs)}): this command runs on '
                            "one env; migrate apply and migrate status run on each")
    return envs[0]


def _for_each(project: _Project, block: Block) -> list[dict[str, Any]]:
    """The ``each`` object of every instance of an env with ``for_each``: a set or list gives its elements
    (``each.key`` the element of a set, the index of a list), an object its attributes."""
    where = project.where(block, "for_each")
    value = project.value(block, "for_each")
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, HclSet):
        pairs = [(v, v) for v in value]
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    else:
        raise HclError(f"{where}: for_each expects a set, a list or an object (toset(var.tenants))")
    if not pairs:
        raise AtlembicError(f'{where}: env "{project.env_name}" has no instances (its for_each is empty)')
    return [{"key": k, "value": v} for k, v in pairs]


def _build(
    project: _Project, block: Block, path: Path, env: str | None, *, url: str | None = None,
    dev_url: str | None = None, directory: str | None = None, to: Sequence[str] | None = None,
    dir_format: str | None = None,
) -> AtlasEnv:
    """One env (or one instance of it: `project.each` set) as the `AtlasEnv` the commands take."""
    here = path.parent
    migration = block.block("migration") or Block("migration", ())

    def text(owner: Block, attribute: str) -> str | None:
        value = project.value(owner, attribute)
        if value is not None and not isinstance(value, (str, int, float)):
            raise HclError(f"{project.where(owner, attribute)}: expected a string")
        return None if value is None or value == "" else str(value)

    target = url or text(block, "url")
    settings_url = target_url(target, here if url is None else Path.cwd()) if target else None
    dev_raw = dev_url or text(block, "dev")
    dev = dev_target(dev_raw, here if dev_url is None else Path.cwd()) if dev_raw else None
    warnings = [dev.warning] if dev is not None and dev.warning else []

    dir_raw = directory or text(migration, "dir") or "file://migrations"
    where_format = "--dir" if directory else project.where(migration, "format" if "format" in migration.attributes
                                                           else "dir")
    if dir_format is not None:
        where_format = "--dir-format"
    migrations_dir, migrations_format = directory_url(dir_raw, Path.cwd() if directory else here,
                                                   dir_format or text(migration, "format"), where_format)

    engine_name = dev.engine if dev is not None else None
    settings = Settings(
        config_file=None, here=here, ini_section="alembic", url=settings_url,
        dev_url=dev.url if dev is not None else None, migrations_dir=migrations_dir, metadata_ref=None,
        script_location=None, engine_name=engine_name, migrations_format=migrations_format,
    )
    revisions_schema = text(migration, "revisions_schema")
    kept_in = _revisions_schema(settings.url)
    if revisions_schema is not None and kept_in is not None and revisions_schema != kept_in:
        raise AtlembicError(f"{project.where(migration, 'revisions_schema')} = {revisions_schema!r}: atlembic keeps "
                            f"atlas_schema_revisions in {kept_in!r} for this URL; leave revisions_schema out")
    excluded: list[str] = []
    for owner in (block, migration):
        value = project.value(owner, "exclude")
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise HclError(f"{project.where(owner, 'exclude')}: expected a list of glob strings")
        excluded.extend(value)
    settings.exclude = tuple(dict.fromkeys(excluded))
    if to:
        check_to_urls(to)
        settings.schema_source = project.source(list(to), "--to", Path.cwd())
    elif "src" in block.attributes:
        settings.schema_source = project.source(project.value(block, "src"), project.where(block, "src"))
    migrate_format = (block.block("format") or Block("format", ())).block("migrate")
    if migrate_format is not None and "diff" in migrate_format.attributes:
        settings.indent = indent_of(str(project.value(migrate_format, "diff")),
                                    project.where(migrate_format, "diff"))
    settings.diff_policy = _diff_policy(project, block.block("diff") or project.root.block("diff"))
    lint = block.block("lint") or project.root.block("lint")
    latest = project.value(lint, "latest") if lint is not None else None
    return AtlasEnv(env or "", settings, baseline=text(migration, "baseline"),
                    lock_timeout=text(migration, "lock_timeout"),
                    lint_latest=int(latest) if latest is not None else None, warnings=warnings,
                    each=project.each)


def _diff_policy(project: _Project, diff: Block | None) -> DiffPolicy:
    """A ``diff`` block (the env's, else the file's top-level one) as the policy plans follow: its ``skip``
    flags and ``concurrent_index { create, drop }``."""
    if diff is None:
        return DiffPolicy()

    def flags(owner: Block | None, known: frozenset[str]) -> frozenset[str]:
        if owner is None:
            return frozenset()
        on = set()
        for name in owner.attributes:
            where = project.where(owner, name)
            if name not in known:
                raise HclError(f"{where}: not a diff policy attribute atlembic supports "
                               f"({', '.join(sorted(known))})")
            value = project.value(owner, name)
            if not isinstance(value, bool):
                raise HclError(f"{where}: expected true or false")
            if value:
                on.add(name)
        return frozenset(on)

    concurrent = flags(diff.block("concurrent_index"), frozenset({"create", "drop"}))
    return DiffPolicy(flags(diff.block("skip"), SKIP_KINDS), "create" in concurrent, "drop" in concurrent)


def directory_url(raw: str, base: Path, format_name: str | None, where: str) -> tuple[Path, str]:
    """The directory a ``file://`` URL names and its format (the URL's ``?format=`` first, as Atlas)."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme != "file":
        raise AtlembicError(f"{where}: {raw!r}: expected a file:// URL of the migration directory")
    location, _, query = rest.partition("?")
    format_name = dict(urllib.parse.parse_qsl(query)).get("format", format_name) or ATLAS.name
    chosen = dir_format(format_name, where).name
    path = Path(urllib.parse.unquote(location)).expanduser()
    return (path if path.is_absolute() else base / path).absolute(), chosen
