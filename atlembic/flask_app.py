"""The Flask application a Flask-Migrate env.py runs under, found as ``flask db`` finds it.

Flask-Migrate's env.py templates read everything from ``flask.current_app`` (the URL, the models' metadata,
``configure_args``): they only run inside an application context, which ``flask db ...`` pushes after loading
the app from ``FLASK_APP`` (or ``app.py`` / ``wsgi.py`` in the working directory). atlembic does the same
around env.py, with ``[atlembic] flask_app`` taking precedence over ``FLASK_APP``. The app is created inside
the caller's connection guard and engine redirection, so an app that connects while it starts is refused
(or, for convert, aimed at the dev database) like env.py itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

from atlembic.errors import AtlembicError, one_line

__all__ = ["FLASK_APP_ENV", "app_context", "needs_flask_app"]

FLASK_APP_ENV = "FLASK_APP"
# What Flask-Migrate's templates (flask, flask-multidb, aioflask, aioflask-multidb) and projects written
# after them have in common: env.py takes the app from flask's current_app.
_USES_CURRENT_APP = re.compile(r"^\s*from\s+flask\s+import\s+[^\n]*\bcurrent_app\b|\bflask\.current_app\b",
                               re.MULTILINE)


def needs_flask_app(env_py: Path, configured: str | None) -> bool:
    """Whether env.py runs under a Flask application context: one is configured, or env.py reads
    ``flask.current_app`` (and Flask is installed: without it env.py's own import fails, and says so)."""
    if configured:
        return True
    try:
        source = env_py.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_USES_CURRENT_APP.search(source)) and importlib.util.find_spec("flask") is not None


def app_context(env_py: Path, configured: str | None) -> contextlib.AbstractContextManager[None]:
    """What env.py runs under: the project's Flask application context when it needs one, else nothing."""
    return _flask_app_context(env_py, configured) if needs_flask_app(env_py, configured) else contextlib.nullcontext()


@contextlib.contextmanager
def _flask_app_context(env_py: Path, configured: str | None) -> Iterator[None]:
    """An application context of the project's Flask app around the block, as ``flask db`` has one.
    `configured`: ``[atlembic] flask_app``; else ``$FLASK_APP``; else Flask's own discovery in the CWD."""
    from flask.cli import NoAppException, ScriptInfo

    import_path = configured or os.environ.get(FLASK_APP_ENV) or None
    where = ("[atlembic] flask_app = " + configured if configured
             else f"{FLASK_APP_ENV}={import_path}" if import_path else "app.py / wsgi.py in " + os.getcwd())
    try:
        app = ScriptInfo(app_import_path=import_path, set_debug_flag=False).load_app()
    except NoAppException as exc:
        raise AtlembicError(
            f"{env_py} runs under a Flask app (flask.current_app) and none was found ({where}: {one_line(exc)}): "
            f"set {FLASK_APP_ENV}=package.module:app as for `flask db`, or [atlembic] flask_app") from exc
    except AtlembicError:
        raise
    except Exception as exc:
        raise AtlembicError(f"loading the Flask app for {env_py} ({where}): {one_line(exc, with_type=True)}") from exc
    with app.app_context():
        yield
