"""The DSL front end: ``*.awp`` text -> :class:`PolicyFile`, through Lark LALR."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from aw_policy.diagnostics import Diagnostic, PolicyError, Span, did_you_mean
from aw_policy.lang import ast
from aw_policy.resources import resource_path

#: Human names for the grammar's terminals, used in "expected ..." messages.
_TERMINAL_WORDS = {
    "EFFECT": ["allow", "deny", "prompt"],
    "MODIFIER": ["enforce", "audit"],
    "ACCESS": ["read", "write", "exec"],
    "NET_OP": ["connect", "bind"],
    "SCOPE": ["org", "project", "user", "session"],
    "ON_EXIT": ["keep", "discard", "snapshot"],
    "SIGNAL_TARGET": list(ast.SIGNAL_TARGETS),
    "STRING": ['a "quoted string"'],
    "NAME": ["a NAME"],
    "RBRACE": ["}"],
    "LBRACE": ["{"],
    "SEMICOLON": [";"],
    "EQUAL": ["="],
    "COMMA": [","],
    "$END": ["end of file"],
}


@lru_cache(maxsize=1)
def _grammar() -> str:
    return resource_path("grammar", "awpolicy.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The parser used for error reporting and terminal names."""
    return Lark(_grammar(), parser="lalr", maybe_placeholders=False, cache=True)


@lru_cache(maxsize=1)
def _building_parser() -> tuple[Lark, _Build]:
    """A parser that builds the AST while parsing (no intermediate tree): fast on big policies.

    Lark's cache keeps the LALR tables between processes, which is most of a cold start."""
    builder = _Build("<policy>")
    return Lark(_grammar(), parser="lalr", maybe_placeholders=False, transformer=builder, cache=True), builder


