"""The import contract of docs/architecture.md: every import points down the layers, siblings of one layer
do not import each other, and no module imports itself around a cycle. Imports inside functions count the
same as those at the top of a module (a function-local import does not make a cycle go away)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "atlembic"

# Top to bottom. A module may import modules of the layers below its own, and of its own package (a
# subpackage or module listed here); the entries of one layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("atlembic.__main__",),
    ("atlembic.cli", "atlembic.pytest_plugin"),
    ("atlembic.commands",),
    ("atlembic.convert",),
    ("atlembic.autogenerate", "atlembic.lint"),
    ("atlembic.replay", "atlembic.target", "atlembic.scaffold", "atlembic.atlas"),
    ("atlembic.engines",),
    ("atlembic.plan",),
    ("atlembic.environment",),
    ("atlembic.config", "atlembic.provider", "atlembic.flask_app"),
    ("atlembic.diff",),
    ("atlembic.schema",),
    ("atlembic.migrate",),
    ("atlembic.devdb",),
    ("atlembic.errors", "atlembic.timings"),
    ("atlembic",),  # the package itself: __version__
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported atlembic module, line) for every import statement of `module`, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("atlembic"):
                continue
            names_a_module = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules]
            yield from ((name, node.lineno) for name in names_a_module)
            if len(names_a_module) < len(node.names) and source in modules:
                yield source, node.lineno


def _graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    return {m: {t: line for t, line in _imports(m, p, modules) if t != m} for m, p in modules.items()}


def _layer_of(module: str) -> tuple[int, str]:
    best: tuple[int, str] | None = None
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    assert best is not None, f"{module} is in no layer of LAYERS: add it (and to docs/architecture.md)"
    return best


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        _layer_of(module)


def test_imports_point_down() -> None:
    wrong = []
    for module, targets in sorted(_graph().items()):
        index, entry = _layer_of(module)
        for target, line in sorted(targets.items()):
            target_index, target_entry = _layer_of(target)
            if target_entry == entry:
                continue  # inside one package: acyclic is checked below
            if target_index < index or (target_index == index and target_entry != entry):
                wrong.append(f"{module} (line {line}) imports {target}: {entry} may not import {target_entry}")
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    """The checker itself: a two-module loop and a three-module loop are found, a chain is not."""
    assert _cycles({"a": {"b": 1}, "b": {"a": 1}, "c": {"a": 1}}) == [["a", "b"]]
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) == []


def test_function_local_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from atlembic.cli import app\n    import atlembic.errors\n")
    modules = {"atlembic.cli": source, "atlembic.errors": source, "atlembic.cli.app": source}
    assert sorted(_imports("atlembic.x", source, modules)) == [("atlembic.cli.app", 2), ("atlembic.errors", 3)]
