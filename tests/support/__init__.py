"""Helpers of the test suite (fixtures, harnesses, case corpora); not collected as tests."""
