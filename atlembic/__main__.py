from atlembic.cli import entry

entry()
