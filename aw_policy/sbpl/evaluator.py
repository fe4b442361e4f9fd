"""A model of Seatbelt: load an SBPL profile and decide requests the way macOS would.

``load_profile(text, params)`` runs the profile's top-level forms (a small
Scheme: ``version``, ``define``, ``lambda``, ``let``/``let*``/``letrec``,
``if``/``cond``/``when``/``unless``, ``and``/``or``/``not``, ``begin``,
``param``, ``string-append`` and a few list and string procedures, ``import``
through a callback, ``allow``/``deny`` with filters and modifiers) and keeps
the rules in the order they were made. ``evaluate(loaded, request)`` answers
one request with a :class:`Verdict` naming the deciding rule.

Facts modelled, and where they are documented (``FACTS.md`` gathers them from
Apple's libsandbox sources and published measurements):

1. Per operation, the **last matching filtered rule wins**; "more specific path
   wins" is not Seatbelt's rule (FACTS.md, Seatbelt).
2. An **unfiltered rule** (``(deny file-write*)``, ``(allow default)``) only sets
   the operation's fallback, wherever it is written: it never beats a matching
   filtered rule (FACTS.md).
3. A name ending in ``*`` names every operation starting with the text before
   the star, and operations fall back along that hierarchy to ``default``:
   ``file-read-data -> file-read* -> file* -> default`` (FACTS.md; hierarchy in
   :mod:`aw_policy.sbpl.catalog`). A rule on ``file-read*`` is therefore a rule
   of ``file-read-data`` too, in the order it was written; an operation no
   rule names gets the ``default`` rules.
4. ``(deny default)`` does not cover ``process-info*``, ``file-map-executable``,
   ``dynamic-code-generation``, ``nvram*`` (and ``iokit-get-properties``, per
   Chromium's renderer profile): they stay allowed unless a rule names them
   (FACTS.md; :data:`~aw_policy.sbpl.catalog.NOT_COVERED_BY_DENY_DEFAULT`).
5. An implicit rule lets a process signal itself, appended after the profile
   (FACTS.md: "a few implicit rules are appended (e.g. a process may signal
   itself)").
6. Several filters in one rule are OR-ed; ``require-all``, ``require-any`` and
   ``require-not`` combine filters (FACTS.md).
7. Filters: ``literal``/``path`` (exact), ``subpath`` (the path itself and
   everything below it at a ``/`` boundary: ``"/a"`` matches ``/a`` and
   ``/a/b`` but not ``/ab``), ``prefix`` (plain text prefix) and ``regex``
   (POSIX extended regex, *searched*, not anchored); matching is
   case-sensitive (FACTS.md).
8. ``(param "NAME")`` is filled by ``sandbox-exec -D NAME=value``; a missing
   param fails the load (FACTS.md).
9. ``local``/``remote`` ``ip``/``tcp``/``udp`` filters take ``"host:port"``
   with host ``*`` or ``localhost`` only; a numeric address fails the load;
   ``(remote ip)`` without an address matches any address (FACTS.md).
10. ``target`` for signals (``self``, ``pgrp``, ``others``, ``children``,
    ``same-sandbox``); ``global-name``/``local-name`` for Mach lookups
    (FACTS.md).
11. Modifiers ``(with report)``, ``(with no-log)``, ``(with send-signal SIG)``
    (FACTS.md).

Modelling choices (nothing public documents these; each is labelled again
where it is implemented):

* M1: between unfiltered rules of one operation, the one written last sets
  the fallback.
* M2: a profile without any ``default`` rule falls back to deny (fail closed).
* M3: a filter this model cannot decide (``extension``, ``iokit-*``,
  entitlements, ...) makes an allow rule *not* match and a deny rule match,
  so an undecidable answer always leans to deny; the reason says so.
* M4: a ``subpath`` ending in ``/`` compiles to "literal v or prefix v/" and
  so matches no resolved path; ``(subpath "/")`` alone matches every path.
* M5: a request's host and port are the address the operation acts on: the
  remote end for ``network-outbound``, the local end for ``network-bind`` and
  ``network-inbound``. ``remote`` filters are only checked on outbound
  requests, ``local`` filters on the other two. ``localhost`` matches the
  request hosts ``localhost``, ``127.x.x.x`` and ``::1``; protocol ``ip``
  matches tcp and udp, ``tcp4``/``tcp6`` match tcp, ``unix``/``unix-socket``
  never match a tcp/udp request.
* M6: signal targets are one word per request; a ``(target others)`` filter
  matches every target but ``self``.
* M7: POSIX ERE is approximated by Python's ``re``: bracket classes such as
  ``[[:alpha:]]`` are translated, a backslash inside brackets is literal,
  ``$`` matches only at the very end, ``.`` matches a newline too, and
  Python-only syntax (``(?i)``, ``\\d``, lazy quantifiers) fails the load.
* M8: a symbol that names no variable evaluates to itself, which is how
  operation names (``file-read*``), protocol words (``tcp``), targets
  (``self``) and modifier words (``report``) reach ``allow``/``deny`` and the
  filters.

Errors in the profile raise :class:`~aw_policy.diagnostics.PolicyError` with
the code of the matching lint rule when there is one (AWP502 unknown
operation, AWP507 bad host) and AWP511 otherwise, always with the location of
the offending form.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aw_policy.diagnostics import Diagnostic, PolicyError, Severity, Span, did_you_mean
from aw_policy.sbpl import catalog
from aw_policy.sbpl.parser import Bool, Int, Node, Profile, Quote, SList, Str, Symbol, parse_sbpl

__all__ = [
    "EVAL_CODE",
    "Filter",
    "LoadedProfile",
    "LoadedRule",
    "Modifier",
    "Request",
    "RuleIndex",
    "Verdict",
    "evaluate",
    "load_profile",
]

EVAL_CODE = "AWP511"
#: Closure calls nested deeper than this fail the load (protects the Python stack).
MAX_CALL_DEPTH = 48
#: Evaluation steps allowed for one load (a loop in a profile cannot hang us).
MAX_STEPS = 500_000  # a 5,000-line vendor-like profile takes about 33,000
MAX_IMPORT_DEPTH = 16

LOOPBACK_HOSTS = ("localhost", "::1")
#: An operation with at most this many rules is scanned in full: cheaper than the index lookups.
INDEX_THRESHOLD = 24


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One operation to decide: the operation name and the object it acts on.

    ``path`` for file and exec operations (resolved, absolute), ``host``/
    ``port``/``protocol`` for network operations (see M5), ``target`` for
    signals (``self``, ``children``, ``pgrp``, ``same-sandbox``, ``others``),
    ``name`` for Mach services, sysctls, preference domains and IPC names
    (``namespace`` says whether a Mach name is ``global`` or ``local``),
    ``vnode_type`` for ``vnode-type`` filters.
    """

    operation: str
    path: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str = "tcp"
    target: str | None = None
    name: str | None = None
    namespace: str = "global"
    vnode_type: str | None = None


