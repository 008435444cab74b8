"""Running a project's env.py without lasting side effects, to capture ``target_metadata`` (and what else
it hands ``context.configure``).

``target_metadata`` comes either from ``[atlembic] metadata = package.module:attr`` or from the project's
env.py, run the way Alembic's offline (``--sql``) mode runs it, with ``context.configure`` intercepted so
that nothing ever connects (Alembic's ``runtime/environment.py`` is the counterpart). The process is left
as it was: working directory, ``sys.path``, logging configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import logging
import logging.config
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

from atlembic.config import (
    Settings,
    alembic_config,
    fallback_entries,
    ini_escape,
    ini_get,
    parse_ini,
    project_alembic_config,
    project_on_sys_path,
    quiet_alembic,
    settle_sys_path,
)
from atlembic.errors import AtlembicError, one_line
from atlembic.provider import merge_metadata

__all__ = ["CapturedEnvironment", "capture_environment", "import_metadata", "isolated_run", "load_target_metadata"]


@dataclass
class CapturedEnvironment:
    """What env.py handed to ``context.configure()``, one dict per call (multidb calls it per engine)."""

    env_py: Path
    configure_calls: list[dict[str, Any]]
    metadata: MetaData


def load_target_metadata(settings: Settings) -> MetaData:
    """The project's model metadata, from ``[atlembic] metadata`` or else from env.py. Never connects."""
    if settings.metadata_ref:
        return _import_metadata_ref(settings)
    return capture_environment(settings).metadata


def capture_environment(settings: Settings) -> CapturedEnvironment:
    """Run env.py as Alembic's offline mode would and record its ``context.configure()`` calls."""
    env_py, cfg = project_alembic_config(
        settings,
        "no model metadata configured in {where}: set [atlembic] metadata = package.module:attr, "
        "or [alembic] script_location to the directory holding env.py",
    )
    with quiet_alembic():
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

    if settings.url is not None:
        # env.py reads the target URL from here, so --url has to be visible to it.
        cfg.set_main_option("sqlalchemy.url", ini_escape(settings.url))
    cfg.cmd_opts = argparse.Namespace(
        x=list(settings.x_args),
        # Some env.py files branch on these; atlembic is doing what autogenerate does, offline.
        autogenerate=True,
        sql=True,
        config=str(settings.config_file) if settings.config_file else None,
        name=settings.ini_section,
        raiseerr=False,
        quiet=True,
        verbose=False,
    )

    buffer = io.StringIO()
    captured: list[dict[str, Any]] = []
    fallback_dialect = _loadable_dialect(settings)
    # The multidb template opens "<engine>.sql" in the CWD for writing before it calls configure();
    # run that kind of env.py from a scratch directory so that nothing of the user's is truncated.
    # Other env.py files run in the real CWD, because apps often read ".env" and such relative to it.
    parser = parse_ini(cfg, settings.config_file)
    scratch_cwd = ini_get(parser, settings.ini_section, "databases", settings.config_file) is not None

    with isolated_run(settings.here, scratch_cwd):
        try:
            script = ScriptDirectory.from_config(cfg)
        except Exception as exc:
            raise AtlembicError(f"{settings.config_file or 'config'}: {one_line(exc, with_type=True)}") from exc
        _absolutize_prepended(cfg)

        # A plain EnvironmentContext: alembic.context's module proxy is registered for this exact class, so
        # a subclass would leave ``context.config`` undefined inside env.py.
        env = EnvironmentContext(
            cfg,
            script,
            fn=lambda rev, context: [],  # no migration steps: the offline run emits no DDL
            as_sql=True,
            starting_rev=None,
            destination_rev="heads",
            dont_mutate=True,
        )
        original_configure = env.configure
        signature = inspect.signature(original_configure)

        def configure(*args: Any, **kwargs: Any) -> None:
            if args:
                kwargs.update(signature.bind_partial(*args).arguments)
            captured.append(dict(kwargs))
            kwargs["output_buffer"] = buffer
            if kwargs.get("connection") is None and not kwargs.get("dialect_name"):
                offline_url = kwargs.get("url")
                if offline_url is None or not _url_dialect_loads(offline_url):
                    # Placeholder "driver://" or no URL at all: offline mode only needs a dialect name.
                    kwargs.pop("url", None)
                    kwargs["dialect_name"] = fallback_dialect
            original_configure(**kwargs)

        # Instance attribute: the proxy looks ``configure`` up on the instance at call time.
        env.configure = configure  # type: ignore[method-assign]

        try:
            with env:
                script.run_env()
        except (Exception, SystemExit) as exc:
            raise AtlembicError(f"{env_py}: {one_line(exc, with_type=True)}") from exc

    return CapturedEnvironment(
        env_py=env_py, configure_calls=captured, metadata=_metadata_from(captured, env_py)
    )


