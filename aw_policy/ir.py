"""The IR and the one decide() that defines what a policy means.

Stdlib only, so the runtime can import it at launch without the compiler's
dependencies. Every backend is compiled from this module's order and tested
against :func:`decide`. The classes are :class:`aw_runtime.record.Record`
subclasses (immutable like frozen dataclasses, far cheaper to import): a
changed copy is ``rule.replace(id=...)``, not ``dataclasses.replace``.

A request is (operation, object): read/write/exec of a path, connect/bind to
host:port, signal to a target, debug (ptrace, task port) of a target, lookup
of a mach name. Among the rules that match it, the winner is the maximum of

1. tier: org ``enforce`` > project ``enforce`` > everything else;
2. specificity: more fixed leading path components; at equal depth
   literal > glob > subtree (hosts: exact name > wildcard > any);
3. scope: session > user > project > org;
4. effect: deny > prompt > allow.

Class defaults take part as rules below every real rule's specificity, so
they decide only when nothing else matches; with no default stated the
built-in one is ``deny``. Debugging is off unless a rule allows it: a bare
``default allow`` does not reach the ``debug`` class, and the only target a
rule can allow is ``same-sandbox`` (``others`` is asked about, always denied).
"""

from __future__ import annotations

import functools
import json
import re
from types import MappingProxyType

from aw_runtime.record import Record

from aw_policy import paths

TYPE_CHECKING = False  # annotations only: importing collections.abc costs a launch 0.3 ms
if TYPE_CHECKING:
    from collections.abc import Iterable

SCOPE_RANK = {"org": 0, "project": 1, "user": 2, "session": 3}
EFFECT_RANK = {"allow": 0, "prompt": 1, "deny": 2}
OP_CLASS = {
    "read": "fs", "write": "fs", "exec": "fs",
    "connect": "net", "bind": "net",
    "signal": "signal", "mach": "mach", "debug": "debug",
}
OPERATIONS = tuple(OP_CLASS)
#: The classes a ``default`` statement sets; debug has no default but the built-in deny.
CLASSES = ("fs", "net", "signal", "mach")
RULE_CLASSES = (*CLASSES, "debug")
#: The operations of each class, in OPERATIONS order.
CLASS_OPS = {cls: tuple(op for op in OPERATIONS if OP_CLASS[op] == cls) for cls in RULE_CLASSES}
SIGNAL_TARGETS = ("self", "children", "pgrp", "same-sandbox", "others")
DEBUG_TARGETS = ("same-sandbox", "others")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"})
IR_FORMAT = "awpolicy.ir/1"


class Origin(Record):
    """Where a rule came from: file, position and the scope of its layer."""

    file: str
    line: int
    col: int
    scope: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Rule(Record):
    """One normalized rule: one operation, one target."""

    id: str
    op: str  # read write exec connect bind signal mach debug, or "*" for a class default
    cls: str
    effect: str
    kind: str  # subtree literal glob | host | signal | debug | mach | default
    pattern: str  # symbolic; normalized
    scope: str
    origin: Origin
    enforce: bool = False
    audit: bool = False

    @property
    def tier(self) -> int:
        if not self.enforce:
            return 0
        return 2 if self.scope == "org" else 1

    def describe(self) -> str:
        mods = ("enforce " if self.enforce else "") + ("audit " if self.audit else "")
        if self.kind == "default":
            return f"{mods}default {self.effect} ({self.cls})"
        kind = "" if self.kind in ("subtree", "host", "signal", "debug", "mach") else self.kind + " "
        word = self.kind in ("signal", "debug")
        return f"{mods}{self.effect} {self.op} {kind}{self.pattern if word else json.dumps(self.pattern)}"

    def to_json(self) -> dict:
        return {
            "id": self.id, "op": self.op, "class": self.cls, "effect": self.effect,
            "kind": self.kind, "pattern": self.pattern, "scope": self.scope,
            "enforce": self.enforce, "audit": self.audit,
            "origin": {"file": self.origin.file, "line": self.origin.line, "col": self.origin.col},
        }

    @staticmethod
    def from_json(data: dict) -> Rule:
        o = data["origin"]
        # every field by position: Record's fast path (a launch reads every rule of policy.json)
        return Rule(data["id"], data["op"], data["class"], data["effect"], data["kind"], data["pattern"],
                    data["scope"], Origin(o["file"], o["line"], o["col"], data["scope"]),
                    data["enforce"], data["audit"])


class ParamDecl(Record):
    name: str
    default: str | None
    origin: Origin | None  # None for built-ins