@dataclass(frozen=True)
class Modifier:
    """``(with NAME args...)``."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class Filter:
    """A filter value: ``kind`` says how it matches, ``args`` its operands.

    kinds: literal, subpath, prefix, regex (path); name, name-prefix,
    name-regex (``field`` of the request: name or mach namespace); address
    (local/remote); target; vnode-type; any, all, not (combinators); opaque.
    """

    kind: str
    args: tuple
    spelling: str
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class LoadedRule:
    """One rule made by an ``(allow ...)`` or ``(deny ...)`` call.

    ``form`` is the parsed call (an :class:`SList`) and ``span`` its location;
    ``filter`` is None for an unfiltered rule; ``index`` is the creation order.
    """

    index: int
    effect: str  # "allow" | "deny"
    operations: tuple[str, ...]  # canonical catalog names
    filter: Filter | None
    modifiers: tuple[Modifier, ...]
    form: SList = field(compare=False, repr=False)
    filename: str = field(default="<sbpl>", compare=False)

    @property
    def span(self):
        return self.form.span(self.filename)

    @property
    def report(self) -> bool:
        return any(m.name == "report" for m in self.modifiers)

    @property
    def signal(self) -> str | None:
        for m in self.modifiers:
            if m.name == "send-signal" and m.args:
                return str(m.args[0])
        return None


@dataclass(frozen=True)
class Verdict:
    """The answer: ``rule`` is the deciding rule of the operation, None when the
    default decided (a ``default`` rule, or a built-in decision); ``reason`` says which."""

    allowed: bool
    rule: LoadedRule | None
    reason: str
    report: bool = False


@dataclass(frozen=True)
class LoadedProfile:
    """The rules a profile made, in creation order, plus what else it declared."""

    rules: tuple[LoadedRule, ...]
    version: int | None
    filename: str
    params: Mapping[str, str]
    debug: tuple[str, ...] = ()
    _by_operation: dict = field(default_factory=dict, compare=False, repr=False)

    def rules_for(self, operation: str) -> tuple[LoadedRule, ...]:
        """Rules that apply to ``operation`` (its own and its wildcards'), in order; 'default' excluded."""
        return self.index_for(operation).rules

    def index_for(self, operation: str) -> RuleIndex:
        cached = self._by_operation.get(operation)
        if cached is None:
            chain = set(catalog.ancestors(operation)[:-1]) if operation != "default" else {"default"}
            cached = RuleIndex.build(tuple(r for r in self.rules if chain.intersection(r.operations)))
            self._by_operation[operation] = cached
        return cached


@dataclass(frozen=True)
class RuleIndex:
    """One operation's rules, the filtered ones indexed by a key text their match needs.

    A speed-up only. Most filters can be true only when one request field
    starts with a known text: a path filter needs the path to start with its
    path (or a regex's literal head), a name filter the name, a port filter
    the port, a vnode-type or target filter that word. A request checks the
    rules keyed by a prefix of its own fields plus the rules with no key, in
    the same last-first order as a full scan (tests compare the two).
    """

    rules: tuple[LoadedRule, ...]
    unfiltered: tuple[LoadedRule, ...]
    by_key: Mapping[tuple[str, str, bool], tuple[int, ...]]
    always: tuple[int, ...]
    fields: tuple[str, ...]

    @classmethod
    def build(cls, rules: tuple[LoadedRule, ...]) -> RuleIndex:
        by_key: dict[tuple[str, str, bool], list[int]] = {}
        always: list[int] = []
        for position, rule in enumerate(rules):
            if rule.filter is None:
                continue
            keys = _index_keys(rule.filter)
            if keys is None:
                always.append(position)
            for key in keys or ():
                by_key.setdefault(key, []).append(position)
        return cls(rules, tuple(r for r in rules if r.filter is None), {k: tuple(v) for k, v in by_key.items()},
                   tuple(always), tuple(sorted({key[0] for key in by_key})))

    def filtered_last_first(self, request: Request | None):
        """The filtered rules a request must check, last written first (all of them without a request)."""
        if request is None or len(self.rules) <= INDEX_THRESHOLD:
            return (r for r in reversed(self.rules) if r.filter is not None)
        positions = set(self.always)
        for field_name in self.fields:
            value = _index_field(request, field_name)
            if value is None:
                continue
            positions.update(self.by_key.get((field_name, value, True), ()))
            for end in range(len(value) + 1):
                positions.update(self.by_key.get((field_name, value[:end], False), ()))
        return (self.rules[i] for i in sorted(positions, reverse=True))


def _index_field(request: Request, field_name: str) -> str | None:
    if field_name == "port":
        return None if request.port is None else str(request.port)
    return getattr(request, field_name)


_REGEX_SPECIAL = frozenset(".[]()*+?{}|^$\\")


def _index_keys(flt: Filter) -> frozenset[tuple[str, str, bool]] | None:
    """Keys (request field, text, exact) one of which must hold for ``flt`` to be true or undecided:
    the field equals the text (exact) or starts with it; None when no such key is known."""
    kind = flt.kind
    if kind == "literal":
        return frozenset({("path", flt.args[0], True)})
    if kind in ("subpath", "prefix"):
        return frozenset({("path", flt.args[0], False)})
    if kind == "regex":
        head = _regex_literal_prefix(flt.args[0])
        return None if head is None else frozenset({("path", head, False)})
    if kind in ("name", "name-prefix"):
        return frozenset({("name", flt.args[1], kind == "name")})
    if kind == "name-regex":
        head = _regex_literal_prefix(flt.args[1])
        return None if head is None else frozenset({("name", head, False)})
    if kind == "vnode-type":
        return frozenset(("vnode_type", t, True) for t in flt.args)
    if kind == "target" and flt.args[0] != "others":
        return frozenset({("target", flt.args[0], True)})
    if kind == "address" and flt.args[3] is not None:
        return frozenset({("port", str(flt.args[3]), True)})
    if kind == "any":
        union: set[tuple[str, str, bool]] = set()
        for inner in flt.args:
            keys = _index_keys(inner)
            if keys is None:
                return None
            union |= keys
        return frozenset(union)
    if kind == "all":
        for inner in flt.args:
            keys = _index_keys(inner)
            if keys is not None:
                return keys
        return None
    return None  # require-not, others, addresses without a port, opaque filters: always checked


def _regex_literal_prefix(pattern: str) -> str | None:
    """The literal text an anchored regex must start with, or None if not anchored or alternated at the top."""
    if not pattern.startswith("^") or _top_level_alternation(pattern):
        return None
    out: list[str] = []
    i = 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            literal, step = pattern[i + 1], 2
        elif char in _REGEX_SPECIAL:
            break
        else:
            literal, step = char, 1
        if pattern[i + step : i + step + 1] in ("*", "?", "{"):
            break  # this character may occur zero times
        out.append(literal)
        i += step
    return "".join(out)


def _top_level_alternation(pattern: str) -> bool:
    depth, i, n = 0, 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[]", "[^]"), i) else i + 1)
            i = n if end < 0 else end + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth <= 0:
            return True
        i += 1
    return False


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Sym:
    """A symbol as a value (M8)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Closure:
    params: tuple[str, ...]
    rest: str | None
    body: tuple
    env: Env
    name: str = "lambda"


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable  # fn(loader, evaluated_args, call_node)


UNSPECIFIED = None


class Env:
    __slots__ = ("parent", "vars")

    def __init__(self, parent: Env | None = None):
        self.vars: dict[str, object] = {}
        self.parent = parent

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.vars:
                return True, env.vars[name]
            env = env.parent
        return False, None


# --------------------------------------------------------------------------- loader


class _Loader:
    def __init__(self, params: Mapping[str, str], filename: str, importer):
        self.params = params  # read only; any Mapping (lint passes one that knows every name)
        self.filename = filename
        self.importer = importer
        self.rules: list[LoadedRule] = []
        self.version: int | None = None
        self.debug: list[str] = []
        self.steps = 0
        self.calls = 0
        self.imports: list[str] = []
        self.global_env = Env()
        self._install_builtins()

    # ----------------------------------------------------------------- errors

    def fail(self, node: Node | None, message: str, hint: str, code: str = EVAL_CODE) -> PolicyError:
        span = node.span(self.filename) if node is not None else Span(self.filename, 1, 1)
        return PolicyError(Diagnostic(code, message, span, Severity.ERROR, hint))

    # ----------------------------------------------------------------- eval

    def run(self, profile: Profile) -> None:
        for form in profile.forms:
            self.eval(form, self.global_env)

    def eval(self, node, env: Env):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.fail(node, "the profile takes too long to evaluate",
                            f"a profile is evaluated in under {MAX_STEPS} steps; look for a loop")
        if isinstance(node, Str):
            return node.value
        if isinstance(node, (Int, Bool)):
            return node.value
        if isinstance(node, Symbol):
            found, value = env.lookup(node.name)
            return value if found else Sym(node.name)  # M8
        if isinstance(node, Quote):
            if node.kind != "quote":
                raise self.fail(node, f"{node.kind} is not supported in SBPL profiles",
                                "write the list out, or quote it with '")
            return self.datum(node.datum)
        if not node.items:
            return ()
        head = node.items[0]
        if isinstance(head, Symbol):
            special = _SPECIAL_FORMS.get(head.name)
            if special is not None and not env.lookup(head.name)[0]:
                return special(self, node, env)
        fn = self.eval(head, env)
        args = [self.eval(arg, env) for arg in node.items[1:]]
        return self.apply(fn, args, node)

    def datum(self, node):
        if isinstance(node, SList):
            return tuple(self.datum(item) for item in node.items)
        if isinstance(node, Symbol):
            return Sym(node.name)
        if isinstance(node, Quote):
            return (Sym(node.kind), self.datum(node.datum))
        return node.value

    def apply(self, fn, args: list, node: SList):
        if isinstance(fn, Builtin):
            return fn.fn(self, args, node)
        if isinstance(fn, Closure):
            if len(args) < len(fn.params) or (fn.rest is None and len(args) > len(fn.params)):
                raise self.fail(node, f"{fn.name} takes {len(fn.params)} argument(s), given {len(args)}",
                                "check the call against the define")
            env = Env(fn.env)
            env.vars.update(zip(fn.params, args))
            if fn.rest is not None:
                env.vars[fn.rest] = tuple(args[len(fn.params):])
            self.calls += 1
            if self.calls > MAX_CALL_DEPTH:
                raise self.fail(node, f"calls nested more than {MAX_CALL_DEPTH} deep",
                                "SBPL helpers do not recurse this deep; look for endless recursion")
            try:
                return self.body(fn.body, env)
            finally:
                self.calls -= 1
        hint = "define it first, or check the spelling"
        if isinstance(fn, Sym):
            hint = did_you_mean(fn.name, _known_words(self)) or hint
        raise self.fail(node, f"cannot call {_describe(fn)}: it is not a procedure", hint)

    def body(self, forms, env: Env):
        result = UNSPECIFIED
        for form in forms:
            result = self.eval(form, env)
        return result

    def string_arg(self, value, node: Node, what: str) -> str:
        if not isinstance(value, str):
            raise self.fail(node, f"{what} expects a string, got {_describe(value)}",
                            'write a string such as "/usr/lib", or (param "NAME")')
        return value

    # ----------------------------------------------------------------- builtins

    def _install_builtins(self) -> None:
        env = self.global_env.vars
        for name, fn in _PROCEDURES.items():
            env[name] = Builtin(name, fn)
        for name in _PATH_FILTERS:
            env[name] = Builtin(name, _path_filter(name))
        for name, (kind, field_name) in _NAME_FILTERS.items():
            env[name] = Builtin(name, _name_filter(name, kind, field_name))
        for name in ("require-any", "require-all", "require-not"):
            env[name] = Builtin(name, _combinator(name))
        env["local"] = Builtin("local", _address_filter("local"))
        env["remote"] = Builtin("remote", _address_filter("remote"))
        env["target"] = Builtin("target", _target_filter)
        env["vnode-type"] = Builtin("vnode-type", _vnode_filter)
        env["with"] = Builtin("with", _with_modifier)
        env["allow"] = Builtin("allow", _rule_maker("allow"))
        env["deny"] = Builtin("deny", _rule_maker("deny"))
        for name in catalog.FILTERS:
            if name not in env:
                env[name] = Builtin(name, _opaque_filter(name))


def _describe(value) -> str:
    if isinstance(value, Sym):
        return f"the symbol '{value.name}'"
    if isinstance(value, bool):
        return "#t" if value else "#f"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, Filter):
        return f"a {value.spelling} filter"
    if isinstance(value, tuple):
        return "a list"
    return type(value).__name__.lower() if value is not None else "nothing"


def _known_words(loader: _Loader) -> list[str]:
    env = loader.global_env
    return list(env.vars) + list(_SPECIAL_FORMS)


def _truthy(value) -> bool:
    return value is not False


# ---- special forms --------------------------------------------------------------


def _sf_version(ld: _Loader, node: SList, env: Env):
    if len(node.items) != 2 or not isinstance(node.items[1], Int):
        raise ld.fail(node, "version takes one number", "write (version 1)")
    if node.items[1].value != 1:
        raise ld.fail(node.items[1], f"unsupported SBPL version {node.items[1].value}",
                      "libsandbox knows only (version 1)")
    ld.version = 1
    return UNSPECIFIED


def _lambda_params(ld: _Loader, spec, node: Node) -> tuple[tuple[str, ...], str | None]:
    """Parameter names of a lambda list: (a b), (a . rest) or a bare symbol."""
    if isinstance(spec, Symbol):
        return (), spec.name
    if not isinstance(spec, SList):
        raise ld.fail(node, "a parameter list must be a list of symbols", "write (define (f a b) ...)")
    names: list[str] = []
    rest = None
    items = list(spec.items)
    if len(items) >= 2 and isinstance(items[-2], Symbol) and items[-2].name == ".":
        if not isinstance(items[-1], Symbol):
            raise ld.fail(items[-1], "a rest parameter must be a symbol", "write (define (f a . rest) ...)")
        rest = items[-1].name
        items = items[:-2]
    for item in items:
        if not isinstance(item, Symbol):
            raise ld.fail(item, "a parameter must be a symbol", "write (define (f a b) ...)")
        names.append(item.name)
    return tuple(names), rest


def _sf_define(ld: _Loader, node: SList, env: Env):
    if len(node.items) < 3:
        raise ld.fail(node, "define needs a name and a value", "write (define name value) or (define (f args) body)")
    target = node.items[1]
    if isinstance(target, SList):
        if not target.items or not isinstance(target.items[0], Symbol):
            raise ld.fail(target, "define needs a procedure name", "write (define (f args) body)")
        name = target.items[0].name
        params, rest = _lambda_params(ld, SList(*_node_pos(target), target.items[1:]), target)
        env.vars[name] = Closure(params, rest, tuple(node.items[2:]), env, name)
        return UNSPECIFIED
    if not isinstance(target, Symbol) or len(node.items) != 3:
        raise ld.fail(node, "define takes a name and one value", "write (define name value)")
    env.vars[target.name] = ld.eval(node.items[2], env)
    return UNSPECIFIED


def _node_pos(node: Node):
    return (node.line, node.col, node.end_line, node.end_col, node.start, node.end)


def _sf_lambda(ld: _Loader, node: SList, env: Env):
    if len(node.items) < 3:
        raise ld.fail(node, "lambda needs parameters and a body", "write (lambda (x) body)")
    params, rest = _lambda_params(ld, node.items[1], node)
    return Closure(params, rest, tuple(node.items[2:]), env)


def _sf_let(ld: _Loader, node: SList, env: Env):
    head = node.items[0].name
    if len(node.items) < 3 or not isinstance(node.items[1], SList):
        raise ld.fail(node, f"{head} needs bindings and a body", f"write ({head} ((name value)) body)")
    new = Env(env)
    for binding in node.items[1].items:
        if not (isinstance(binding, SList) and len(binding.items) == 2 and isinstance(binding.items[0], Symbol)):
            raise ld.fail(binding, f"a {head} binding is (name value)", f"write ({head} ((name value)) body)")
        scope = env if head == "let" else new
        new.vars[binding.items[0].name] = ld.eval(binding.items[1], scope)
    return ld.body(node.items[2:], new)


def _sf_if(ld: _Loader, node: SList, env: Env):
    if len(node.items) not in (3, 4):
        raise ld.fail(node, "if takes a test, a then-branch and an optional else-branch",
                      "write (if test then else)")
    if _truthy(ld.eval(node.items[1], env)):
        return ld.eval(node.items[2], env)
    return ld.eval(node.items[3], env) if len(node.items) == 4 else UNSPECIFIED


def _sf_when(ld: _Loader, node: SList, env: Env):
    if len(node.items) < 2:
        raise ld.fail(node, f"{node.items[0].name} needs a test", "write (when test body...)")
    test = _truthy(ld.eval(node.items[1], env))
    if test == (node.items[0].name == "when"):
        return ld.body(node.items[2:], env)
    return UNSPECIFIED


def _sf_cond(ld: _Loader, node: SList, env: Env):
    for clause in node.items[1:]:
        if not isinstance(clause, SList) or not clause.items:
            raise ld.fail(clause, "a cond clause is (test body...)", "write (cond (test body) (else body))")
        test = clause.items[0]
        if isinstance(test, Symbol) and test.name == "else":
            return ld.body(clause.items[1:], env)
        value = ld.eval(test, env)
        if _truthy(value):
            return ld.body(clause.items[1:], env) if len(clause.items) > 1 else value
    return UNSPECIFIED


def _sf_and(ld: _Loader, node: SList, env: Env):
    value = True
    for item in node.items[1:]:
        value = ld.eval(item, env)
        if not _truthy(value):
            return False
    return value


def _sf_or(ld: _Loader, node: SList, env: Env):
    for item in node.items[1:]:
        value = ld.eval(item, env)
        if _truthy(value):
            return value
    return False


def _sf_begin(ld: _Loader, node: SList, env: Env):
    return ld.body(node.items[1:], env)


def _sf_quote(ld: _Loader, node: SList, env: Env):
    if len(node.items) != 2:
        raise ld.fail(node, "quote takes one datum", "write (quote x) or 'x")
    return ld.datum(node.items[1])


def _sf_debug(ld: _Loader, node: SList, env: Env):
    ld.debug.extend(str(ld.datum(item)) for item in node.items[1:])
    return UNSPECIFIED


def _sf_import(ld: _Loader, node: SList, env: Env):
    if len(node.items) != 2:
        raise ld.fail(node, "import takes one profile name", 'write (import "system.sb")')
    name = ld.string_arg(ld.eval(node.items[1], env), node.items[1], "import")
    if ld.importer is None:
        raise ld.fail(node, f"cannot import {name!r}: no importer was given",
                      "pass importer= to load_profile, or inline the imported profile")
    if name in ld.imports or len(ld.imports) >= MAX_IMPORT_DEPTH:
        raise ld.fail(node, f"import cycle or chain too deep at {name!r}",
                      "a profile must not import itself, directly or through others")
    text = ld.importer(name)
    if text is None:
        raise ld.fail(node, f"cannot import {name!r}: the importer does not know it", "check the profile name")
    profile = parse_sbpl(text, name)
    outer = ld.filename
    ld.imports.append(name)
    ld.filename = name
    try:
        for form in profile.forms:
            ld.eval(form, ld.global_env)
    finally:
        ld.filename = outer
        ld.imports.pop()
    return UNSPECIFIED


_SPECIAL_FORMS: dict[str, Callable] = {
    "version": _sf_version,
    "define": _sf_define,
    "lambda": _sf_lambda,
    "let": _sf_let,
    "let*": _sf_let,
    "letrec": _sf_let,
    "if": _sf_if,
    "when": _sf_when,
    "unless": _sf_when,
    "cond": _sf_cond,
    "and": _sf_and,
    "or": _sf_or,
    "begin": _sf_begin,
    "quote": _sf_quote,
    "debug": _sf_debug,
    "import": _sf_import,
}


# ---- procedures ------------------------------------------------------------------


def _p_param(ld: _Loader, args, node):
    if len(args) != 1:
        raise ld.fail(node, "param takes one name", 'write (param "HOME")')
    name = ld.string_arg(args[0], node.items[1], "param")
    if name not in ld.params:
        raise ld.fail(node, f"param {name!r} is not given",
                      f"sandbox-exec fails to load a profile with a missing param; pass -D {name}=VALUE")
    return ld.params[name]


def _p_string_append(ld: _Loader, args, node):
    return "".join(ld.string_arg(a, node.items[i + 1], "string-append") for i, a in enumerate(args))


def _strings(name):
    def check(ld, args, node, count):
        if len(args) != count:
            raise ld.fail(node, f"{name} takes {count} arguments", f"check the call to {name}")
        return [ld.string_arg(a, node.items[i + 1], name) for i, a in enumerate(args)]

    return check


def _p_list(ld, args, node):
    return tuple(args)


def _p_append(ld, args, node):
    out: list = []
    for arg in args:
        out.extend(arg if isinstance(arg, tuple) else (arg,))
    return tuple(out)


def _list_arg(ld, value, node, what):
    if not isinstance(value, tuple):
        raise ld.fail(node, f"{what} expects a list, got {_describe(value)}", "pass a list, such as (list a b)")
    return value


def _p_map(ld, args, node):
    if len(args) != 2:
        raise ld.fail(node, "map takes a procedure and one list", "write (map f items)")
    return tuple(ld.apply(args[0], [x], node) for x in _list_arg(ld, args[1], node, "map"))


def _p_for_each(ld, args, node):
    _p_map(ld, args, node)
    return UNSPECIFIED


def _p_apply(ld, args, node):
    if not args:
        raise ld.fail(node, "apply needs a procedure", "write (apply f args... list)")
    spread = list(args[1:-1]) + list(_list_arg(ld, args[-1], node, "apply")) if len(args) > 1 else []
    return ld.apply(args[0], spread, node)


def _p_equal(ld, args, node):
    return all(a == args[0] for a in args[1:])


def _p_not(ld, args, node):
    if len(args) != 1:
        raise ld.fail(node, "not takes one value", "write (not x)")
    return args[0] is False


def _p_car(ld, args, node):
    items = _list_arg(ld, args[0] if args else None, node, "car")
    if not items:
        raise ld.fail(node, "car of an empty list", "check the list is not empty")
    return items[0]


def _p_cdr(ld, args, node):
    items = _list_arg(ld, args[0] if args else None, node, "cdr")
    if not items:
        raise ld.fail(node, "cdr of an empty list", "check the list is not empty")
    return items[1:]


def _p_cons(ld, args, node):
    if len(args) != 2:
        raise ld.fail(node, "cons takes two values", "write (cons x list)")
    return (args[0],) + _list_arg(ld, args[1], node, "cons")


def _p_prefix(ld, args, node):
    a, b = _strings("string-prefix?")(ld, args, node, 2)
    return b.startswith(a)


def _p_suffix(ld, args, node):
    a, b = _strings("string-suffix?")(ld, args, node, 2)
    return b.endswith(a)


def _p_param_true(ld, args, node):
    if len(args) != 1:
        raise ld.fail(node, "param-true? takes one name", 'write (param-true? "NAME")')
    name = ld.string_arg(args[0], node.items[1], "param-true?")
    return ld.params.get(name, "").upper() in ("YES", "TRUE", "1")


def _numbers(name):
    def check(ld, args, node):
        for i, a in enumerate(args):
            if not _is_number(a):
                raise ld.fail(node.items[i + 1] if i + 1 < len(node.items) else node,
                              f"{name} expects numbers, got {_describe(a)}", f"check the call to {name}")
        return args

    return check


def _p_compare(name, test):
    def compare(ld, args, node):
        values = _numbers(name)(ld, args, node)
        return all(test(a, b) for a, b in itertools.pairwise(values))

    return compare


def _p_minus(ld, args, node):
    values = _numbers("-")(ld, args, node)
    if not values:
        raise ld.fail(node, "- needs at least one number", "write (- a b)")
    return -values[0] if len(values) == 1 else values[0] - sum(values[1:])


def _one(ld, name, args, node):
    if len(args) != 1:
        raise ld.fail(node, f"{name} takes one argument, given {len(args)}", f"write ({name} x)")
    return args


def _is_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _p_symbol_to_string(ld, args, node):
    (value,) = _one(ld, "symbol->string", args, node)
    if not isinstance(value, Sym):
        raise ld.fail(node, f"symbol->string expects a symbol, got {_describe(value)}", "write (symbol->string 'name)")
    return value.name


def _p_ioctl(name):
    # _IO/_IOR/_IOW/_IOWR build ioctl numbers for fsctl-command and ioctl-command
    # filters, which this model does not decide (M3): keep the call as a value.
    def make(ld, args, node):
        return (Sym(name), *args)

    return make


_PROCEDURES: dict[str, Callable] = {
    "string-length": lambda ld, a, n: len(_strings("string-length")(ld, a, n, 1)[0]),
    "number->string": lambda ld, a, n: str(_numbers("number->string")(ld, _one(ld, "number->string", a, n), n)[0]),
    "symbol->string": _p_symbol_to_string,
    "string->symbol": lambda ld, a, n: Sym(_strings("string->symbol")(ld, a, n, 1)[0]),
    "boolean?": lambda ld, a, n: isinstance(_one(ld, "boolean?", a, n)[0], bool),
    "number?": lambda ld, a, n: _is_number(_one(ld, "number?", a, n)[0]),
    "procedure?": lambda ld, a, n: isinstance(_one(ld, "procedure?", a, n)[0], (Builtin, Closure)),
    "positive?": lambda ld, a, n: _numbers("positive?")(ld, _one(ld, "positive?", a, n), n)[0] > 0,
    "+": lambda ld, a, n: sum(_numbers("+")(ld, a, n)),
    "-": _p_minus,
    "=": _p_compare("=", lambda x, y: x == y),
    "<": _p_compare("<", lambda x, y: x < y),
    ">": _p_compare(">", lambda x, y: x > y),
    "_IO": _p_ioctl("_IO"),
    "_IOR": _p_ioctl("_IOR"),
    "_IOW": _p_ioctl("_IOW"),
    "_IOWR": _p_ioctl("_IOWR"),
    "param": _p_param,
    "param-true?": _p_param_true,
    "string-append": _p_string_append,
    "string=?": lambda ld, a, n: _strings("string=?")(ld, a, n, 2)[0] == a[1],
    "string?": lambda ld, a, n: len(a) == 1 and isinstance(a[0], str),
    "symbol?": lambda ld, a, n: len(a) == 1 and isinstance(a[0], Sym),
    "null?": lambda ld, a, n: len(a) == 1 and a[0] == (),
    "pair?": lambda ld, a, n: len(a) == 1 and isinstance(a[0], tuple) and bool(a[0]),
    "list?": lambda ld, a, n: len(a) == 1 and isinstance(a[0], tuple),
    "string-prefix?": _p_prefix,
    "string-suffix?": _p_suffix,
    "equal?": _p_equal,
    "eq?": _p_equal,
    "eqv?": _p_equal,
    "not": _p_not,
    "list": _p_list,
    "append": _p_append,
    "cons": _p_cons,
    "car": _p_car,
    "cdr": _p_cdr,
    "length": lambda ld, a, n: len(_list_arg(ld, a[0] if a else None, n, "length")),
    "map": _p_map,
    "for-each": _p_for_each,
    "apply": _p_apply,
}


# ---- filters ---------------------------------------------------------------------

_PATH_FILTERS = ("literal", "path", "path-literal", "subpath", "prefix", "regex")
#: filter spelling -> (kind, request field it reads)
_NAME_FILTERS: dict[str, tuple[str, str]] = {
    "global-name": ("name", "global"),
    "global-name-prefix": ("name-prefix", "global"),
    "global-name-regex": ("name-regex", "global"),
    "local-name": ("name", "local"),
    "local-name-prefix": ("name-prefix", "local"),
    "local-name-regex": ("name-regex", "local"),
    "sysctl-name": ("name", "name"),
    "sysctl-name-prefix": ("name-prefix", "name"),
    "sysctl-name-regex": ("name-regex", "name"),
    "preference-domain": ("name", "name"),
    "ipc-posix-name": ("name", "name"),
}

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~",
}


def posix_ere_to_python(pattern: str) -> str:
    """Translate a POSIX extended regex to Python ``re`` syntax (M7); ValueError if invalid."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise ValueError("trailing backslash")
            escaped = pattern[i + 1]
            if escaped.isalnum():  # \d, \w, \1 ... are not POSIX ERE
                raise ValueError(f"'\\{escaped}' is not POSIX extended regex syntax")
            out.append(re.escape(escaped))
            i += 2
            continue
        if ch == "(" and pattern.startswith("(?", i):
            raise ValueError(f"'(?' at offset {i} is not POSIX extended regex syntax")
        if ch in "*+?" and i + 1 < n and pattern[i + 1] in "?+":
            raise ValueError(f"lazy or possessive quantifier at offset {i} is not POSIX")
        if ch == "$":
            out.append(r"\Z")  # POSIX $ is the end of the string only, Python's also matches before a final newline
            i += 1
            continue
        if ch != "[":
            out.append(ch)
            i += 1
            continue
        # a bracket expression: ']' first is literal, backslash is literal, [:class:] expands
        j = i + 1
        part = ["["]
        if j < n and pattern[j] == "^":
            part.append("^")
            j += 1
        if j < n and pattern[j] == "]":
            part.append(r"\]")
            j += 1
        while j < n and pattern[j] != "]":
            if pattern.startswith("[:", j):
                end = pattern.find(":]", j + 2)
                cls = pattern[j + 2 : end] if end >= 0 else None
                if cls not in _POSIX_CLASSES:
                    raise ValueError(f"unknown character class at offset {j}")
                part.append(_POSIX_CLASSES[cls])
                j = end + 2
                continue
            c = pattern[j]
            part.append("\\" + c if c in "\\[&~|" else c)  # literal in POSIX; special or warned in Python
            j += 1
        if j >= n:
            raise ValueError(f"unterminated bracket expression at offset {i}")
        part.append("]")
        out.append("".join(part))
        i = j + 1
    return "".join(out)


def _compile_regex(ld: _Loader, pattern: str, node: Node):
    try:
        return re.compile(posix_ere_to_python(pattern), re.DOTALL)  # POSIX '.' also matches a newline
    except (ValueError, re.error, RecursionError, OverflowError) as exc:
        raise ld.fail(node, f"invalid regex {pattern!r}: {exc}",
                      "SBPL regexes are POSIX extended regular expressions") from None


def _path_filter(name: str):
    kind = {"path": "literal", "path-literal": "literal"}.get(name, name)

    def make(ld: _Loader, args, node):
        if len(args) != 1:
            raise ld.fail(node, f"{name} takes one string", f'write ({name} "/usr/lib")')
        value = ld.string_arg(args[0], node.items[1], name)
        if kind == "regex":
            return Filter(kind, (value, _compile_regex(ld, value, node.items[1])), name, node)
        return Filter(kind, (value,), name, node)

    return make


def _name_filter(name: str, kind: str, field_name: str):
    def make(ld: _Loader, args, node):
        if len(args) != 1:
            raise ld.fail(node, f"{name} takes one string", f'write ({name} "com.example.service")')
        value = ld.string_arg(args[0], node.items[1], name)
        if kind == "name-regex":
            return Filter(kind, (field_name, value, _compile_regex(ld, value, node.items[1])), name, node)
        return Filter(kind, (field_name, value), name, node)

    return make


def _combinator(name: str):
    kind = {"require-any": "any", "require-all": "all", "require-not": "not"}[name]

    def make(ld: _Loader, args, node):
        filters = _flatten(args)
        for i, f in enumerate(filters):
            if not isinstance(f, Filter):
                raise ld.fail(node, f"{name} combines filters, got {_describe(f)}",
                              f"write ({name} (literal \"/a\") (subpath \"/b\"))")
        if kind == "not" and len(filters) != 1:
            raise ld.fail(node, "require-not takes exactly one filter", '(require-not (subpath "/a"))')
        return Filter(kind, tuple(filters), name, node)

    return make


_HOST_PORT = re.compile(r"\A(?P<host>\*|localhost|[^:]*|\[[^\]]*\]):(?P<port>\*|[0-9]{1,5})\Z")


def _address_filter(side: str):
    def make(ld: _Loader, args, node):
        if not args or len(args) > 2:
            raise ld.fail(node, f"{side} takes a protocol and an optional \"host:port\"",
                          f'write ({side} tcp "localhost:8080") or ({side} ip "*:443")')
        proto = args[0]
        if isinstance(proto, Filter) or not isinstance(proto, (Sym, str)):
            raise ld.fail(node, f"{side} needs a protocol word first, got {_describe(proto)}",
                          "use ip, tcp, udp, ip4, ip6, tcp4, tcp6, udp4, udp6 or unix")
        proto = str(proto)
        if proto not in catalog.NETWORK_PROTOCOLS:
            hint = did_you_mean(proto, catalog.NETWORK_PROTOCOLS) or "use ip, tcp or udp"
            raise ld.fail(node.items[1], f"unknown protocol {proto!r} in a {side} filter", hint)
        if len(args) == 1:
            return Filter("address", (side, proto, None, None), side, node)
        address = args[1]
        if isinstance(address, Filter):  # (remote unix-socket (path-literal "/x"))
            return Filter("address", (side, proto, address, None), side, node)
        address = ld.string_arg(address, node.items[2], side)
        m = _HOST_PORT.match(address)
        if not m:
            raise ld.fail(node.items[2], f"invalid address {address!r}: expected \"host:port\"",
                          'write "*:443", "localhost:8080" or "*:*"', code="AWP507")
        host, port = m.group("host"), m.group("port")
        if host not in ("*", "localhost"):
            raise ld.fail(node.items[2], f"host {host!r} is not allowed in a {side} filter: "
                          "Seatbelt accepts only * or localhost and fails to load the profile",
                          "use \"*\" or \"localhost\"; restrict hosts with a proxy instead", code="AWP507")
        if port != "*" and not 0 <= int(port) <= 65535:
            raise ld.fail(node.items[2], f"port {port} is out of range", "ports are 0 to 65535", code="AWP507")
        return Filter("address", (side, proto, host, None if port == "*" else int(port)), side, node)

    return make


def _target_filter(ld: _Loader, args, node):
    if len(args) != 1 or str(args[0]) not in catalog.SIGNAL_TARGETS or not isinstance(args[0], (Sym, str)):
        raise ld.fail(node, "target takes one of self, pgrp, others, children, same-sandbox",
                      "write (target self)")
    return Filter("target", (str(args[0]),), "target", node)


def _vnode_filter(ld: _Loader, args, node):
    kinds = [str(a) for a in args]
    if not kinds or any(k not in catalog.VNODE_TYPES or not isinstance(a, (Sym, str)) for k, a in zip(kinds, args)):
        raise ld.fail(node, "vnode-type takes file kinds", "write (vnode-type REGULAR-FILE DIRECTORY)")
    return Filter("vnode-type", tuple(kinds), "vnode-type", node)


def _opaque_filter(name: str):
    def make(ld: _Loader, args, node):
        return Filter("opaque", (), name, node)

    return make


def _with_modifier(ld: _Loader, args, node):
    if not args or not isinstance(args[0], Sym):
        raise ld.fail(node, "with takes a modifier name", "write (with report) or (with send-signal SIGKILL)")
    name = args[0].name
    if name not in catalog.MODIFIERS:
        hint = did_you_mean(name, catalog.MODIFIERS) or "known: " + ", ".join(sorted(catalog.MODIFIERS))
        raise ld.fail(node.items[1], f"unknown modifier {name!r}", hint)
    if name == "send-signal" and len(args) != 2:
        raise ld.fail(node, "send-signal takes one signal name", "write (with send-signal SIGKILL)")
    return Modifier(name, tuple(str(a) if isinstance(a, Sym) else a for a in args[1:]))


def _flatten(args) -> list:
    out: list = []
    for arg in args:
        if isinstance(arg, tuple):
            out.extend(_flatten(arg))
        elif arg is not UNSPECIFIED:
            out.append(arg)
    return out


def _rule_maker(effect: str):
    def make(ld: _Loader, args, node):
        operations: list[str] = []
        filters: list[Filter] = []
        modifiers: list[Modifier] = []
        for i, arg in enumerate(_flatten(args)):
            if isinstance(arg, Sym):
                if not catalog.is_operation(arg.name):
                    hint = did_you_mean(arg.name, catalog.operation_names()) or "see `awpolicy rules AWP502`"
                    where = _arg_node(node, arg.name) or node
                    raise ld.fail(where, f"unknown operation {arg.name!r}", hint, code="AWP502")
                operations.append(catalog.canonical_operation(arg.name))
            elif isinstance(arg, Filter):
                filters.append(arg)
            elif isinstance(arg, Modifier):
                modifiers.append(arg)
            else:
                raise ld.fail(node, f"{effect} takes operations, filters and modifiers, got {_describe(arg)}",
                              f'write ({effect} file-read* (subpath "/usr/lib"))')
        if not operations:
            raise ld.fail(node, f"{effect} names no operation", f'write ({effect} file-read* ...)')
        flt = None
        if len(filters) == 1:
            flt = filters[0]
        elif filters:  # several filters in one rule are OR-ed (fact 6)
            flt = Filter("any", tuple(filters), "(several filters)", node)
        rule = LoadedRule(len(ld.rules), effect, tuple(dict.fromkeys(operations)), flt, tuple(modifiers),
                          node, ld.filename)
        ld.rules.append(rule)
        return UNSPECIFIED

    return make


def _arg_node(node: SList, name: str):
    for item in node.items[1:]:
        if isinstance(item, Symbol) and item.name == name:
            return item
    return None


# --------------------------------------------------------------------------- entry points


def load_profile(
    text: str | bytes | Profile,
    params: Mapping[str, str] | None = None,
    filename: str = "<sbpl>",
    importer: Callable[[str], str | bytes | None] | None = None,
) -> LoadedProfile:
    """Parse and run a profile; raises PolicyError (AWP5xx, with location) if it would not load."""
    profile = text if isinstance(text, Profile) else parse_sbpl(text, filename)
    loader = _Loader({} if params is None else params, profile.filename, importer)
    try:
        loader.run(profile)
    except RecursionError:
        raise loader.fail(None, "the profile nests calls too deeply", "simplify the profile") from None
    return LoadedProfile(tuple(loader.rules), loader.version, profile.filename, dict(loader.params),
                         tuple(loader.debug))


def evaluate(loaded: LoadedProfile, request: Request, *, full_scan: bool = False) -> Verdict:
    """Decide ``request`` as Seatbelt would under ``loaded`` (see the module docstring).

    ValueError for an operation the catalog does not know. ``full_scan`` checks
    every rule instead of using the path index (the reference the index is
    tested against; same answers, slower).
    """
    operation = request.operation
    if not catalog.is_operation(operation):
        raise ValueError(f"unknown operation {operation!r}")
    operation = catalog.canonical_operation(operation)

    # Fact 5: the implicit rule appended after the profile.
    if operation == "signal" and request.target == "self":
        return Verdict(True, None, "implicit rule: a process may always signal itself")

    verdict = _decide(loaded.index_for(operation), request, operation, not full_scan)
    if verdict is not None:
        return verdict
    verdict = _decide(loaded.index_for("default"), request, "default", not full_scan)
    if verdict is None:
        return Verdict(False, None, "the profile has no default rule: deny (modelling choice M2)")
    if not verdict.allowed and not catalog.is_covered_by_default(operation):
        return Verdict(True, None, f"{operation} is not covered by (deny default): allowed unless a rule names it")
    where = verdict.rule.span
    return Verdict(verdict.allowed, None, f"no rule of {operation} decides: the default rule at {where.file}:"
                   f"{where.line}:{where.col}, {verdict.rule.effect}", verdict.report)


def _decide(index: RuleIndex, request: Request, operation: str, use_index: bool = True) -> Verdict | None:
    # Fact 1: the last matching filtered rule wins.
    for rule in index.filtered_last_first(request if use_index else None):
        outcome = _match(rule.filter, request, operation)
        if outcome is True or (outcome is None and rule.effect == "deny"):
            why = "last matching filtered rule"
            if outcome is None:
                why += " (its filter cannot be decided by this model; counted as matching a deny, M3)"
            return Verdict(rule.effect == "allow", rule, f"{why}: {rule.effect} {' '.join(rule.operations)}",
                           rule.report)
    # Fact 2 and M1: the last unfiltered rule sets the fallback.
    if not index.unfiltered:
        return None
    rule = index.unfiltered[-1]
    return Verdict(rule.effect == "allow", rule,
                   f"no filtered rule matches; fallback of {operation}: unfiltered {rule.effect}", rule.report)


def _match(flt: Filter, req: Request, operation: str) -> bool | None:
    """True, False, or None when this model cannot decide (M3); Kleene logic for combinators."""
    kind = flt.kind
    if kind in ("literal", "subpath", "prefix", "regex"):
        path = req.path
        if path is None:
            return False
        value = flt.args[0]
        if kind == "literal":
            return path == value
        if kind == "subpath":  # M4 falls out of this: "/a/" never equals a path nor prefixes "/a//"
            return path == value or path.startswith(value + "/") or (value == "/" and path.startswith("/"))
        if kind == "prefix":
            return path.startswith(value)
        return flt.args[1].search(path) is not None
    if kind in ("name", "name-prefix", "name-regex"):
        field_name = flt.args[0]
        if field_name in ("global", "local") and req.namespace != field_name:
            return False
        name = req.name
        if name is None:
            return False
        if kind == "name":
            return name == flt.args[1]
        if kind == "name-prefix":
            return name.startswith(flt.args[1])
        return flt.args[2].search(name) is not None
    if kind == "address":
        return _match_address(flt, req, operation)
    if kind == "target":
        if req.target is None:
            return False
        want = flt.args[0]
        return req.target == want or (want == "others" and req.target != "self")  # M6
    if kind == "vnode-type":
        return req.vnode_type is not None and req.vnode_type in flt.args
    if kind == "any":
        outcome = False
        for inner in flt.args:
            result = _match(inner, req, operation)
            if result is True:
                return True
            if result is None:
                outcome = None
        return outcome
    if kind == "all":
        outcome = True
        for inner in flt.args:
            result = _match(inner, req, operation)
            if result is False:
                return False
            if result is None:
                outcome = None
        return outcome
    if kind == "not":
        inner = _match(flt.args[0], req, operation)
        return None if inner is None else not inner
    return None  # opaque


def _match_address(flt: Filter, req: Request, operation: str) -> bool | None:
    side, proto, host, port = flt.args
    wanted_side = "remote" if operation == "network-outbound" else "local"  # M5
    if not operation.startswith("network") or side != wanted_side:
        return False
    request_family = req.protocol.rstrip("46")
    if proto in ("unix", "unix-socket") or request_family in ("unix", "unix-socket"):
        if proto not in ("unix", "unix-socket") or request_family not in ("unix", "unix-socket"):
            return False
        return True if host is None else _match(host, req, operation)  # host holds a path filter
    family = proto.rstrip("46")
    if family != "ip" and family != request_family:
        return False
    if host is None:
        return True
    if host == "localhost" and not _is_loopback(req.host):
        return False
    return port is None or req.port == port


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    return host in LOOPBACK_HOSTS or re.fullmatch(r"127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", host) is not None