def _metadata_from(captured: list[dict[str, Any]], env_py: Path) -> MetaData:
    found: list[MetaData] = []
    for call in captured:
        value = call.get("target_metadata")
        if value is None:
            continue
        found.extend(_as_metadata_list(value, f"env.py: {env_py}: target_metadata"))
    if not found:
        raise AtlembicError(f"env.py: {env_py} does not provide target_metadata to context.configure()")
    return merge_metadata(found, f"env.py: {env_py}")


def _import_metadata_ref(settings: Settings) -> MetaData:
    ref = settings.metadata_ref or ""
    return import_metadata(settings, ref, f"[atlembic] metadata = {ref}")


def import_metadata(settings: Settings, ref: str, where: str) -> MetaData:
    """The MetaData (or declarative Base, or sequence of MetaData) `ref` = "package.module:attr" names,
    imported with the project on sys.path as env.py would see it; errors name `where`."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise AtlembicError(f"{where}: expected 'package.module:attribute'")
    cfg = alembic_config(settings.config_file, settings.toml_file, settings.ini_section)
    parse_ini(cfg, settings.config_file)
    with project_on_sys_path(cfg, settings.here, keep=True):
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr_path.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise AtlembicError(f"{where}: {one_line(exc, with_type=True)}") from exc
    if not isinstance(obj, MetaData) and isinstance(getattr(obj, "metadata", None), MetaData):
        # Accept a declarative Base (or registry) too: "models:Base" is the obvious thing to write.
        obj = obj.metadata
    return merge_metadata(_as_metadata_list(obj, where), where)


def _as_metadata_list(value: Any, where: str) -> list[MetaData]:
    if isinstance(value, MetaData):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = list(value)
        if items and all(isinstance(item, MetaData) for item in items):
            return items
    raise AtlembicError(f"{where} is {type(value).__name__}, expected a MetaData or a sequence of MetaData")


@contextlib.contextmanager
def isolated_run(here: Path, scratch_cwd: bool) -> Iterator[None]:
    """Run env.py without leaving lasting marks on logging, the CWD or sys.path.

    Kept: sys.path entries added to import the models (Alembic's prepend_sys_path, anything env.py
    inserted, and the ini directory as a last-resort fallback), because lazily imported model modules
    may still need them. Already-imported modules are reused on a second run, as Python always does.
    """
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_logging = _snapshot_logging()
    saved_file_config = logging.config.fileConfig
    # env.py's fileConfig(alembic.ini) is for alembic's own CLI: it would disable every existing logger
    # (ours included) and print alembic's INFO chatter. Capturing metadata needs none of it.
    logging.config.fileConfig = _skip_file_config
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tail = fallback_entries(here, saved_path)
    sys.path.extend(tail)
    scratch = tempfile.TemporaryDirectory(prefix="atlembic-env-") if scratch_cwd else None
    try:
        if scratch is not None:
            os.chdir(scratch.name)
        yield
    finally:
        os.chdir(saved_cwd)
        if scratch is not None:
            scratch.cleanup()
        logging.config.fileConfig = saved_file_config
        _restore_logging(saved_logging)
        settle_sys_path(saved_path, tail)


def _absolutize_prepended(cfg: Any) -> None:
    # ScriptDirectory.from_config() put the raw prepend_sys_path entries (typically ".") at the front
    # of sys.path; pin them to the CWD now, before any chdir and before the models are imported.
    entries = cfg.get_prepend_sys_paths_list() or []
    for index, entry in enumerate(entries):
        if index < len(sys.path) and sys.path[index] == entry:
            sys.path[index] = os.path.abspath(entry)


def _skip_file_config(*args: Any, **kwargs: Any) -> None:
    return None


@dataclass
class _LoggingState:
    disable: int
    loggers: dict[str, tuple[bool, int, list[logging.Handler], bool]]
    root: tuple[int, list[logging.Handler]]


def _snapshot_logging() -> _LoggingState:
    manager = logging.Logger.manager
    loggers = {
        name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger)
    }
    # Record the alembic logger even if it did not exist yet, so the level we set is undone.
    alembic_logger = logging.getLogger("alembic")
    loggers.setdefault(
        "alembic",
        (
            alembic_logger.disabled,
            alembic_logger.level,
            list(alembic_logger.handlers),
            alembic_logger.propagate,
        ),
    )
    root = logging.getLogger()
    return _LoggingState(manager.disable, loggers, (root.level, list(root.handlers)))


def _restore_logging(state: _LoggingState) -> None:
    logging.disable(state.disable)
    root = logging.getLogger()
    root.setLevel(state.root[0])
    root.handlers[:] = state.root[1]
    for name, (disabled, level, handlers, propagate) in state.loggers.items():
        lg = logging.getLogger(name)
        lg.disabled = disabled
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate


def _loadable_dialect(settings: Settings) -> str:
    try:
        return settings.dialect
    except AtlembicError:
        return "sqlite"


def _url_dialect_loads(url: Any) -> bool:
    try:
        make_url(url).get_dialect()
    except Exception:
        return False
    return True

