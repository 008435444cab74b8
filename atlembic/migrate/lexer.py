"""Split migration files into statements exactly the way Atlas does.

The statement list matters beyond execution: the revisions table stores how many statements a file has
(``total``) and a running hash over their texts (``partial_hashes``) so a half-applied file can be
resumed. Both only agree with the Atlas CLI if we cut files at the same places and keep the same text,
so this module follows Atlas's scanner (``sql/migrate/lex.go``) rule by rule, quirks included.

Positions: Go works on UTF-8 bytes, we work on ``str``. Statement positions are character offsets;
error columns are reported in bytes so that messages read like Atlas's.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import re
from dataclasses import dataclass, field

from atlembic.errors import AtlembicError

__all__ = [
    "SCAN_OPTIONS",
    "ScanOptions",
    "Statement",
    "match_directive",
    "scan_options",
    "split_statements",
    "statement_hashes",
]


@dataclass(frozen=True)
class ScanOptions:
    """Which dialect-specific syntax the scanner recognises (Atlas's ``ScannerOptions``)."""

    begin_end: bool = False  # BEGIN ... END compound blocks (triggers, procedures)
    begin_atomic: bool = False  # SQL-standard BEGIN ATOMIC ... END bodies (PostgreSQL)
    dollar_quote: bool = False  # PostgreSQL $tag$ ... $tag$ strings
    backslash_escapes: bool = False  # backslash escapes in every quoted string (MySQL)
    escaped_strings: bool = False  # backslash escapes in E'...' strings only (PostgreSQL)
    hash_comments: bool = False  # '# ...' line comments (MySQL)


# Each engine's (the engine, atlembic.engines, names its own).
SQLITE_SCAN = ScanOptions(begin_end=True)
POSTGRES_SCAN = ScanOptions(begin_end=True, begin_atomic=True, dollar_quote=True, escaped_strings=True)
MYSQL_SCAN = ScanOptions(begin_end=True, backslash_escapes=True, hash_comments=True)

# For callers that name a dialect (`split_statements(text, "mysql")`).
SCAN_OPTIONS: dict[str, ScanOptions] = {
    "sqlite": SQLITE_SCAN,
    "postgresql": POSTGRES_SCAN,
    "mysql": MYSQL_SCAN,
    "mariadb": MYSQL_SCAN,
}


def scan_options(dialect: str | ScanOptions) -> ScanOptions:
    """Resolve a dialect name (or pass through explicit options) so callers can use either."""
    if isinstance(dialect, ScanOptions):
        return dialect
    try:
        return SCAN_OPTIONS[dialect]
    except KeyError:
        raise AtlembicError(f"no statement scanner for dialect {dialect!r}") from None


@dataclass
class Statement:
    """One statement of a migration file, with the comment group written directly above it."""

    text: str
    # Character offset of the statement's first character in the whole text (Atlas's byte offset
    # does not count an atlas:delimiter first line; ours does, so that ``line`` is the file's line).
    pos: int
    line: int  # 1-based line of that character
    comments: list[str] = field(default_factory=list)

    def directive(self, name: str) -> list[str]:
        """Arguments of the ``atlas:<name>`` directives attached to this statement (e.g. ``nolint``).

        Accepted forms are Atlas's: a single-line ``/*atlas:x*/`` comment, or a line comment whose
        text before ``atlas:`` is exactly ``#``, ``--`` or ``-- ``.
        """
        found = []
        prefixes: tuple[str, ...]
        for comment in self.comments:
            if comment.startswith("/*") and "\n" not in comment:
                text, prefixes = comment.removesuffix("*/"), ("/*",)
            else:
                text, prefixes = comment, ("#", "--", "-- ")
            m = match_directive(text)
            if m is not None and m[1] == name and m[0] in prefixes:
                found.append(m[2])
        return found


# Atlas's directive syntax: any printable-ASCII prefix, "atlas:", a word, then optional arguments
# (the rest of the line). Greedy prefix: with several "atlas:" on a line, the last one wins.
_DIRECTIVE = re.compile(r"([ -~]*)atlas:([0-9A-Za-z_]+)(?: +([ -~]*))*")


def match_directive(text: str) -> tuple[str, str, str] | None:
    """Match a directive at the very start of ``text``: ``(prefix, name, argument)`` or None."""
    m = _DIRECTIVE.match(text)
    if m is None:
        return None
    return m[1], m[2], m[3] or ""


def statement_hashes(stmts: list[str]) -> list[str]:
    """Running SHA-256 over the statement texts, ``h1:<base64>`` after each one.

    Atlas stores these in ``partial_hashes`` while a file is being applied, and refuses to resume a
    partially applied file whose already-executed statements have changed.
    """
    sha = hashlib.sha256()
    hashes = []
    for stmt in stmts:
        sha.update(stmt.encode())
        hashes.append("h1:" + base64.b64encode(sha.digest()).decode("ascii"))
    return hashes


def split_statements(text: str, dialect: str | ScanOptions) -> list[Statement]:
    """Cut ``text`` into statements with the rules of the given dialect (Atlas's `sql/migrate` lexer).

    Raises AtlembicError with an Atlas-style ``line:col: message`` for unbalanced parentheses and
    unclosed quotes.
    """
    shared = _Shared(text, scan_options(dialect))
    shared.warm_up_blocks()
    scanner = _Scanner(shared, 0)
    scanner.apply_delimiter_directive()
    stmts = []
    while (stmt := scanner.statement()) is not None:
        stmts.append(stmt)
    return stmts


# Go's unicode.IsSpace (Python's str.isspace also accepts \x1c-\x1f, Go does not).
_SPACES = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_SPACE_SET = frozenset(_SPACES)
_DEFAULT_DELIM = ";"
_DELIM_CMD = "delimiter"
# Go's RE2 "\s" is ASCII [\t\n\f\r ] and "(?i)" folds these ASCII letters only, hence re.ASCII.
_S = r"[\t\n\f\r ]"
_BEGIN = re.compile(rf"{_S}*BEGIN{_S}+", re.IGNORECASE | re.ASCII)
_BEGIN_ATOMIC = re.compile(rf"{_S}*BEGIN{_S}+ATOMIC{_S}+", re.IGNORECASE | re.ASCII)
_END = re.compile(rf"{_S}*END{_S}*", re.IGNORECASE | re.ASCII)
_BEGIN_WORD = re.compile(rf"BEGIN{_S}+", re.IGNORECASE | re.ASCII)
_DOLLAR_QUOTE = re.compile(r"\$([A-Za-z\u00c8-\u00ff_][0-9A-Za-z_\u00c8-\u00ff]*)*\$")


# Characters that no rule of the scanner reacts to when they are not a statement's first character: no
# bracket, quote, comment or dollar sign, not the delimiter's first character, and no B (a BEGIN block is
# recognised at its B, or at the whitespace before it). Runs of them are skipped in one step.
_PLAIN = "AC-Za-ac-z0-9_,.=<>:+*!@%^&|~?{}\\[\\]"


# Whitespace is plain too, unless the whitespace that follows it leads to a B.
_PLAIN_SPACE = r"[\t\n\f\r ](?![\t\n\f\r ]*[Bb])"


@functools.lru_cache(maxsize=32)
def _plain_run(delim: str) -> re.Pattern[str]:
    first = delim[:1]
    space = "" if first and re.match(r"\s", first) else f"|{_PLAIN_SPACE}"
    if first and re.match(f"[{_PLAIN}]", first):
        return re.compile(f"(?:(?!{re.escape(first)})[{_PLAIN}]{space})+")
    return re.compile(f"(?:[{_PLAIN}]+{space})+")


_ScanResult = tuple[Statement | None, int, str]  # statement, where scanning stopped, delimiter then


class _Shared:
    """State shared by the scanners of one input: the text, and memos of scan results.

    Atlas scans the body of every ``BEGIN `` it meets with a nested scanner, and a body that never
    reaches ``END`` is re-scanned by each enclosing candidate: exponential in the number of unclosed
    ``BEGIN`` (e.g. ``BEGIN TRANSACTION;``) in a file, and as deep as that number. A statement scan
    depends only on where it starts and on the delimiter, and a block only on where its body starts,
    so both are memoized; filling the block memo from the end of the file keeps recursion shallow.
    """

    def __init__(self, text: str, opts: ScanOptions) -> None:
        self.text = text
        self.opts = opts
        self.newlines = [m.start() for m in re.finditer("\n", text)]  # to number lines
        self.statements: dict[tuple[int, str], _ScanResult | AtlembicError] = {}
        self.blocks: dict[tuple[bool, int], int | None] = {}

    def warm_up_blocks(self) -> None:
        """Resolve every possible block, last first, so each nested scan finds later blocks resolved."""
        if not (self.opts.begin_end or self.opts.begin_atomic):
            return
        for word in reversed(list(_BEGIN_WORD.finditer(self.text))):
            if self.opts.begin_atomic and (m := _BEGIN_ATOMIC.match(self.text, word.start())):
                self.block_end(True, m.end())
            if self.opts.begin_end:
                self.block_end(False, word.end())

    def block_end(self, atomic: bool, body: int) -> int | None:
        """Where the block whose body starts at ``body`` ends, or None if no closing END comes.

        The body is scanned as sub-statements until one closes it: any statement starting with END
        for BEGIN ATOMIC; exactly ``END`` or ``END;`` for BEGIN (``END IF;`` does not). A scan error
        in the body also means "not a block".
        """
        key = (atomic, body)
        if key not in self.blocks:
            self.blocks[key] = None
            scanner = _Scanner(self, body)
            try:
                while (stmt := scanner.statement()) is not None:
                    if _closes(stmt.text, atomic):
                        self.blocks[key] = scanner.i
                        break
            except AtlembicError:
                pass
        return self.blocks[key]


def _closes(stmt: str, atomic: bool) -> bool:
    m = _END.match(stmt)
    return m is not None and (atomic or m.end() == len(stmt) or stmt[m.end() :] == _DEFAULT_DELIM)


class _Scanner:
    """Atlas's scanner over the shared text from index ``origin``.

    ``start`` is where the statement being scanned begins and ``i`` the next character to read; both
    are absolute indices into the text, so nested scanners (for BEGIN blocks) share the string instead
    of copying it. Nested scanners do not look for an ``atlas:delimiter`` line at their start, unlike
    Atlas's: that directive only means something on a file's first line.
    """

    def __init__(self, shared: _Shared, origin: int) -> None:
        self.shared = shared
        self.text = shared.text
        self.opts = shared.opts
        self.start = self.i = origin
        self.delim = _DEFAULT_DELIM
        self.comments: list[str] = []

    # -- set-up and errors ---------------------------------------------------------------------

    def apply_delimiter_directive(self) -> None:
        """Honour ``-- atlas:delimiter X`` on the first line: it sets the delimiter and is dropped."""
        m = match_directive(self.text)
        if m is None or m[1] != "delimiter" or m[0] != "-- ":
            return
        self.set_delim(m[2], 0)
        newline = self.text.find("\n")
        if newline == -1:
            raise self.error(0, f"no input found after delimiter {_go_quote(m[2])}")
        self.start = self.i = newline + 1

    def set_delim(self, delim: str, at: int) -> None:
        if not delim:
            raise self.error(at, "empty delimiter")
        self.delim = delim.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")

    def error(self, at: int, message: str) -> AtlembicError:
        """Atlas's ``line:col: message``; ``at`` is the index just after the offending character."""
        line_start = self.text.rfind("\n", 0, at) + 1
        line = self.text.count("\n", 0, at) + 1
        col = len(self.text[line_start:at].encode())
        return AtlembicError(f"{line}:{col}: {message}")

    def line_of(self, index: int) -> int:
        return bisect.bisect_left(self.shared.newlines, index) + 1

    # -- the statement loop --------------------------------------------------------------------

    def statement(self) -> Statement | None:
        """The next statement, or None at the end of the input (memoized, see _Shared)."""
        key = (self.i, self.delim)
        result = self.shared.statements.get(key)
        if result is None:
            try:
                stmt = self.scan()
                result = (stmt, self.i, self.delim)
            except AtlembicError as exc:
                result = exc
            self.shared.statements[key] = result
        if isinstance(result, AtlembicError):
            raise result
        stmt, self.i, self.delim = result
        self.start, self.comments = self.i, []
        return stmt

    def scan(self) -> Statement | None:
        text, depth, opening = self.text, 0, 0
        self.skip_spaces()
        plain_delim, plain = self.delim, _plain_run(self.delim)
        while True:
            if self.i >= len(text):
                if depth > 0:
                    raise self.error(opening, "unclosed '('")
                if self.i > self.start:
                    return self.emit()
                return None
            if plain_delim != self.delim:  # a DELIMITER command changed it
                plain_delim, plain = self.delim, _plain_run(self.delim)
            if self.i > self.start and (run := plain.match(text, self.i)) is not None:
                self.i = run.end()  # characters on which no rule below can fire: skip them at once
                continue
            r = text[self.i]
            self.i += 1
            at_start = self.i - self.start == 1
            blocks = self.delim == _DEFAULT_DELIM  # BEGIN blocks only with the default delimiter
            if r == "(":
                if depth == 0:
                    opening = self.i
                depth += 1
            elif r == ")":
                if depth == 0:
                    raise self.error(self.i, "unexpected ')'")
                depth -= 1
            elif r in "'\"`":
                self.skip_quote(r)
            elif at_start and self.at_delimiter_command():
                self.i += len(_DELIM_CMD) - 1
                self.delimiter_command()
            elif depth == 0 and text.startswith(self.delim, self.i - 1):
                self.i += len(self.delim) - 1
                return self.emit()
            elif r == "$" and self.opts.dollar_quote and (tag := _DOLLAR_QUOTE.match(text, self.i - 1)):
                self.skip_dollar_quote(tag[0])
            elif r == "#" and self.opts.hash_comments:
                self.comment("#", "\n")
            elif r == "-" and text.startswith("-", self.i):
                self.i += 1
                self.comment("--", "\n")
            elif r == "/" and text.startswith("*", self.i):
                self.i += 1
                self.comment("/*", "*/")
            elif blocks and self.opts.begin_atomic and _BEGIN_ATOMIC.match(text, self.i - 1):
                if self.skip_block(True):
                    return self.emit()
            elif blocks and self.opts.begin_end and self.begin_candidate() and self.skip_block(False):
                return self.emit()

    def emit(self) -> Statement:
        """Cut the statement ``[start, i)`` and start the next one there."""
        raw = self.text[self.start : self.i]
        if self.delim != _DEFAULT_DELIM:
            raw = raw.removesuffix(self.delim)
        stmt = Statement(raw.strip(_SPACES), self.start, self.line_of(self.start), self.comments)
        self.start, self.comments = self.i, []
        return stmt

    def skip_spaces(self) -> None:
        """Skip whitespace before a statement (only ever called at a statement start)."""
        text, i = self.text, self.i
        while i < len(text) and text[i] in _SPACE_SET:
            i += 1
        self.start = self.i = i

    # -- lexical elements ----------------------------------------------------------------------

    def skip_quote(self, quote: str) -> None:
        """Skip a quoted string or identifier; doubled quotes need no special case.

        E'...' strings: Atlas means to honour backslashes after an ``E``/``e`` prefix, but its check
        looks at the quote character itself and never fires. We implement the intended PostgreSQL
        rule; the split differs from Atlas only for E-strings holding an escaped quote (``E'\\''``).
        """
        opened = self.i
        escaped = self.opts.backslash_escapes or (
            self.opts.escaped_strings and opened - 2 >= self.start and self.text[opened - 2] in "Ee"
        )
        text = self.text
        while self.i < len(text):
            r = text[self.i]
            self.i += 1
            if r == "\\" and escaped:
                self.i += 1
            elif r == quote:
                return
        raise self.error(opened, f"unclosed quote {_go_quote_rune(quote)}")

    def skip_dollar_quote(self, tag: str) -> None:
        """Skip ``$tag$ ... $tag$``; an unclosed one runs to the end of the input, as in Atlas."""
        close = self.text.find(tag, self.i - 1 + len(tag))
        self.i = len(self.text) if close == -1 else close + len(tag)

    def comment(self, left: str, right: str) -> None:
        """Handle a comment whose ``left`` marker was just read.

        A comment that opens a statement is cut out of it and collected as the statement's comment
        group; a blank line after it drops the group. Comments inside a statement stay in its text.
        An unterminated comment is not a comment at all (scanning just goes on).
        """
        end = self.text.find(right, self.i)
        if end == -1:
            return
        at_start = self.i - self.start == len(left)
        self.i = end + len(right)
        if not at_start:
            return
        self.comments.append(self.text[self.start : self.i])
        if self.text.startswith("\n\n", self.i) or (right == "\n" and self.text.startswith("\n", self.i)):
            self.comments = []
        self.skip_spaces()

    def at_delimiter_command(self) -> bool:
        """The statement starts with the word ``delimiter`` (any case) and more text follows."""
        end = self.start + len(_DELIM_CMD)
        return len(self.text) > end and self.text[self.start : end].lower() == _DELIM_CMD

    def delimiter_command(self) -> None:
        """MySQL client ``DELIMITER x``: switch delimiters; the command line itself is not a statement."""
        if not self.text.startswith(" ", self.i):
            return  # just a word starting with "delimiter"
        newline = self.text.find("\n", self.i)
        self.i = len(self.text) if newline == -1 else newline + 1
        delim = self.text[self.start + len(_DELIM_CMD) : self.i].strip(_SPACES)
        if len(delim) >= 2 and delim[0] == delim[-1] == "'":
            delim = delim[1:-1].replace("''", "'")
        self.set_delim(delim, self.i)
        self.start, self.comments = self.i, []
        self.skip_spaces()

    # -- BEGIN ... END blocks ------------------------------------------------------------------

    def begin_candidate(self) -> bool:
        """BEGIN opens the statement, or follows whitespace (checked one character early, like Atlas)."""
        if self.i - self.start == 1:
            return _BEGIN.match(self.text, self.i - 1) is not None
        return self.i - self.start > 1 and _BEGIN.match(self.text, self.i - 2) is not None

    def skip_block(self, atomic: bool) -> bool:
        """Consume the block whose opener starts at the current character, if it is closed.

        An unclosed one is ordinary text, but its opener (``BEGIN`` and the spaces after it, plus
        ``ATOMIC``) is consumed anyway, as in Atlas.
        """
        m = (_BEGIN_ATOMIC if atomic else _BEGIN).match(self.text, self.i - 1)
        if m is None:  # BEGIN glued to the previous word (matched one character early)
            return False
        end = self.shared.block_end(atomic, m.end())
        self.i = m.end() if end is None else end
        return end is not None


def _go_quote(s: str) -> str:
    """Go's %q for the ASCII strings that appear in our messages."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _go_quote_rune(r: str) -> str:
    """Go's %q for a quote character: ``'\\''``, ``'"'`` or ``'`'``."""
    return "'\\''" if r == "'" else f"'{r}'"
