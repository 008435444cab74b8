"""atlas.hcl read with a real HCL2 parser (python-hcl2), and the expressions of its attributes evaluated.

python-hcl2 parses the file's structure (blocks, labels, attributes) and hands each attribute back as the text
of its expression (``"file://${local.dir}"``, ``${data.external_schema.x.url}``, ``getenv("X")``); this
module evaluates those texts the way Atlas does, lazily: an attribute is evaluated when it is asked for, so
a data source that the selected env never references never runs (Atlas's partial evaluation).

What is evaluated: string templates (``${...}``, ``$${`` and ``%%{`` escapes), heredocs, numbers, bools,
null, lists, objects, references (`Scope` resolves them), function calls (`FUNCTIONS`), indexes, ``!``,
``-``, arithmetic, comparisons, ``&&``/``||`` and ``cond ? a : b``. A bare word that names nothing in scope
is its own text, as Atlas's enum-like values are (``format = atlas``, ``exec_order = LINEAR_SKIP``).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlembic.errors import AtlembicError

__all__ = ["Block", "ExprError", "HclError", "HclSet", "Scope", "evaluate", "parse_file"]


class HclError(AtlembicError):
    """A bad atlas.hcl: the message names the file, the line where known, and the attribute at fault."""


@dataclass
class Block:
    """One block of the file: ``env "local" { ... }`` is type ``env``, labels ``("local",)``; attribute values
    are python-hcl2's expression texts (or plain numbers and bools), children are nested blocks."""

    type: str
    labels: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[Block] = field(default_factory=list)

    def blocks(self, kind: str) -> list[Block]:
        return [b for b in self.children if b.type == kind]

    def block(self, kind: str) -> Block | None:
        found = self.blocks(kind)
        return found[-1] if found else None

    @property
    def address(self) -> str:
        """How messages name the block: ``env "local"``, ``data "external_schema" "x"``."""
        return " ".join([self.type, *(f'"{label}"' for label in self.labels)])


def parse_file(path: Path) -> Block:
    """The whole file as one root block (type ``""``); a syntax error is one line with the parser's line."""
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HclError(f"{path}: {exc.strerror}") from None
    try:
        data = hcl2.loads(text, serialization_options=SerializationOptions(with_comments=False))
    except LarkError as exc:
        line = getattr(exc, "line", None)
        where = f":{line}" if isinstance(line, int) and line > 0 else ""
        reason = str(exc).strip().splitlines()[0]
        raise HclError(f"{path}{where}: syntax error: {reason}") from None
    return _block("", (), data)


def _unquote_label(key: str) -> str:
    return json.loads(key) if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _is_meta(key: str) -> bool:
    return key.startswith("__") and key.endswith("__")


def _block(kind: str, labels: tuple[str, ...], body: Mapping[str, Any]) -> Block:
    block = Block(kind, labels)
    for key, value in body.items():
        if _is_meta(key):
            continue
        bodies = _block_bodies(value)
        if bodies is None:
            block.attributes[key] = value
            continue
        for child_labels, child in bodies:
            block.children.append(_block(key, child_labels, child))
    return block


def _block_bodies(value: Any) -> list[tuple[tuple[str, ...], dict[str, Any]]] | None:
    """python-hcl2 keeps the blocks of one type as a list of dicts, each nested one level per label down to
    a body marked ``__is_block__``; None when `value` is an attribute's value instead."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return None
    found = []
    for item in value:
        labels: list[str] = []
        body: Any = item
        while isinstance(body, dict) and "__is_block__" not in body:
            keys = [k for k in body if not _is_meta(k)]
            if len(keys) != 1:
                return None
            labels.append(_unquote_label(keys[0]))
            body = body[keys[0]]
        if not isinstance(body, dict):
            return None
        found.append((tuple(labels), body))
    return found


# ------------------------------------------------------------------------------------------------------
# Expressions


class Scope:
    """What references resolve to while an attribute is evaluated: ``resolve(root, path)`` gets the root
    name (``var``, ``local``, ``data``, ``atlas``) and the attribute names and indexes after it, and returns
    the value, or raises `LookupError` for a root it does not know (a bare word is then its own text) and
    `ExprError` for a reference it cannot follow."""

    def resolve(self, root: str, path: list[Any]) -> Any:
        raise LookupError(root)


class ExprError(Exception):
    """A bad expression (or a reference `Scope.resolve` cannot follow); `evaluate` turns it into an HclError
    naming the attribute."""


def _getenv(name: Any) -> str:
    return os.environ.get(str(name), "")


def _contains(items: Any, value: Any) -> bool:
    return value in items


def _join(sep: Any, items: Any) -> str:
    return str(sep).join(str(i) for i in items)


def _urlescape(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


# Atlas's own functions for atlas.hcl and the HCL standard library ones that project files use.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "getenv": _getenv,
    "contains": _contains,
    "join": _join,
    "urlescape": _urlescape,
    "urlqueryset": lambda url, key, value: _urlqueryset(str(url), str(key), str(value)),
    "urlsetpath": lambda url, path: _urlsetpath(str(url), str(path)),
    "urluserinfo": lambda url, user, password=None: _urluserinfo(str(url), str(user), password),
    "toset": lambda items: _toset(items),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trimspace": lambda s: str(s).strip(),
    "format": lambda fmt, *args: _go_format(str(fmt), args),
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "length": len,
    "tostring": lambda v: _text(v),
    "replace": lambda s, old, new: str(s).replace(str(old), str(new)),
    "split": lambda sep, s: str(s).split(str(sep)),
}


def _urlqueryset(url: str, key: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query[key] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _urlsetpath(url: str, path: str) -> str:
    """Go's ``u.Path = path; u.String()``: a path after a host gets its leading slash."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=urllib.parse.quote(path, safe="/")))


