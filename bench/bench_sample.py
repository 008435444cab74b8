"""Cold `atlembic revision --autogenerate` on the sample project, as a user runs it (a new process
each time, empty migration directory), on SQLite and on PostgreSQL with the embedded ephemeral
cluster started and removed by each run. Prints median/min/max over N runs.

    python bench/bench_sample.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed_revision(project: Path, extra: list[str]) -> float:
    shutil.rmtree(project / "migrations", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "atlembic", *extra, "revision", "--autogenerate", "-m", "init"],
                   cwd=project, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from atlembic.devdb.postgresql import EphemeralPostgres, find_pg_bindir

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "sample_project"
        shutil.copytree(REPO / "sample_project", project,
                        ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
        server = EphemeralPostgres(find_pg_bindir())
        server.start()
        try:
            target = server.create_database("bench_target").render_as_string(hide_password=False)
            for label, extra in (("sqlite (in-memory dev)", []), ("postgresql (ephemeral cluster)", ["--url", target])):
                times = [timed_revision(project, extra) for _ in range(args.runs)]
                print(f"{label:32s} median {statistics.median(times):.3f} s  min {min(times):.3f}  "
                      f"max {max(times):.3f}  (n={len(times)})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
