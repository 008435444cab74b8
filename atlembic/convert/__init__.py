"""An Alembic history -> an Atlas migration directory: run the real history on a dev database (run.py),
write the baseline or per-revision files and verify them (baseline.py, compare.py), and hand live databases
over from Alembic's version table (handover.py)."""