def _expected_words(expected: set[str]) -> list[str]:
    words: list[str] = []
    parser = _parser()
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            words.extend(_TERMINAL_WORDS[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            words.append(pattern.value)
    return sorted(set(words))


def _keywords(expected_words: list[str]) -> list[str]:
    return [w for w in expected_words if re.fullmatch(r"[a-z][a-z-]*", w)]


def _syntax_error(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        rest = text[exc.pos_in_stream :]
        if rest.startswith('"'):
            return Diagnostic(
                "AWP002",
                "unterminated string",
                Span(path, line, col, line, col + 1),
                hint='close the string with " on the same line; escape a quote inside it as \\"',
            )
        word = re.match(r"[A-Za-z_][\w-]*|\S", rest)
        found = word.group(0) if word else rest[:1]
        expected = _expected_words(set(exc.allowed or ()))
        return _unexpected(found, expected, Span(path, line, col, line, col + len(found)))
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            expected = _expected_words(set(exc.accepts or exc.expected))
            return Diagnostic(
                "AWP001",
                "unexpected end of file",
                Span(path, line, col),
                hint="expected " + _one_of(expected) + " (is a '}' missing?)",
            )
        expected = _expected_words(set(exc.accepts or exc.expected))
        found = str(token)
        if token.start_pos is not None:
            word = re.match(r"[A-Za-z_][\w-]*", text[token.start_pos :])
            found = word.group(0) if word and len(word.group(0)) > len(found) else found
        return _unexpected(found, expected, Span(path, line, col, line, col + len(found)))
    if isinstance(exc, UnexpectedEOF):
        expected = _expected_words(set(exc.expected))
        return Diagnostic(
            "AWP001", "unexpected end of file", Span(path, line, col),
            hint="expected " + _one_of(expected),
        )
    return Diagnostic("AWP001", "syntax error", Span(path, line, col))


def _one_of(words: list[str]) -> str:
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return "one of: " + ", ".join(words)


def _unexpected(found: str, expected: list[str], span: Span) -> Diagnostic:
    suggestion = did_you_mean(found, _keywords(expected)) if re.fullmatch(r"[\w-]+", found) else None
    if suggestion:
        return Diagnostic(
            "AWP003", f"unknown keyword '{found}'", span,
            hint=f"{suggestion} (expected {_one_of(expected)})",
        )
    return Diagnostic("AWP001", f"unexpected '{found}'", span, hint="expected " + _one_of(expected))


def _decode_string(token: Token, path: str) -> str:
    try:
        value = json.loads(token.value)
    except ValueError:
        raise PolicyError(
            Diagnostic(
                "AWP001",
                "invalid escape in string",
                _token_span(token, path),
                hint=r'use \" \\ \n \t or \uXXXX inside strings',
            )
        ) from None
    return value


def _token_span(token: Token, path: str) -> Span:
    return Span(path, token.line or 1, token.column or 1, token.end_line, token.end_column)


def _span_between(first: Token, last: Token, path: str) -> Span:
    return Span(path, first.line, first.column, last.end_line, last.end_column)


def _last_token(item) -> Token:
    if isinstance(item, Token):
        return item
    if isinstance(item, ast.Target):
        return item._last
    return item[-1]


class _Build(Transformer):
    """Parse callbacks -> AST nodes, run inside the LALR parser (no parse tree is built).

    Only shape-building here; meaning (paths, hosts, params, scopes) is checked in merge.
    Nodes are built with ``model_construct``: the grammar already guarantees their types.
    """

    def __init__(self, path: str):
        super().__init__(visit_tokens=False)
        self.path = path

    def _s(self, token: Token) -> str:
        return _decode_string(token, self.path)

    def _target(self, kind: str, token: Token) -> ast.Target:
        node = ast.Target.model_construct(span=_token_span(token, self.path), kind=kind, value=self._s(token))
        object.__setattr__(node, "_last", token)
        return node

    # -- targets -------------------------------------------------------------
    def subtree(self, children):
        return self._target("subtree", children[-1])

    def literal(self, children):
        return self._target("literal", children[-1])

    def glob(self, children):
        return self._target("glob", children[-1])

    def bare_target(self, children):
        return self._target("bare", children[-1])

    @staticmethod
    def _sticky(targets) -> list:
        """Give each bare path the kind of the last keyword before it (subtree when none)."""
        kind, out = "subtree", []
        for t in targets:
            if t.kind == "bare":
                object.__setattr__(t, "kind", kind)
            else:
                kind = t.kind
            out.append(t)
        return out

    # -- rules ---------------------------------------------------------------
    def modifiers(self, children: list[Token]) -> list[Token]:
        return children

    def accesses(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(c) for c in children))

    net_ops = accesses

    def _rule(self, children, cls: str, ops, targets) -> ast.Rule:
        modifiers, effect = children[0], children[1]
        words = {str(m) for m in modifiers}
        first = modifiers[0] if modifiers else effect
        last = targets[-1]._last if targets and isinstance(targets[-1], ast.Target) else effect
        return ast.Rule.model_construct(
            span=_span_between(first, last, self.path), section=cls, effect=str(effect), ops=tuple(ops),
            targets=tuple(targets), enforce="enforce" in words, audit="audit" in words,
        )

    def fs_rule(self, children) -> ast.Rule:
        return self._rule(children, "fs", children[2], self._sticky(children[3:]))

    def exec_rule(self, children) -> ast.Rule:
        return self._rule(children, "fs", ("exec",), self._sticky(children[2:]))

    def net_rule(self, children) -> ast.Rule:
        return self._rule(children, "net", children[2], [self._target("host", t) for t in children[3:]])

    def _word_targets(self, kind: str, tokens) -> list[ast.Target]:
        targets = []
        for t in tokens:
            node = ast.Target.model_construct(span=_token_span(t, self.path), kind=kind, value=str(t))
            object.__setattr__(node, "_last", t)
            targets.append(node)
        return targets

    def signal_rule(self, children) -> ast.Rule:
        return self._rule(children, "signal", ("signal",), self._word_targets("signal", children[2:]))

    def debug_rule(self, children) -> ast.Rule:
        return self._rule(children, "debug", ("debug",), self._word_targets("debug", children[2:]))

    def mach_rule(self, children) -> ast.Rule:
        return self._rule(children, "mach", ("lookup",), [self._target("mach", t) for t in children[2:]])

    # -- blocks --------------------------------------------------------------
    def _block(self, cls: str, children: list) -> list:
        out = []
        for child in children:
            if isinstance(child, ast.Default) and child.section == "all":
                child = ast.Default.model_construct(span=child.span, section=cls, effect=child.effect)
            if isinstance(child, ast.Node):
                out.append(child)
        return out

    def fs_block(self, children):
        return self._block("fs", children)

    def exec_block(self, children):
        return self._block("fs", children)

    def net_block(self, children):
        return self._block("net", children)

    def signal_block(self, children):
        return self._block("signal", children)

    def mach_block(self, children):
        return self._block("mach", children)

    def debug_block(self, children):
        return self._block("debug", children)

    # -- top-level statements -------------------------------------------------
    def scope_stmt(self, children):
        return ("scope", str(children[0]), _token_span(children[0], self.path))

    def default_stmt(self, children) -> ast.Default:
        return ast.Default.model_construct(span=_span_between(children[0], children[1], self.path),
                                           section="all", effect=str(children[1]))

    def include_stmt(self, children) -> ast.Include:
        return ast.Include.model_construct(span=_token_span(children[0], self.path), target=self._s(children[0]))

    def param_stmt(self, children) -> ast.Param:
        default = self._s(children[2]) if len(children) > 2 else None
        return ast.Param.model_construct(span=_span_between(children[0], children[-1], self.path),
                                         name=str(children[1]), default=default)

    def branch_block(self, children) -> ast.Branch:
        fields: dict = {"base": None, "cow": False, "hide": (), "readonly": (), "on_exit": "discard",
                        "parent": None}
        for item in children[2:]:
            if not isinstance(item, tuple):
                continue
            key, value = item
            if key in ("hide", "readonly"):
                fields[key] = fields[key] + tuple(value)
            else:
                fields[key] = value
        return ast.Branch.model_construct(span=_span_between(children[0], children[1], self.path),
                                          name=self._s(children[1]), **fields)

    def branch_base(self, children):
        return ("base", self._s(children[0]))

    def branch_cow(self, children):
        return ("cow", True)

    def branch_hide(self, children):
        return ("hide", self._sticky(children))

    def branch_readonly(self, children):
        return ("readonly", self._sticky(children))

    def branch_on_exit(self, children):
        return ("on_exit", str(children[0]))

    def branch_parent(self, children):
        return ("parent", self._s(children[0]))

    def env_block(self, children):
        return [c for c in children if isinstance(c, (ast.Node, list))]

    def env_set(self, children) -> ast.EnvSet:
        return ast.EnvSet.model_construct(span=_span_between(children[0], children[1], self.path),
                                          name=str(children[0]), value=self._s(children[1]))

    def env_pass(self, children: list[Token]) -> list[ast.EnvPass]:
        return [ast.EnvPass.model_construct(span=_token_span(t, self.path), name=str(t)) for t in children]

    def start(self, children):
        return children


def _flatten(items) -> list:
    out: list = []
    for item in items:
        if isinstance(item, list):
            out.extend(_flatten(item))
        elif item is not None and not isinstance(item, Token):
            out.append(item)
    return out


def parse_dsl(text: str, path: str) -> ast.PolicyFile:
    """Parse DSL text. Raises PolicyError with located diagnostics on any problem."""
    try:
        parser, builder = _building_parser()
        builder.path = path
        items = _flatten(parser.parse(text))
    except UnexpectedInput as exc:
        raise PolicyError(_syntax_error(exc, text, path)) from None
    except RecursionError:
        raise PolicyError(Diagnostic("AWP001", "input is nested too deeply", Span(path, 1, 1))) from None
    scope = scope_span = None
    statements = []
    for item in items:
        if isinstance(item, tuple) and item[0] == "scope":
            if scope is not None:
                raise PolicyError(Diagnostic(
                    "AWP024", "scope is declared twice", item[2],
                    hint=f"keep one 'scope' line (the first says '{scope}')",
                    related=(("first declared here", scope_span),),
                ))
            scope, scope_span = item[1], item[2]
        else:
            statements.append(item)
    return ast.PolicyFile.model_construct(span=Span(path, 1, 1), path=path, scope=scope,
                                          scope_span=scope_span, statements=tuple(statements))
