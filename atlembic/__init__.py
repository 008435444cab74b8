"""atlembic: Alembic-compatible migrations, planned like Atlas."""

__version__ = "0.1.0"
