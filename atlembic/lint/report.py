"""Lint output: text (``<file>:<line>: <CODE>: <message>`` + summary), json, and GitHub annotations."""

from __future__ import annotations

import json

from atlembic.errors import plural
from atlembic.lint.runner import LintResult

__all__ = ["FORMATS", "render", "summary"]

FORMATS = ("text", "json", "github")


def summary(result: LintResult) -> str:
    n = len(result.files)
    files = plural(n, "file")
    if result.files:
        span = result.files[0] if n == 1 else f"{result.files[0]} .. {result.files[-1]}"
        files += f" ({span})"
    errors, warnings = len(result.errors), len(result.warnings)
    counts = f"{plural(errors, 'error')}, {plural(warnings, 'warning')}" if result.findings else "no findings"
    text = f"Analyzed {files} on {result.dev_description}: {counts}"
    if result.skipped:
        text += f"; skipped {len(result.skipped)} (nolint or checkpoint): {', '.join(result.skipped)}"
    if result.target:
        text += f"; data checked on {result.target}"
    return text


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: LintResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({
            "files": result.files, "skipped": result.skipped, "dev": result.dev_description,
            "target": result.target, "errors": len(result.errors), "warnings": len(result.warnings),
            "findings": [f.as_json() for f in result.findings], "verified": result.verified,
        }, indent=2)
    lines = []
    for f in result.findings:
        if fmt == "github":
            # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
            level = "error" if f.error else "warning"
            lines.append(f"::{level} file={_escape_property(f.path)},line={f.line},"
                         f"title={_escape_property(f.code)}::{_escape_data(f.message)}")
        else:
            lines.append(f"{f.path}:{f.line}: {f.code}: {f.message}")
    if fmt == "text":
        lines.extend(f"  verified: {v}" for v in result.verified)
    lines.append(summary(result))
    return "\n".join(lines)
