"""Parse SBPL (Seatbelt profile) text into an immutable s-expression tree.

``parse_sbpl(text, filename)`` returns a :class:`Profile`: the top-level forms
as frozen nodes (:class:`SList`, :class:`Symbol`, :class:`Str`, :class:`Int`,
:class:`Bool`, :class:`Quote`). Every node keeps its 1-based line and column,
its end (exclusive) and its character offsets, so diagnostics can point at the
exact form and fixers can edit the original text without touching other bytes.

The grammar is ``grammar/sbpl.lark`` (Lark, LALR, basic lexer, tree built by an
inline transformer during parsing, so parsing itself never recurses).

Reader rules modelled (SBPL is read by a TinyScheme-derived reader):

* ``;`` comments to end of line; ``#| ... |#`` block comments (we do not nest
  them: the first ``|#`` closes the comment; a modelling choice).
* ``"..."`` strings decode TinyScheme escapes: ``\\n`` newline, ``\\t`` tab,
  ``\\r`` carriage return, ``\\"`` quote, ``\\xHH`` one byte given by two hex
  digits; for any other character the backslash is dropped and the character
  kept (so ``\\\\`` is one backslash and ``\\.`` is ``.``). Source: the
  ``readstrexp`` state machine of TinyScheme's reader (``scheme.c``). The
  string is built as bytes and must decode as UTF-8. ``\\r`` is not in the
  short list of FACTS.md but every TinyScheme reader we read decodes it.
  Newer TinyScheme releases also read octal ``\\NNN``; which release Apple's
  libsandbox derives from is not documented, so we follow FACTS.md: a backslash
  before a digit is dropped and the digit kept (modelling assumption).
* ``#"..."`` raw strings (Apple's reader extension for regexes): the text
  between the quotes is kept verbatim, backslashes included; ``\\"`` does not
  end the string and stays as the two characters ``\\"`` (modelling
  assumption: we found no public statement of how a quote is written inside a
  raw string).
* Symbols keep their spelling (``file-read*``, ``require-not``, ``param-true?``,
  ``/``); an atom made only of ASCII digits with an optional sign is an integer;
  ``#t``/``#f`` (and ``#true``/``#false``) are booleans; ``#x``/``#o``/``#b``/
  ``#d`` prefix integers in base 16/8/2/10 (``file-mode #o4000``).
* ``'x`` is ``(quote x)``; quasiquote, unquote and unquote-splicing are read
  too (the evaluator does not support them).

Input hygiene: text that is not valid UTF-8, contains a NUL character (libsandbox
reads the profile as a C string, so everything after a NUL would be silently
ignored), a lone surrogate or a byte-order mark, is rejected with AWP501 at the
exact position. Nesting deeper than :data:`MAX_DEPTH` is rejected with AWP501
too, so no later stage can hit Python's recursion limit.

Every failure is a :class:`~aw_policy.diagnostics.PolicyError` carrying one
AWP501 diagnostic with line:col, what was expected, and a hint.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from aw_policy.diagnostics import Diagnostic, PolicyError, Severity, Span
from aw_policy.resources import resource_path

__all__ = [
    "MAX_DEPTH",
    "Bool",
    "Int",
    "Node",
    "Profile",
    "Quote",
    "SExpr",
    "SList",
    "Str",
    "Symbol",
    "form_head",
    "iter_nodes",
    "parse_sbpl",
    "quote_sbpl_string",
]

#: Deepest list nesting accepted. Real profiles stay under 15; the bound keeps
#: every recursive consumer (evaluator, lint, equality of nodes) far from
#: Python's recursion limit.
MAX_DEPTH = 128

SYNTAX_CODE = "AWP501"


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node: 1-based position, exclusive end, character offsets."""

    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int

    def span(self, filename: str) -> Span:
        return Span(filename, self.line, self.col, self.end_line, self.end_col)