def _urluserinfo(url: str, user: str, password: Any) -> str:
    parts = urllib.parse.urlsplit(url)
    userinfo = urllib.parse.quote(user, safe="")
    if password is not None:
        userinfo += ":" + urllib.parse.quote(str(password), safe="")
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


class HclSet(list[str]):
    """The value of ``toset()``: a list (a set's order) whose elements are their own keys in a ``for_each``."""


def _toset(items: Any) -> HclSet:
    """HCL's ``toset``: the distinct elements, in a set's order (strings sorted, as cty orders a set of them)."""
    if not isinstance(items, list) or any(isinstance(i, (list, dict)) or i is None for i in items):
        raise ExprError("toset() expects a list of strings, numbers or bools")
    return HclSet(sorted({_text(i) for i in items}))


def _go_format(fmt: str, args: tuple[Any, ...]) -> str:
    values = iter(args)
    return re.sub(r"%[sdvq%]", lambda m: "%" if m[0] == "%%" else
                  (json.dumps(_text(next(values))) if m[0] == "%q" else _text(next(values))), fmt)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise ExprError("null value in a string template")
    if isinstance(value, (list, dict)):
        raise ExprError("a list or object in a string template")
    return str(value)


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<string>")
  | (?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|[-+*/%!<>?:.,\[\](){}=])
