"""SQL text as the reflectors read it: characters outside quotes with their parenthesis depth, and lists
split at their top-level commas (SQLite's stored statements, PostgreSQL's deparsed expressions)."""

from __future__ import annotations

from collections.abc import Iterator


def walk(text: str) -> Iterator[tuple[int, str, int]]:
    """Yield (index, char, depth) for characters outside quotes; depth counts open parentheses."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
            continue
        depth += (ch == "(") - (ch == ")")
        yield i, ch, depth


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and quotes (index key lists, expression lists)."""
    cuts = [i for i, ch, depth in walk(text) if ch == sep and depth == 0]
    bounds = zip([-1, *cuts], [*cuts, len(text)], strict=True)
    return [text[a + 1 : b].strip() for a, b in bounds]


def unwrap(text: str) -> str:
    """`((lower(email)))` -> `lower(email)`: parentheses around the whole expression say nothing, and
    `(lower(email))` and `lower(email)` are the same key part however a statement spelled it. `(a) + (b)`
    stays as it is: its first parenthesis closes before the end."""
    text = text.strip()
    while text.startswith("(") and next(
            (i for i, ch, depth in walk(text) if ch == ")" and depth == 0), -1) == len(text) - 1:
        text = text[1:-1].strip()
    return text