class BranchSpec(Record):
    name: str
    base: str
    cow: bool
    hide: tuple[str, ...]
    readonly: tuple[str, ...]
    on_exit: str
    parent: str | None
    origin: Origin


class SourceInfo(Record):
    path: str
    scope: str
    sha256: str


class Policy(Record):
    """The merged policy: every rule with its provenance, in merge order."""

    rules: tuple[Rule, ...]
    params: tuple[ParamDecl, ...] = ()
    branches: tuple[BranchSpec, ...] = ()
    env_set: tuple[tuple[str, str], ...] = ()
    env_pass: tuple[str, ...] = ()
    sources: tuple[SourceInfo, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        """Hashed once: bind() looks a policy up in its cache, and hashing one hashes every rule."""
        return Record.__hash__(self)

    @functools.cached_property
    def _by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def param_defaults(self) -> dict[str, str]:
        values = dict(paths.REFERENCE_PARAMS)
        for p in self.params:
            if p.default is not None:
                values[p.name] = p.default
        return values

    def to_json(self) -> dict:
        return {
            "format": IR_FORMAT,
            "rules": [r.to_json() for r in self.rules],
            "params": [
                {"name": p.name, "default": p.default,
                 "origin": None if p.origin is None else {"file": p.origin.file, "line": p.origin.line,
                                                         "col": p.origin.col, "scope": p.origin.scope}}
                for p in self.params
            ],
            "branches": [
                {"name": b.name, "base": b.base, "cow": b.cow, "hide": list(b.hide),
                 "readonly": list(b.readonly), "on_exit": b.on_exit, "parent": b.parent,
                 "origin": {"file": b.origin.file, "line": b.origin.line, "col": b.origin.col,
                            "scope": b.origin.scope}}
                for b in self.branches
            ],
            "env": {"set": dict(self.env_set), "pass": list(self.env_pass)},
        }

    @staticmethod
    def from_json(data: dict) -> Policy:
        if data.get("format") != IR_FORMAT:
            raise ValueError(f"policy.json has format {data.get('format')!r}; this awpolicy reads {IR_FORMAT!r}")

        def origin(o):
            return None if o is None else Origin(o["file"], o["line"], o["col"], o["scope"])

        rule = Rule.from_json
        return Policy(
            rules=tuple([rule(r) for r in data["rules"]]),
            params=tuple(ParamDecl(p["name"], p["default"], origin(p["origin"])) for p in data["params"]),
            branches=tuple(
                BranchSpec(b["name"], b["base"], b["cow"], tuple(b["hide"]), tuple(b["readonly"]),
                           b["on_exit"], b["parent"], origin(b["origin"]))
                for b in data["branches"]
            ),
            env_set=tuple(sorted(data["env"]["set"].items())),
            env_pass=tuple(data["env"]["pass"]),
        )


# --------------------------------------------------------------------------- requests


class Request(Record):
    op: str
    object: str

    @property
    def cls(self) -> str:
        return OP_CLASS[self.op]


class Decision(Record):
    effect: str
    rule: Rule
    beaten: tuple[Rule, ...]
    request: Request

    @property
    def audit(self) -> bool:
        return self.rule.audit

    def to_json(self) -> dict:
        return {
            "request": {"op": self.request.op, "object": self.request.object},
            "effect": self.effect,
            "audit": self.audit,
            "rule": self.rule.to_json(),
            "beaten": [r.to_json() for r in self.beaten],
        }


class RequestError(ValueError):
    pass


def split_host_port(text: str) -> tuple[str, str]:
    """'host:port' -> (host, port); IPv6 hosts are written in brackets: '[::1]:443'."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise RequestError(f"{text!r}: write IPv6 as [address]:port")
        return text[: end + 1].lower(), text[end + 2 :]
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise RequestError(f"{text!r} is not host:port; write e.g. \"localhost:8080\" or \"*.example.com:443\"")
    return host.lower(), port


def normalize_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return "localhost" if host in LOOPBACK_NAMES else host


def check_host_pattern(text: str) -> str:
    """Validate and normalize a 'host:port' pattern; raises RequestError with a fix."""
    host, port = split_host_port(text)
    if port != "*":
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise RequestError(f"port {port!r} in {text!r} must be 1-65535 or *")
        port = str(int(port))
    if host != "*":
        if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
            raise RequestError(f"host {host!r}: a wildcard may only be a leading '*.' label")
        name = host.removeprefix("*.")
        if not re.fullmatch(r"\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?", name):
            raise RequestError(f"host {host!r} is not a valid name or address")
        host = normalize_host(host)
    return f"{host}:{port}"


def normalize_request(op: str, obj: str) -> Request:
    if op not in OP_CLASS:
        raise RequestError(f"unknown operation {op!r}; use one of {', '.join(OPERATIONS)}")
    if OP_CLASS[op] == "fs":
        try:
            return Request(op, paths.normalize_request_path(obj))
        except paths.PathError as exc:
            raise RequestError(str(exc)) from None
    if OP_CLASS[op] == "net":
        host, port = split_host_port(obj)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise RequestError(f"port {port!r} must be a number 1-65535")
        return Request(op, f"{normalize_host(host)}:{int(port)}")
    if op == "signal" and obj not in SIGNAL_TARGETS:
        raise RequestError("signal target must be one of " + ", ".join(SIGNAL_TARGETS))
    if op == "debug" and obj not in DEBUG_TARGETS:
        raise RequestError("debug target must be same-sandbox (the sandbox's own processes) or others "
                           "(anything outside it, never debuggable)")
    return Request(op, obj)


# --------------------------------------------------------------------------- binding


class BoundRule(Record):
    rule: Rule
    specificity: tuple
    matcher: object  # callable(str) -> bool
    anchor: str | None = None  # paths: the fixed leading directory every match lies in; None: no index

    def key(self, index: int) -> tuple:
        r = self.rule
        return (r.tier, self.specificity, SCOPE_RANK.get(r.scope, -1), EFFECT_RANK[r.effect], -index)


def _host_matcher(pattern: str):
    host, port = split_host_port(pattern)

    def host_ok(h: str) -> bool:
        if host == "*":
            return True
        if host.startswith("*."):
            return h.endswith(host[1:])
        return h == host

    def match(obj: str) -> bool:
        h, p = split_host_port(obj)
        return host_ok(h) and (port == "*" or p == port)

    host_rank = (0, 0) if host == "*" else (1, host.count(".")) if host.startswith("*.") else (2, 0)
    return match, (*host_rank, 1 if port != "*" else 0)


def _mach_matcher(pattern: str):
    if pattern == "*":
        return (lambda name: True), (0, 0)
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return (lambda name: name.startswith(prefix)), (1, len(prefix))
    return (lambda name: name == pattern), (2, 0)


def _signal_matcher(pattern: str):
    """Signal and debug targets: one word, ``any`` (signals only) matching every target."""
    if pattern == "any":
        return (lambda target: True), (0,)
    return (lambda target: target == pattern), (1,)


BUILTIN_DEFAULT_ORIGIN = Origin("<built-in>", 0, 0, "org")


def builtin_default(cls: str) -> Rule:
    return Rule(id=f"default-{cls}", op="*", cls=cls, effect="deny", kind="default", pattern="*",
                scope="builtin", origin=BUILTIN_DEFAULT_ORIGIN)


def bind_rule(rule: Rule, params: dict[str, str]) -> BoundRule:
    if rule.kind == "default":
        return BoundRule(rule, (-1,), lambda obj: True)
    if rule.kind in ("subtree", "literal", "glob"):
        bound = paths.bind_path(rule.kind, rule.pattern, params)
        return BoundRule(rule, bound.specificity, bound.matches, bound.anchor)
    if rule.kind == "host":
        match, spec = _host_matcher(rule.pattern)
        return BoundRule(rule, spec, match)
    if rule.kind == "mach":
        match, spec = _mach_matcher(rule.pattern)
        return BoundRule(rule, spec, match)
    match, spec = _signal_matcher(rule.pattern)
    return BoundRule(rule, spec, match)


class BoundPolicy(Record):
    """A policy with parameters bound: rules grouped by operation, ready to decide."""

    policy: Policy
    params: dict[str, str]
    by_op: dict[str, tuple[tuple[int, BoundRule], ...]] = MappingProxyType({})
    # Path rules by operation and anchor, so a request looks only at the rules anchored
    # at one of its ancestors instead of scanning every rule (a backend asks thousands).
    anchored: dict[str, dict[str, tuple[tuple[int, BoundRule], ...]]] = MappingProxyType({})
    unanchored: dict[str, tuple[tuple[int, BoundRule], ...]] = MappingProxyType({})


def bind(policy: Policy, params: dict[str, str] | None = None) -> BoundPolicy:
    """Bind parameters: given values override the policy's defaults and the reference ones."""
    values = policy.param_defaults()
    values.update(params or {})
    # keyed by the resolved values: binding again to what a binding resolved to finds it
    return _bind(policy, tuple(sorted(paths.resolve_params(values).items())))


@functools.lru_cache(maxsize=8)
def _bind(policy: Policy, resolved: tuple[tuple[str, str], ...]) -> BoundPolicy:
    """Every backend binds the same policy to the same reference values: do it once."""
    params = dict(resolved)
    by_op: dict[str, list[tuple[int, BoundRule]]] = {op: [] for op in OPERATIONS}
    for cls in RULE_CLASSES:
        default = bind_rule(builtin_default(cls), params)
        for op in CLASS_OPS[cls]:
            by_op[op].append((-1, default))
    for index, rule in enumerate(policy.rules):
        bound = bind_rule(rule, params)
        for op in CLASS_OPS.get(rule.cls, ()) if rule.op == "*" else (rule.op,):
            by_op[op].append((index, bound))
    return _bound_policy(policy, params, by_op)


def _bound_policy(policy: Policy, params: dict[str, str], by_op: dict[str, list[tuple[int, BoundRule]]]):
    anchored: dict[str, dict[str, list]] = {}
    unanchored: dict[str, list] = {}
    for op, entries in by_op.items():
        for entry in entries:
            anchor = entry[1].anchor
            if anchor is None:
                unanchored.setdefault(op, []).append(entry)
            else:
                anchored.setdefault(op, {}).setdefault(anchor, []).append(entry)
    return BoundPolicy(policy, params, {op: tuple(v) for op, v in by_op.items()},
                       {op: {a: tuple(v) for a, v in d.items()} for op, d in anchored.items()},
                       {op: tuple(v) for op, v in unanchored.items()})


def restrict(bound: BoundPolicy, keep) -> BoundPolicy:
    """``bind()`` of the policy reduced to the rules for which ``keep(rule)`` is true, to the same values:
    made from ``bound``, without binding any rule again."""
    kept = [(i, r) for i, r in enumerate(bound.policy.rules) if keep(r)]
    renumbered = {old: new for new, (old, _) in enumerate(kept)}
    renumbered[-1] = -1  # the class defaults
    by_op = {op: [(renumbered[i], b) for i, b in entries if i in renumbered]
             for op, entries in bound.by_op.items()}
    return _bound_policy(bound.policy.replace(rules=tuple(r for _, r in kept)), bound.params, by_op)


def _ancestors(path: str) -> list[str]:
    """'/a/b' -> ['/', '/a', '/a/b']."""
    out, current = ["/"], ""
    for part in path.split("/"):
        if part:
            current += "/" + part
            out.append(current)
    return out


def _candidates(bound: BoundPolicy, op: str, obj: str):
    index = bound.anchored.get(op)
    if not index or not obj.startswith("/"):
        return bound.by_op[op]
    found = list(bound.unanchored.get(op, ()))
    for ancestor in _ancestors(obj):
        found += index.get(ancestor, ())
    return found


def _first(entry: tuple) -> tuple:
    return entry[0]


def ranked_matches(bound: BoundPolicy, request: Request) -> list[BoundRule]:
    """Every rule matching the request, best first."""
    obj = request.object
    hits = [(b.key(i), b) for i, b in _candidates(bound, request.op, obj) if b.matcher(obj)]
    hits.sort(key=_first, reverse=True)
    return [b for _, b in hits]


def decide(policy: Policy | BoundPolicy, request: Request, params: dict[str, str] | None = None) -> Decision:
    """The effect of a request, the rule that decided it, and the rules it beat."""
    bound = policy if isinstance(policy, BoundPolicy) else bind(policy, params)
    ranked = ranked_matches(bound, request)
    winner = ranked[0].rule
    return Decision(winner.effect, winner, tuple([b.rule for b in ranked[1:]]), request)


def winning_rule(bound: BoundPolicy, op: str, obj: str) -> Rule:
    """``decide(bound, Request(op, obj)).rule`` (its effect is the decision's), without ranking the
    rules it beat: the best of ranked_matches is the maximum of the same keys."""
    return max([(b.key(i), b) for i, b in _candidates(bound, op, obj) if b.matcher(obj)], key=_first)[1].rule


def precedence_order(bound: BoundPolicy, rules: Iterable[Rule] | None = None) -> list[str]:
    """Rule ids in ascending precedence under this binding (the order backends emit)."""
    index = {r.id: i for i, r in enumerate(bound.policy.rules)}
    already = {i: b for entries in bound.by_op.values() for i, b in entries if i >= 0}  # bound once, in bind()
    chosen = list(rules) if rules is not None else list(bound.policy.rules)
    keyed = [((already.get(index[r.id]) or bind_rule(r, bound.params)).key(index[r.id]), r.id) for r in chosen]
    keyed.sort()
    return [rid for _, rid in keyed]
