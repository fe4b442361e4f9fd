"""The DSL front end: ``*.awp`` text -> :class:`PolicyFile`, through Lark LALR."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from lark import Lark, Token, Transformer, Tree, v_args
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
def _parser() -> Lark:
    grammar = resource_path("grammar", "awpolicy.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


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


def _tree_span(tree: Tree, path: str) -> Span:
    meta = tree.meta
    if getattr(meta, "empty", True):
        return Span(path, 1, 1)
    return Span(path, meta.line, meta.column, meta.end_line, meta.end_column)


class _Build(Transformer):
    """Parse tree -> AST nodes. Only shape-building here; meaning is checked later."""

    def __init__(self, path: str):
        super().__init__(visit_tokens=False)
        self.path = path

    def _s(self, token: Token) -> str:
        return _decode_string(token, self.path)

    # -- targets -------------------------------------------------------------
    @v_args(tree=True)
    def subtree(self, tree: Tree) -> ast.Target:
        return ast.Target(span=_token_span(tree.children[-1], self.path), kind="subtree",
                          value=self._s(tree.children[-1]))

    @v_args(tree=True)
    def literal(self, tree: Tree) -> ast.Target:
        return ast.Target(span=_token_span(tree.children[-1], self.path), kind="literal",
                          value=self._s(tree.children[-1]))

    @v_args(tree=True)
    def glob(self, tree: Tree) -> ast.Target:
        return ast.Target(span=_token_span(tree.children[-1], self.path), kind="glob",
                          value=self._s(tree.children[-1]))

    # -- rules ---------------------------------------------------------------
    def modifiers(self, children: list[Token]) -> tuple[bool, bool]:
        words = [str(c) for c in children]
        return ("enforce" in words, "audit" in words)

    def accesses(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(c) for c in children))

    net_ops = accesses

    def _rule(self, tree: Tree, cls: str, ops, targets) -> ast.Rule:
        enforce, audit = tree.children[0]
        return ast.Rule(
            span=_tree_span(tree, self.path), cls=cls, effect=str(tree.children[1]),
            ops=tuple(ops), targets=tuple(targets), enforce=enforce, audit=audit,
        )

    @v_args(tree=True)
    def fs_rule(self, tree: Tree) -> ast.Rule:
        return self._rule(tree, "fs", tree.children[2], tree.children[3:])

    @v_args(tree=True)
    def exec_rule(self, tree: Tree) -> ast.Rule:
        return self._rule(tree, "fs", ("exec",), tree.children[2:])

    @v_args(tree=True)
    def net_rule(self, tree: Tree) -> ast.Rule:
        targets = [ast.Target(span=_token_span(t, self.path), kind="host", value=self._s(t))
                   for t in tree.children[3:]]
        return self._rule(tree, "net", tree.children[2], targets)

    @v_args(tree=True)
    def signal_rule(self, tree: Tree) -> ast.Rule:
        targets = [ast.Target(span=_token_span(t, self.path), kind="signal", value=str(t))
                   for t in tree.children[2:]]
        return self._rule(tree, "signal", ("signal",), targets)

    @v_args(tree=True)
    def mach_rule(self, tree: Tree) -> ast.Rule:
        targets = [ast.Target(span=_token_span(t, self.path), kind="mach", value=self._s(t))
                   for t in tree.children[2:]]
        return self._rule(tree, "mach", ("lookup",), targets)

    # -- blocks --------------------------------------------------------------
    def _block(self, cls: str, children: list) -> list:
        out = []
        for child in children:
            if isinstance(child, ast.Default) and child.cls == "all":
                child = child.model_copy(update={"cls": cls})
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

    # -- top-level statements -------------------------------------------------
    @v_args(tree=True)
    def scope_stmt(self, tree: Tree):
        return ("scope", str(tree.children[0]), _token_span(tree.children[0], self.path))

    @v_args(tree=True)
    def default_stmt(self, tree: Tree) -> ast.Default:
        return ast.Default(span=_tree_span(tree, self.path), cls="all", effect=str(tree.children[0]))

    @v_args(tree=True)
    def include_stmt(self, tree: Tree) -> ast.Include:
        return ast.Include(span=_token_span(tree.children[0], self.path),
                           target=self._s(tree.children[0]))

    @v_args(tree=True)
    def param_stmt(self, tree: Tree) -> ast.Param:
        default = self._s(tree.children[1]) if len(tree.children) > 1 else None
        return ast.Param(span=_tree_span(tree, self.path), name=str(tree.children[0]), default=default)

    @v_args(tree=True)
    def branch_block(self, tree: Tree) -> ast.Branch:
        fields: dict = {"hide": (), "readonly": ()}
        for item in tree.children[1:]:
            if not isinstance(item, tuple):
                continue
            key, value = item
            if key in ("hide", "readonly"):
                fields[key] = fields[key] + tuple(value)
            else:
                fields[key] = value
        return ast.Branch(span=_tree_span(tree, self.path), name=self._s(tree.children[0]), **fields)

    def branch_base(self, children):
        return ("base", self._s(children[0]))

    def branch_cow(self, children):
        return ("cow", True)

    def branch_hide(self, children):
        return ("hide", children)

    def branch_readonly(self, children):
        return ("readonly", children)

    def branch_on_exit(self, children):
        return ("on_exit", str(children[0]))

    def branch_parent(self, children):
        return ("parent", self._s(children[0]))

    def env_block(self, children):
        return [c for c in children if isinstance(c, ast.Node) or isinstance(c, list)]

    @v_args(tree=True)
    def env_set(self, tree: Tree) -> ast.EnvSet:
        return ast.EnvSet(span=_tree_span(tree, self.path), name=str(tree.children[0]),
                          value=self._s(tree.children[1]))

    def env_pass(self, children: list[Token]) -> list[ast.EnvPass]:
        return [ast.EnvPass(span=_token_span(t, self.path), name=str(t)) for t in children]


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
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise PolicyError(_syntax_error(exc, text, path)) from None
    except RecursionError:
        raise PolicyError(Diagnostic("AWP001", "input is nested too deeply", Span(path, 1, 1))) from None
    try:
        items = _flatten(_Build(path).transform(tree).children)
    except PolicyError:
        raise
    except Exception as exc:  # lark wraps errors raised inside the transformer
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, PolicyError):
            raise inner from None
        raise
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
    return ast.PolicyFile(span=Span(path, 1, 1), path=path, scope=scope, scope_span=scope_span,
                          statements=tuple(statements))
