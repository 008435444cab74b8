"""The models' side of planning without importing the models, while nothing they read has changed.

Loading the models is recorded like a compiler's dependency file (the settings, every non-stdlib module,
every file opened, directory listed and environment variable read during the load), and the outcome (the
key of the models' desired schema, their rename hints) is reused while all of it is as it was. A load that
connects, starts a process or opens a SQLite database is never reused. See docs/architecture.md ("The
models snapshot").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atlembic.replay import cache as replay_cache

if TYPE_CHECKING:
    from atlembic.config import Settings
    from atlembic.devdb import DevDatabase
    from atlembic.diff import Renames
    from atlembic.environment import SchemaFilter
    from atlembic.schema.model import Schema
    from atlembic.timings import Timings

__all__ = ["ModelsSnapshot", "desired_side", "lookup", "recording", "save"]

def desired_side(settings: Settings, dev: DevDatabase, timings: Timings) -> tuple[Schema, Renames, SchemaFilter]:
    """The models' schema as the dev database makes it, the renames the models declare and env.py's
    filters (an atlas.hcl ``src`` instead of the models: its DDL's schema, no renames, no filters): from the
    last load's snapshot when nothing it read changed (no import, no DDL, no dev database), else by loading
    the models (recorded for the next run, unless env.py's filters are callables: include_object /
    include_name judge objects no snapshot can hold)."""
    from atlembic import autogenerate
    from atlembic.environment import SchemaFilter, capture_environment, load_target_metadata
    from atlembic.provider import SchemaStatement, registered_entities, rename_hints

    if settings.schema_source is not None:  # an atlas.hcl src: DDL from a program or files, no models to load
        from atlembic.diff import Renames

        return autogenerate.desired_schema_from_sql(dev, settings.schema_source, timings), Renames(), SchemaFilter()
    identity = replay_cache.dev_identity(dev)
    with timings.stage("models snapshot"):
        snapshot, loaded_before = lookup(settings, dev.dialect_name, identity)
        desired = replay_cache.load_desired(snapshot.desired_key) if snapshot is not None else None
    if snapshot is not None and desired is not None:
        return desired, snapshot.renames, snapshot.schema_filter or SchemaFilter()
    if not loaded_before:
        # Models never loaded with this cache (a team's first revision, a new CI runner): their DDL is about to
        # run on the dev database, so its server starts now, next to the import. After a load that left a
        # snapshot, changed inputs may still compile to a cached schema: the server starts when first used.
        dev.start_early()
    with timings.stage("load metadata"), recording() as recorded:
        extensions: list[SchemaStatement] = []
        entities: list[SchemaStatement] = []
        if settings.metadata_ref:
            metadata, schema_filter = load_target_metadata(settings), SchemaFilter()
        else:
            with registered_entities() as (extensions, entities):  # alembic_utils' register_entities
                captured = capture_environment(settings)
            assert captured.metadata is not None
            metadata, schema_filter = captured.metadata, captured.schema_filter
        schema_files = autogenerate.schema_file_statements(settings, dev.dialect_name)  # recorded: read here
    renames = rename_hints(metadata)
    desired, key = autogenerate.desired_schema_keyed(dev, metadata, timings, [*entities, *schema_files],
                                                     extensions)
    if key is not None:  # an uncacheable load is saved without its inputs: never reused, but known to have run
        save(settings, dev.dialect_name, identity, recorded() if schema_filter.cacheable else None,
             ModelsSnapshot(key, renames, schema_filter.without_callables()))
    return desired, renames, schema_filter


# Events after which a load's outcome is not a function of files and environment variables.
_UNCACHEABLE = frozenset({
    "socket.connect", "socket.getaddrinfo", "sqlite3.connect", "subprocess.Popen", "os.system", "os.exec",
    "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "urllib.Request",
})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@dataclass(frozen=True)
class ModelsSnapshot:
    """What loading the models produced, as far as planning needs it."""

    desired_key: str  # replay cache key of the models' inspected schema
    renames: Renames  # declared in the models
    schema_filter: SchemaFilter | None = None  # env.py's, when it is plain data (no include_object etc.)


@dataclass
class _Recorder:
    thread: int = field(default_factory=threading.get_ident)
    files: set[str] = field(default_factory=set)
    listings: set[str] = field(default_factory=set)
    env: dict[str, str | None] = field(default_factory=dict)
    whole_env: bool = False
    uncacheable: str | None = None

    def note_env(self, name: str, value: str | None) -> None:
        if threading.get_ident() == self.thread:
            self.env.setdefault(name, value)  # the value when first read


_active: list[_Recorder] = []
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    recorder = _active[-1]
    if threading.get_ident() != recorder.thread:
        return
    if event in _UNCACHEABLE:
        recorder.uncacheable = recorder.uncacheable or event
    elif event == "open":
        path, mode, flags = args
        writes = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITE_FLAGS)
        if isinstance(path, (str, bytes, os.PathLike)) and not writes:
            recorder.files.add(_source_of(os.path.abspath(os.fsdecode(path))))
    elif event in ("os.listdir", "os.scandir"):
        path = args[0]
        if path is None or isinstance(path, (str, bytes, os.PathLike)):
            recorder.listings.add(os.path.abspath(os.fsdecode(path if path is not None else ".")))


class _WatchedEnviron(os._Environ):
    """os.environ while the models load: reads are noted (iteration and len() depend on all of it)."""

    def __getitem__(self, key: str) -> str:
        value = None
        try:
            value = super().__getitem__(key)
            return value
        finally:
            for recorder in _active[-1:]:
                recorder.note_env(key, value)

    def __iter__(self) -> Iterator[str]:
        self._whole()
        return super().__iter__()

    def __len__(self) -> int:
        self._whole()
        return super().__len__()

    @staticmethod
    def _whole() -> None:
        for recorder in _active[-1:]:
            recorder.whole_env = recorder.whole_env or threading.get_ident() == recorder.thread


@contextlib.contextmanager
def recording() -> Iterator[Callable[[], dict[str, Any] | None]]:
    """Record what the block reads; yields a function returning the recorded inputs (None: uncacheable)."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: it does nothing outside a recording
        _hook_installed = True
    recorder = _Recorder()
    _active.append(recorder)
    os.environ.__class__ = _WatchedEnviron
    result: list[dict[str, Any] | None] = []
    try:
        yield lambda: result[0] if result else None
    finally:
        os.environ.__class__ = os._Environ
        _active.remove(recorder)
    result.append(_inputs_of(recorder))


def _inputs_of(recorder: _Recorder) -> dict[str, Any] | None:
    if recorder.uncacheable:
        return None
    files = set(recorder.files)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and not _in_stdlib(path) and not path.startswith(_OWN):
            files.add(os.path.abspath(path))
    env = dict(os.environ) if recorder.whole_env else recorder.env
    return {
        "files": {path: _file_state(path) for path in sorted(files)},
        "listings": {path: _listing_state(path) for path in sorted(recorder.listings)},
        "env": env,
        "whole_env": recorder.whole_env,
    }


def _still_valid(inputs: dict[str, Any]) -> bool:
    env = dict(os.environ) if inputs["whole_env"] else {name: os.environ.get(name) for name in inputs["env"]}
    if env != inputs["env"]:
        return False
    return all(_listing_state(p) == state for p, state in inputs["listings"].items()) and all(
        _file_state(p) == state for p, state in inputs["files"].items())


# -- file states -----------------------------------------------------------------------------------------

_PATHS = sysconfig.get_paths()
_STDLIB = tuple({os.path.join(_PATHS[k], "") for k in ("stdlib", "platstdlib")})
_INSTALLED = tuple({os.path.join(p, "") for p in (_PATHS["purelib"], _PATHS["platlib"], *sys.path)
                    if p.endswith(("site-packages", "dist-packages"))})


_OWN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")  # keyed by replay_cache.code_fingerprint


def _in_stdlib(path: str) -> bool:
    # The standard library is keyed by the Python version; site-packages may live inside its directory.
    return path.startswith(_STDLIB) and not path.startswith(_INSTALLED)


def _source_of(path: str) -> str:
    """A compiled module's source (the .pyc is rewritten only when Python next imports the source)."""
    if path.endswith(".pyc") and os.path.basename(os.path.dirname(path)) == "__pycache__":
        import importlib.util

        with contextlib.suppress(ValueError):
            return importlib.util.source_from_cache(path)
    return path


def _file_state(path: str) -> list[Any]:
    try:
        stat = os.stat(path)
    except OSError:
        return ["missing"]
    if path.startswith(_INSTALLED) or _in_stdlib(path):
        return ["stat", stat.st_size, stat.st_mtime_ns]
    if not os.path.isfile(path):
        return ["not a file"]
    try:
        with open(path, "rb") as f:
            return ["sha256", hashlib.sha256(f.read()).hexdigest()]
    except OSError:
        return ["unreadable"]


def _listing_state(path: str) -> list[Any]:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return ["missing"]
    return ["sha256", hashlib.sha256("\0".join(names).encode()).hexdigest()]


# -- entries ---------------------------------------------------------------------------------------------


def _settings_key(settings: Settings, dialect: str, identity: str) -> str:
    sha = hashlib.sha256(f"{replay_cache.code_fingerprint()}\0{sys.version}\0{dialect}\0{identity}\0".encode())
    described = {
        "config_file": str(settings.config_file), "toml_file": str(settings.toml_file), "url": settings.url,
        "x": list(settings.x_args), "section": settings.ini_section, "metadata": settings.metadata_ref,
        "script_location": str(settings.script_location), "cwd": os.getcwd(),
    }
    sha.update(json.dumps(described, sort_keys=True).encode())
    # Their contents too, whether or not the load happens to open them again (Alembic reads them lazily).
    env_py = settings.script_location / "env.py" if settings.script_location is not None else None
    for path in (settings.config_file, settings.toml_file, env_py):
        sha.update(repr(_file_state(str(path)) if path is not None else None).encode())
    return sha.hexdigest()


def lookup(settings: Settings, dialect: str, identity: str | None) -> tuple[ModelsSnapshot | None, bool]:
    """The snapshot of the last load of these models, if every input it recorded is unchanged (a load saved
    without inputs never is); and whether these models were loaded with this cache before at all."""
    if not replay_cache.enabled() or identity is None:
        return None, False
    key = _settings_key(settings, dialect, identity)
    found = replay_cache.read_entry("models", key)
    if found is None:
        return None, False
    try:
        inputs, snapshot = pickle.loads(found[1])
        valid = isinstance(snapshot, ModelsSnapshot) and inputs is not None and _still_valid(inputs)
    except Exception:  # a payload we cannot use is damaged, whatever the reason
        replay_cache.discard_entry("models", key)
        return None, False
    return (snapshot if valid else None), True


def save(settings: Settings, dialect: str, identity: str | None, inputs: dict[str, Any] | None,
         snapshot: ModelsSnapshot) -> None:
    if not replay_cache.enabled() or identity is None:
        return
    key = _settings_key(settings, dialect, identity)
    replay_cache.write_entry("models", key, pickle.dumps((inputs, snapshot)),
                             files=len(inputs["files"]) if inputs is not None else 0)
