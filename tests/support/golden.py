"""Golden SQL: the migration each round-trip case plans, per dialect, compared byte for byte with
tests/fixtures/golden/<dialect>/<case>.sql (as Atlas keeps testdata/ per driver), so the SQL users read is pinned
and every change to it shows in review. The round trips compare the text they planned (tests/test_roundtrip.py,
tests/test_mysql.py), so a case is planned once for both checks.

    ATLEMBIC_REGENERATE_GOLDEN=1 python -m pytest tests/test_roundtrip.py tests/test_mysql.py -k round_trip
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
REGENERATE = os.environ.get("ATLEMBIC_REGENERATE_GOLDEN") == "1"


def compare_golden(dialect: str, case_id: str, text: str) -> None:
    """The planned A -> B text of `case_id` on `dialect` ("mysql" for MariaDB) must be its golden file."""
    path = GOLDEN / dialect / f"{case_id}.sql"
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}: run with ATLEMBIC_REGENERATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path} differs from the planned SQL:\n{text}"
