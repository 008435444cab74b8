"""A password in a URL never reaches the output: neither the user-info one nor a query-string one
(``?password=``), whether the URL is the target (`--url`) or the dev database (`--dev-url`), whichever
command fails on it. Every message goes through `atlembic.errors.mask_url` / `one_line`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atlembic.errors import mask_url, one_line
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow  # 18 CLI processes: what a failing command prints, as its own process

REPO = Path(__file__).resolve().parents[1]
SECRET = "s3cret-Pw9"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project(tmp_path: Path) -> Path:
    (tmp_path / "models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('item', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nsqlalchemy.url = sqlite:///target.db\n\n[atlembic]\nmetadata = models:metadata\n"
    )
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "20250101000000_item.sql").write_text("CREATE TABLE item (id integer PRIMARY KEY);\n")
    run_cli(tmp_path, "hash")  # set-up only: in this process (the command under test runs as its own process)
    return tmp_path


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ATLEMBIC_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


# "{port}": a closed loopback port, chosen when the test runs (the test ids stay the same in every pytest
# process, as pytest-xdist's workers require).
URLS = [
    f"postgresql+psycopg://app:{SECRET}@127.0.0.1:{{port}}/app",
    f"postgresql+psycopg://app@127.0.0.1:{{port}}/app?password={SECRET}",
    f"mysql+pymysql://app@127.0.0.1:{{port}}/app?password={SECRET}&charset=utf8mb4",
]


def _urls() -> list[str]:
    port = _closed_port()
    return [url.format(port=port) for url in URLS]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("command", [
    ["--url", "{url}", "upgrade", "head"],
    ["--url", "{url}", "current"],
    ["--url", "{url}", "check", "--drift"],
    ["--url", "{url}", "lint", "--url", "{url}"],
    ["--url", "{url}", "downgrade", "base"],
    ["--url", "{url}", "--dev-url", "{url}", "check"],
])
def test_no_password_in_any_failure(tmp_path: Path, url: str, command: list[str]) -> None:
    project = _project(tmp_path)
    url = url.format(port=_closed_port())
    proc = _run(project, *[part.format(url=url) for part in command])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert SECRET not in out
    assert "Traceback" not in out
    assert "FAILED:" in out and out.count("\n") <= 3, out


def test_mask_url_masks_every_spelling() -> None:
    for url in _urls() + [f"not a url://u:{SECRET}@h/db?pwd={SECRET}"]:
        assert SECRET not in mask_url(url)


def test_one_line_masks_what_the_driver_repeats() -> None:
    """Drivers put the connection string in their messages: `one_line` masks the URL's secrets there."""
    url = f"postgresql+psycopg://app@127.0.0.1:1/app?password={SECRET}"
    error = RuntimeError(f"connection to server failed:\n  password={SECRET} host=127.0.0.1")
    text = one_line(error, url)
    assert SECRET not in text and "\n" not in text and "host=127.0.0.1" in text