@dataclass(frozen=True, slots=True)
class Symbol(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Str(Node):
    """A string literal; ``value`` is decoded, ``raw`` is True for ``#"..."``."""

    value: str
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Int(Node):
    value: int


@dataclass(frozen=True, slots=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class SList(Node):
    items: tuple[SExpr, ...]
    depth: int = 1

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, index):
        return self.items[index]


@dataclass(frozen=True, slots=True)
class Quote(Node):
    """``'x`` (kind "quote"), `` `x `` ("quasiquote"), ``,x`` ("unquote"), ``,@x``."""

    kind: str
    datum: SExpr


SExpr = Symbol | Str | Int | Bool | SList | Quote


@dataclass(frozen=True)
class Profile:
    """A parsed SBPL document: its top-level forms plus the text they came from."""

    forms: tuple[SExpr, ...]
    filename: str
    text: str

    def source(self, node: Node) -> str:
        """The exact source text of ``node``."""
        return self.text[node.start : node.end]

    def span(self, node: Node) -> Span:
        return node.span(self.filename)


def form_head(node: SExpr) -> str | None:
    """The head symbol's name of a list form like ``(allow ...)``, else None."""
    if isinstance(node, SList) and node.items and isinstance(node.items[0], Symbol):
        return node.items[0].name
    return None


def iter_nodes(root: SExpr | Profile) -> Iterator[SExpr]:
    """Every node in document order (pre-order), iteratively."""
    stack: list[SExpr] = list(reversed(root.forms)) if isinstance(root, Profile) else [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, SList):
            stack.extend(reversed(node.items))
        elif isinstance(node, Quote):
            stack.append(node.datum)


# --------------------------------------------------------------------------- strings


def quote_sbpl_string(value: str) -> str:
    """An SBPL string literal that the reader decodes back to exactly ``value``.

    Escapes backslash, double quote, newline, tab and carriage return; other
    ASCII control characters become ``\\xHH``. Non-ASCII text is written as is
    (UTF-8). A NUL or a lone surrogate cannot be represented and raises
    ValueError: libsandbox reads strings as C strings.
    """
    if "\x00" in value:
        raise ValueError("an SBPL string cannot contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"an SBPL string must be valid Unicode text: {exc.reason}") from None
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {"n": b"\n", "t": b"\t", "r": b"\r", '"': b'"'}


class _StringError(Exception):
    def __init__(self, offset: int, message: str, hint: str):
        super().__init__(message)
        self.offset = offset  # offset inside the string body
        self.message = message
        self.hint = hint


def _decode_escapes(body: str) -> str:
    """Decode a string body with TinyScheme escape rules (see module docstring)."""
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        j = body.find("\\", i)
        if j < 0:
            out += body[i:].encode("utf-8")
            break
        out += body[i:j].encode("utf-8")
        esc = body[j + 1]  # the lexer guarantees a character after a backslash
        if esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc]
            i = j + 2
        elif esc in "xX":
            digits = body[j + 2 : j + 4]
            if len(digits) != 2 or not all(d in _HEX for d in digits):
                raise _StringError(
                    j,
                    f"invalid escape '\\{esc}{digits}': \\x takes exactly two hex digits",
                    "write a byte as \\xHH (for example \\x41), or \\\\x for a backslash and an x",
                )
            byte = int(digits, 16)
            if byte == 0:
                raise _StringError(
                    j,
                    "escape '\\x00' puts a NUL byte in the string",
                    "libsandbox reads strings as C strings, so a NUL would cut the string short; remove it",
                )
            out.append(byte)
            i = j + 4
        else:
            # TinyScheme: any other escaped character stands for itself.
            out += esc.encode("utf-8")
            i = j + 2
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _StringError(
            0,
            f"string escapes produce bytes that are not valid UTF-8 (byte {exc.start})",
            "\\xHH escapes add raw bytes; together they must spell valid UTF-8",
        ) from None


# --------------------------------------------------------------------------- lark glue

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_RADIX = {"x": 16, "o": 8, "b": 2, "d": 10}


class _TokenError(Exception):
    """Raised inside transformer callbacks; turned into AWP501 by parse_sbpl."""

    def __init__(self, offset: int, message: str, hint: str, length: int = 1):
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.hint = hint
        self.length = length


def _pos(tok) -> tuple[int, int, int, int, int, int]:
    return (tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


def _build_transformer():
    from lark import Transformer

    class _ToNodes(Transformer):
        """Inline LALR callbacks: build frozen nodes while parsing."""

        def start(self, children):
            return tuple(children)

        def list(self, children):
            lpar = children[0]
            rpar = children[-1]
            items = tuple(children[1:-1])
            depth = 1
            for item in items:
                d = item.depth if isinstance(item, SList) else (_quote_depth(item) if isinstance(item, Quote) else 0)
                if d >= depth:
                    depth = d + 1
            if depth > MAX_DEPTH:
                raise _TokenError(
                    lpar.start_pos,
                    f"lists nested more than {MAX_DEPTH} deep",
                    f"SBPL profiles need only a few levels; {MAX_DEPTH} is the limit this parser accepts",
                )
            return SList(lpar.line, lpar.column, rpar.end_line, rpar.end_column, lpar.start_pos, rpar.end_pos, items, depth)

        def string(self, children):
            tok = children[0]
            try:
                value = _decode_escapes(tok[1:-1])
            except _StringError as exc:
                raise _TokenError(tok.start_pos + 1 + exc.offset, exc.message, exc.hint) from None
            return Str(*_pos(tok), value, False)

        def raw_string(self, children):
            tok = children[0]
            return Str(*_pos(tok), tok[2:-1], True)

        def atom(self, children):
            tok = children[0]
            text = str(tok)
            if _INT_RE.match(text):
                return Int(*_pos(tok), int(text))
            return Symbol(*_pos(tok), text)

        def hash(self, children):
            tok = children[0]
            text = str(tok)
            low = text.lower()
            if low in ("#t", "#true"):
                return Bool(*_pos(tok), True)
            if low in ("#f", "#false"):
                return Bool(*_pos(tok), False)
            radix = _RADIX.get(low[1])
            digits = text[2:]
            if radix is not None and digits:
                try:
                    return Int(*_pos(tok), int(digits, radix))
                except ValueError:
                    pass
            raise _TokenError(
                tok.start_pos,
                f"invalid '#' literal {text!r}",
                "use #t or #f for booleans, or #x1F / #o755 / #b101 / #d10 for numbers",
                len(text),
            )

        def _quoted(self, kind, children):
            mark, datum = children
            return Quote(mark.line, mark.column, datum.end_line, datum.end_col, mark.start_pos, datum.end, kind, datum)

        def quote(self, children):
            return self._quoted("quote", children)

        def quasiquote(self, children):
            return self._quoted("quasiquote", children)

        def unquote(self, children):
            return self._quoted("unquote", children)

        def unquote_splicing(self, children):
            return self._quoted("unquote-splicing", children)

    return _ToNodes()


def _quote_depth(node: Quote) -> int:
    inner = node.datum
    while isinstance(inner, Quote):
        inner = inner.datum
    return inner.depth if isinstance(inner, SList) else 0


@functools.lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    grammar_file = resource_path("grammar", "sbpl.lark")
    grammar = grammar_file.read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        transformer=_build_transformer(),
        propagate_positions=False,
        maybe_placeholders=False,
    )


# --------------------------------------------------------------------------- errors

_TERMINAL_NAMES = {
    "LPAR": "'('",
    "RPAR": "')'",
    "STRING": "a string",
    "RAW_STRING": 'a raw string #"..."',
    "HASH": "#t, #f or a #-number",
    "ATOM": "a symbol or number",
    "QUOTE": "a quote (')",
    "QUASIQUOTE": "a quasiquote (`)",
    "UNQUOTE": "an unquote (,)",
    "UNQUOTE_SPLICING": "an unquote-splicing (,@)",
    "$END": "end of input",
}


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    last_nl = text.rfind("\n", 0, offset)
    return line, offset - last_nl


def _error(filename: str, text: str, offset: int, message: str, hint: str, length: int = 1) -> PolicyError:
    offset = max(0, min(offset, len(text)))
    line, col = _line_col(text, offset)
    end_line, end_col = _line_col(text, min(len(text), offset + max(1, length)))
    if end_line != line or end_col <= col:
        end_line, end_col = line, col + 1
    return PolicyError(
        Diagnostic(
            code=SYNTAX_CODE,
            message=message,
            span=Span(filename, line, col, end_line, end_col),
            severity=Severity.ERROR,
            hint=hint,
        )
    )


def _describe_expected(expected) -> str:
    names = sorted({_TERMINAL_NAMES.get(name, name) for name in expected})
    if not names:
        return "nothing more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _unclosed_paren(text: str) -> int | None:
    """Offset of the innermost '(' left open at end of input, from a fresh lex."""
    from lark.exceptions import LarkError

    stack: list[int] = []
    try:
        for tok in _parser().lex(text):
            if tok.type == "LPAR":
                stack.append(tok.start_pos)
            elif tok.type == "RPAR" and stack:
                stack.pop()
    except LarkError:  # the lexer fails later than the parser did: keep what we have
        pass
    return stack[-1] if stack else None


def _translate(exc: Exception, text: str, filename: str) -> PolicyError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(exc, _TokenError):
        return _error(filename, text, exc.offset, exc.message, exc.hint, exc.length)

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        two = text[pos : pos + 2]
        if ch == '"':
            return _error(
                filename, text, pos, "unterminated string: no closing '\"'",
                "close the string with '\"'; write a quote inside a string as \\\"",
            )
        if two == '#"':
            return _error(
                filename, text, pos, "unterminated raw string: no closing '\"'",
                'close the raw string #"..." with \'"\'',
            )
        if two == "#|":
            return _error(
                filename, text, pos, "unterminated block comment: no closing '|#'",
                "close the comment with |#; block comments do not nest",
            )
        if ch == "#":
            return _error(
                filename, text, pos, f"unsupported '#' syntax {text[pos:pos + 2]!r}",
                "SBPL knows #t, #f, #x/#o/#b/#d numbers, #\"raw strings\" and #| comments |#",
            )
        return _error(
            filename, text, pos, f"unexpected character {ch!r}",
            "expected " + _describe_expected(exc.allowed or ()) if exc.allowed else "remove this character",
        )

    if isinstance(exc, (UnexpectedToken, UnexpectedEOF)):
        token = getattr(exc, "token", None)
        expected = set(getattr(exc, "expected", ()) or ())
        at_end = isinstance(exc, UnexpectedEOF) or token is None or token.type == "$END"
        if at_end:
            open_at = _unclosed_paren(text)
            if open_at is not None:
                line, col = _line_col(text, open_at)
                return _error(
                    filename, text, len(text),
                    f"unexpected end of input: expected ')' to close the '(' at {line}:{col}",
                    "add the missing ')' (every '(' needs a matching ')')",
                )
            return _error(
                filename, text, len(text),
                "unexpected end of input: expected " + _describe_expected(expected),
                "the file ends in the middle of a form; complete it",
            )
        if token.type == "RPAR":
            return _error(
                filename, text, token.start_pos,
                "unexpected ')': it closes no '('",
                "remove the extra ')' or add the '(' it was meant to close",
            )
        return _error(
            filename, text, token.start_pos,
            f"unexpected {_TERMINAL_NAMES.get(token.type, token.type)} {str(token)!r}: expected "
            + _describe_expected(expected),
            "check the parentheses around this place",
            len(token),
        )

    return _error(filename, text, 0, f"cannot parse: {exc}", "check the file is an SBPL profile")


def _check_text(text: str, filename: str) -> None:
    if text.startswith("\ufeff"):
        raise _error(filename, text, 0, "byte-order mark at the start of the profile",
                     "save the file as UTF-8 without a BOM")
    nul = text.find("\x00")
    if nul >= 0:
        raise _error(
            filename, text, nul, "NUL character in the profile",
            "libsandbox reads the profile as a C string and would ignore everything after it; remove it",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _error(filename, text, exc.start, "lone surrogate character: the text is not valid Unicode",
                     "decode the file as UTF-8 without 'surrogateescape'") from None


def _decode_bytes(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        raise _error(
            filename, good + "\ufffd", len(good),
            f"invalid UTF-8 byte 0x{data[exc.start]:02x} ({exc.reason})",
            "SBPL profiles are UTF-8 text; re-encode the file as UTF-8",
        ) from None


# --------------------------------------------------------------------------- entry point


def parse_sbpl(text: str | bytes, filename: str = "<sbpl>") -> Profile:
    """Parse SBPL text (str, or bytes that must be UTF-8) into a :class:`Profile`.

    Raises :class:`PolicyError` with one AWP501 diagnostic on any syntax or
    encoding problem; never any other exception for any input.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode_bytes(bytes(text), filename)
    elif not isinstance(text, str):
        raise TypeError(f"parse_sbpl expects str or bytes, not {type(text).__name__}")
    _check_text(text, filename)
    from lark.exceptions import LarkError, VisitError

    try:
        forms = _parser().parse(text)
    except _TokenError as exc:
        raise _translate(exc, text, filename) from None
    except VisitError as exc:  # a callback failed inside Lark's wrapper
        inner = exc.orig_exc
        raise _translate(inner if isinstance(inner, _TokenError) else exc, text, filename) from None
    except LarkError as exc:
        raise _translate(exc, text, filename) from None
    except RecursionError:  # defensive: the parser is iterative
        raise _error(filename, text, 0, "profile too deeply nested", f"keep nesting under {MAX_DEPTH}") from None
    return Profile(tuple(forms), filename, text)
