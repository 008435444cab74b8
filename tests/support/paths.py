"""Data files kept in the repository for the tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Files written by Atlas, at their paths in Atlas's repository (tests/fixtures/atlas/README.md).
ATLAS_VECTORS = FIXTURES / "atlas"