""", re.VERBOSE | re.DOTALL)


class _Parser:
    """A recursive-descent evaluator of one expression text (HCL's precedence), evaluating as it parses."""

    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.pos = 0
        self.scope = scope

    # -- tokens ----------------------------------------------------------------------------------------

    def _skip(self) -> None:
        while True:
            m = _TOKEN.match(self.text, self.pos)
            if m is None or m.lastgroup != "space":
                return
            self.pos = m.end()

    def peek(self) -> tuple[str, str]:
        self._skip()
        if self.pos >= len(self.text):
            return ("end", "")
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            raise ExprError(f"unexpected character {self.text[self.pos]!r}")
        assert m.lastgroup is not None
        return (m.lastgroup, m[0])

    def take(self) -> tuple[str, str]:
        kind, value = self.peek()
        self.pos += len(value)
        return kind, value

    def expect(self, op: str) -> None:
        kind, value = self.take()
        if (kind, value) != ("op", op):
            raise ExprError(f"expected {op!r}, found {value or 'the end'!r}")

    def at(self, op: str) -> bool:
        return self.peek() == ("op", op)

    # -- grammar -----------------------------------------------------------------------------------------

    def whole(self) -> Any:
        value = self.expression()
        if self.peek()[0] != "end":
            raise ExprError(f"unexpected {self.peek()[1]!r}")
        return value

    def expression(self) -> Any:
        cond = self.binary(0)
        if not self.at("?"):
            return cond
        self.take()
        yes = self.expression()
        self.expect(":")
        no = self.expression()
        return yes if cond else no

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"),
                                            ("*", "/", "%"))

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.at("!"):
            self.take()
            return not self.unary()
        if self.at("-"):
            self.take()
            return -_number(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        kind, word = self.peek()
        if kind == "name" and word not in ("true", "false", "null", "for"):
            self.take()
            if self.at("("):
                return self.call(word)
            path: list[Any] = []
            while True:
                if self.at("."):
                    self.take()
                    part_kind, part = self.take()
                    if part_kind not in ("name", "number"):
                        raise ExprError(f"expected an attribute name after {word}.")
                    path.append(int(part) if part_kind == "number" else part)
                elif self.at("["):
                    self.take()
                    path.append(self.expression())
                    self.expect("]")
                else:
                    break
            try:
                return self.scope.resolve(word, path)
            except LookupError:
                if path:
                    raise ExprError(f"unknown reference {'.'.join([word, *map(str, path)])}") from None
                return word
        value = self.primary()
        while self.at("[") or self.at("."):
            if self.take()[1] == "[":
                key = self.expression()
                self.expect("]")
            else:
                key = self.take()[1]
            value = _index(value, key)
        return value

    def items(self, closing: str) -> list[Any]:
        """Comma-separated expressions up to `closing` (a trailing comma allowed), after the opening one."""
        values = []
        while not self.at(closing):
            values.append(self.expression())
            if not self.at(closing):
                self.expect(",")
        self.take()
        return values

    def call(self, name: str) -> Any:
        self.expect("(")
        args = self.items(")")
        function = FUNCTIONS.get(name)
        if function is None:
            raise ExprError(f"function {name}() is not supported")
        try:
            return function(*args)
        except ExprError:
            raise
        except Exception as exc:
            raise ExprError(f"{name}(): {exc}") from None

    def primary(self) -> Any:
        kind, word = self.take()
        if kind == "number":
            return float(word) if re.search(r"[.eE]", word) else int(word)
        if kind == "name":
            if word == "for":
                raise ExprError("for expressions are not supported")
            return {"true": True, "false": False, "null": None}[word]
        if kind == "string":
            return self.template('"')
        if word == "(":
            value = self.expression()
            self.expect(")")
            return value
        if word == "[":
            if self.peek() == ("name", "for"):
                raise ExprError("for expressions are not supported")
            return self.items("]")
        if word == "{":
            obj = {}
            while not self.at("}"):
                key_kind, key = self.peek()
                key = self.take()[1] if key_kind == "name" else _text(self.expression())
                if not (self.at("=") or self.at(":")):
                    raise ExprError(f"expected = after object key {key!r}")
                self.take()
                obj[key] = self.expression()
                if self.at(","):
                    self.take()
            self.take()
            return obj
        raise ExprError(f"unexpected {word or 'end of expression'!r}")

    def template(self, closing: str | None) -> str:
        """A string template's text after its opening quote, up to `closing` (None: the end of the text)."""
        out: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                if closing is None:
                    return "".join(out)
                raise ExprError("unterminated string")
            c = text[self.pos]
            if closing is not None and c == closing:
                self.pos += 1
                return "".join(out)
            if c == "\\" and closing is not None:
                out.append(self._escape())
            elif text.startswith("$${", self.pos) or text.startswith("%%{", self.pos):
                out.append(text[self.pos + 1:self.pos + 3])
                self.pos += 3
            elif text.startswith("${", self.pos):
                self.pos += 2
                value = self.expression()
                self._skip()
                if not text.startswith("}", self.pos):
                    raise ExprError("unterminated ${ in a string")
                self.pos += 1
                out.append(_text(value))
            elif text.startswith("%{", self.pos):
                raise ExprError("template directives (%{...}) are not supported")
            else:
                out.append(c)
                self.pos += 1

    def _escape(self) -> str:
        text = self.text
        nxt = text[self.pos + 1:self.pos + 2]
        simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
        if nxt in simple:
            self.pos += 2
            return simple[nxt]
        if nxt in ("u", "U"):
            width = 4 if nxt == "u" else 8
            digits = text[self.pos + 2:self.pos + 2 + width]
            if not re.fullmatch(r"[0-9A-Fa-f]+", digits) or len(digits) != width:
                raise ExprError(f"invalid escape \\{nxt}{digits}")
            self.pos += 2 + width
            return chr(int(digits, 16))
        raise ExprError(f"invalid escape \\{nxt}")


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return int(value) if re.fullmatch(r"-?\d+", str(value)) else float(value)
        except (TypeError, ValueError):
            raise ExprError(f"{value!r} is not a number") from None
    return value


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "||":
        return bool(left) or bool(right)
    if op == "&&":
        return bool(left) and bool(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    a, b = _number(left), _number(right)
    if op in ("<", ">", "<=", ">="):
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    if op in ("/", "%") and b == 0:
        raise ExprError("division by zero")
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "%": lambda: a % b}[op]()


def _index(value: Any, key: Any) -> Any:
    try:
        return value[int(key)] if isinstance(value, list) else value[key]
    except (KeyError, IndexError, TypeError, ValueError):
        raise ExprError(f"no element {key!r}") from None


def _heredoc(text: str) -> str | None:
    """The template text of a heredoc as python-hcl2 hands it over (``"<<EOF\\n...\\nEOF"``); ``<<-`` strips
    the common leading white space, as HCL does. None when `text` is no heredoc."""
    m = re.fullmatch(r'"?<<(-?)([A-Za-z_][A-Za-z0-9_]*)\n(.*?)\n?[ \t]*\2"?\s*', text, re.DOTALL)
    if m is None:
        return None
    body = m[3]
    if m[1]:
        lines = body.split("\n")
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        body = "\n".join(line[cut:] for line in lines)
    return body + "\n"


def evaluate(value: Any, scope: Scope, where: str) -> Any:
    """The value of one attribute as python-hcl2 hands it over (expression text, number, bool, list or
    object of those); `where` names it in messages (``atlas.hcl:12: env "local": url``)."""
    try:
        return _evaluate(value, scope)
    except ExprError as exc:
        raise HclError(f"{where}: {exc}") from None


def _evaluate(value: Any, scope: Scope) -> Any:
    if isinstance(value, str):
        heredoc = _heredoc(value)
        if heredoc is not None:
            return _Parser(heredoc, scope).template(None)
        text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
        return _Parser(text, scope).whole()
    if isinstance(value, list):
        return [_evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {_unquote_label(k): _evaluate(v, scope) for k, v in value.items() if not _is_meta(k)}
    return value
