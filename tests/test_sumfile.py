"""atlas.sum: byte-for-byte agreement with files written by Atlas, and validation errors."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from atlembic.errors import AtlembicError
from atlembic.migrate.sumfile import ChecksumError, HashFile, compute_sum, is_sum_ignored, validate_sum
from tests.support.paths import ATLAS_VECTORS

SUM_DIRS = sorted(p.parent for p in ATLAS_VECTORS.rglob("atlas.sum"))
EMPTY_SUM = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"


def _dir_files(path: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(path.glob("*.sql")) if p.is_file()]


def _b64sha(*parts: bytes) -> str:
    return base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode()


def test_all_atlas_vector_dirs_found() -> None:
    # The README promises 22 folders; fewer means the vectors moved and the test below ran on less.
    assert len(SUM_DIRS) == 22, f"expected 22 atlas.sum folders under {ATLAS_VECTORS}"


@pytest.mark.parametrize("path", SUM_DIRS, ids=lambda p: str(p.relative_to(ATLAS_VECTORS)))
def test_recomputed_sum_matches_atlas(path: Path) -> None:
    stored = (path / "atlas.sum").read_bytes()
    files = _dir_files(path)
    assert compute_sum(files).to_text().encode() == stored
    parsed = HashFile.parse(stored.decode())
    assert parsed.to_text().encode() == stored
    validate_sum(files, stored.decode())


def test_empty_directory() -> None:
    assert compute_sum([]).to_text() == EMPTY_SUM
    validate_sum([], None)  # no files and no atlas.sum is fine
    validate_sum([], EMPTY_SUM)


def test_running_hash_and_header() -> None:
    hf = compute_sum([("1_a.sql", b"A;\n"), ("2_b.sql", b"B;\n")])
    first = _b64sha(b"1_a.sql", b"A;\n")
    second = _b64sha(b"1_a.sql", b"A;\n", b"2_b.sql", b"B;\n")
    assert hf.rows == [("1_a.sql", first), ("2_b.sql", second)]
    assert hf.total == _b64sha(b"1_a.sql", first.encode(), b"2_b.sql", second.encode())
    assert hf.to_text() == f"h1:{hf.total}\n1_a.sql h1:{first}\n2_b.sql h1:{second}\n"
    assert hf.hash_of("2_b.sql") == second
    with pytest.raises(AtlembicError, match="checksum not found"):
        hf.hash_of("3_c.sql")


def test_sum_ignore_hashes_name_but_not_content() -> None:
    files = [("1.sql", b"a"), ("2.sql", b"-- atlas:sum ignore\nx"), ("3.sql", b"b")]
    assert compute_sum(files).rows == [
        ("1.sql", _b64sha(b"1.sql", b"a")),
        ("3.sql", _b64sha(b"1.sql", b"a", b"2.sql", b"3.sql", b"b")),
    ]


@pytest.mark.parametrize(
    ("content", "ignored"),
    [
        (b"-- atlas:sum ignore\nSELECT 1;", True),
        (b"//atlas:sum ignore\n", True),
        (b"atlas:sum ignore", True),
        (b"-- atlas:sum ignore  \n", False),  # the argument must be exactly "ignore"
        (b"//atlas:sum\n", False),
        (b"SELECT 1;\n-- atlas:sum ignore\n", False),  # only the first line counts
        (b"\t-- atlas:sum ignore\n", False),  # the prefix must be printable ASCII
    ],
)
def test_is_sum_ignored(content: bytes, ignored: bool) -> None:
    assert is_sum_ignored(content) is ignored


FILES = [("1_a.sql", b"A;\n"), ("2_b.sql", b"B;\n"), ("3_c.sql", b"C;\n")]
SUM = compute_sum(FILES).to_text()


@pytest.mark.parametrize(
    ("files", "line", "file", "reason"),
    [
        ([FILES[0], ("2_b.sql", b"B2;\n"), FILES[2]], 3, "2_b.sql", "edited"),
        ([*FILES, ("4_d.sql", b"D;\n")], 5, "4_d.sql", "added"),
        ([FILES[0], ("1_z.sql", b"Z;\n"), *FILES[1:]], 3, "1_z.sql", "added"),
        ([FILES[0], FILES[2]], 3, "2_b.sql", "removed"),
        (FILES[:2], 4, "3_c.sql", "removed"),
    ],
)
def test_validate_reports_first_differing_file(
    files: list[tuple[str, bytes]], line: int, file: str, reason: str
) -> None:
    with pytest.raises(ChecksumError) as exc:
        validate_sum(files, SUM)
    assert (exc.value.line, exc.value.file, exc.value.reason) == (line, file, reason)
    assert str(exc.value) == f"L{line}: {file} was {reason} (run 'atlembic hash' to recompute atlas.sum)"


def test_validate_missing_sum_file() -> None:
    with pytest.raises(ChecksumError, match="checksum file not found") as exc:
        validate_sum(FILES, None)
    assert exc.value.line is None and exc.value.file is None
    assert "atlembic hash" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SUM.replace("2_b.sql h1:", "2_b.sql "), "checksum file format invalid"),
        (SUM + "\n", "checksum file format invalid"),  # an empty line is not a row
        ("h1:AAAA" + SUM[SUM.index("\n") :], "checksum mismatch"),  # header edited
        (SUM.replace("3_c.sql h1:", "3_c.sql h1:x"), "checksum mismatch"),  # row edited
        ("", "checksum mismatch"),
    ],
)
def test_unreadable_sum_file(text: str, message: str) -> None:
    with pytest.raises(ChecksumError, match=message):
        HashFile.parse(text)
    with pytest.raises(ChecksumError, match=message):
        validate_sum(FILES, text)


def test_parse_tolerates_crlf_and_missing_final_newline() -> None:
    # Go's line scanner drops a CR before LF; names are trimmed.
    assert HashFile.parse(SUM.replace("\n", "\r\n")).rows == compute_sum(FILES).rows
    assert HashFile.parse(SUM.rstrip("\n")).rows == compute_sum(FILES).rows
