"""What a policy check sees: one merged policy set, bound under the reference binding.

Checks decide with :func:`aw_policy.ir.decide` on concrete requests ("probes")
rather than comparing strings, so ``~/.ssh``, ``${HOME}/.ssh`` and
``"/home/agent/.ssh"`` are one path, and precedence is exactly the runtime's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from aw_policy import ir, paths
from aw_policy.diagnostics import Diagnostic, Severity, Span
from aw_policy.lang import ast
from aw_policy.lint.config import Config

PROBE_NAME = ".awpolicy-probe"


@dataclass
class PolicySet:
    """Policy files linted together: their sources, the merged IR, and a binding."""

    merged: object  # aw_policy.merge.Merged
    top: tuple  # the top-level Source objects (what the user named)
    bound: ir.BoundPolicy
    config: Config = field(default_factory=Config)

    @property
    def policy(self) -> ir.Policy:
        return self.bound.policy

    @property
    def params(self) -> dict[str, str]:
        return self.bound.params

    @cached_property
    def texts(self) -> dict[str, str]:
        return {s.display: s.text for s in self.merged.sources}

    # -- decisions -------------------------------------------------------------------
    def decide(self, op: str, obj: str) -> ir.Decision:
        cache = self.__dict__.setdefault("_decisions", {})
        if (op, obj) not in cache:
            cache[op, obj] = ir.decide(self.bound, ir.Request(op, obj))
        return cache[op, obj]

    def bind_path(self, rule: ir.Rule) -> paths.BoundPath | None:
        if rule.kind not in ("subtree", "literal", "glob"):
            return None
        return _bind_cached(self, rule)

    def home(self, rel: str = "") -> str:
        base = self.params["HOME"].rstrip("/") or "/"
        return base if not rel else (base.rstrip("/") + "/" + rel.lstrip("/"))

    def witnesses(self, rule: ir.Rule) -> list[str]:
        """Concrete objects the rule matches: for paths the path itself and a child."""
        if rule.kind == "default":
            return {"fs": ["/" + PROBE_NAME], "net": ["awpolicy-probe.example:443"],
                    "signal": ["others"], "mach": ["awpolicy.probe"]}[rule.cls]
        if rule.kind == "host":
            host, port = ir.split_host_port(rule.pattern)
            host = "awpolicy-probe.example" if host == "*" else host.replace("*", "awpolicy-probe")
            return [f"{host}:{443 if port == '*' else port}"]
        if rule.kind == "mach":
            return [rule.pattern.replace("*", "awpolicy.probe")]
        if rule.kind in ("signal", "debug"):
            return ["others" if rule.pattern == "any" else rule.pattern]
        bound = self.bind_path(rule)
        if bound is None:
            return []
        if bound.kind == "literal":
            return [bound.text]
        if bound.kind == "subtree":
            child = bound.text.rstrip("/") + "/" + PROBE_NAME
            return [bound.text, child]
        sample = _glob_sample(bound.text)
        return [sample] if bound.matches(sample) else []

    # -- locations ----------------------------------------------------------------------
    def span_of(self, rule: ir.Rule | ir.Origin | None) -> Span:
        """Where to point for a rule: its own target, or the ``include`` that brought its preset in."""
        origin = rule.origin if isinstance(rule, ir.Rule) else rule
        if origin is None or origin.file == "<built-in>":
            return Span(self.top[0].display, 1, 1)
        if origin.file.startswith("preset:"):
            include = self.include_of(origin.file[len("preset:"):])
            if include is not None:
                return include
        return Span(origin.file, origin.line, origin.col, *self._end_of(origin))

    def _end_of(self, origin: ir.Origin) -> tuple[int | None, int | None]:
        text = self.texts.get(origin.file)
        if text is None:
            return (None, None)
        lines = text.splitlines()
        if not 1 <= origin.line <= len(lines):
            return (None, None)
        line = lines[origin.line - 1]
        start = origin.col - 1
        if start < len(line) and line[start] in "\"'":
            end = start + 1
            while end < len(line) and line[end] != line[start]:
                end += 2 if line[end] == "\\" else 1
            return (origin.line, min(end + 2, len(line) + 1))
        return (None, None)

    def include_of(self, preset: str) -> Span | None:
        """The span of the first ``include "preset"`` among the sources (not other presets)."""
        for source in self.merged.sources:
            if source.real.startswith("preset:"):
                continue
            for st in source.file.statements:
                if isinstance(st, ast.Include) and st.target == preset:
                    return st.span
        for source in self.merged.sources:  # included by another preset: point at that one's include
            for st in source.file.statements:
                if isinstance(st, ast.Include) and st.target == preset and source.real.startswith("preset:"):
                    return self.include_of(source.real[len("preset:"):])
        return None

    def finding(self, code: str, message: str, at, *, hint: str | None = None,
                severity: Severity | None = None, related=()) -> Diagnostic:
        from aw_policy.lint.registry import severity_of

        span = at if isinstance(at, Span) else self.span_of(at)
        rel = tuple((m, r if isinstance(r, Span) else self.span_of(r)) for m, r in related)
        diagnostic = Diagnostic(code, message, span, severity or severity_of(code), hint, rel)
        origin = at.origin if isinstance(at, ir.Rule) else at if isinstance(at, ir.Origin) else None
        if origin is not None and origin.file.startswith("preset:"):
            self.preset_origins[diagnostic] = origin
        return diagnostic

    @cached_property
    def preset_origins(self) -> dict[Diagnostic, ir.Origin]:
        """Findings about a preset's rules (shown at its include) -> the rule's place in the preset,
        where the preset's own suppression comments apply."""
        return {}

    # -- rules ----------------------------------------------------------------------------
    def rules(self, *, cls: str | None = None, op: str | None = None, defaults: bool = False):
        for rule in self.policy.rules:
            if rule.kind == "default" and not defaults:
                continue
            if cls is not None and rule.cls != cls:
                continue
            if op is not None and rule.op not in (op, "*"):
                continue
            yield rule

    def editable(self, rule: ir.Rule) -> bool:
        """A rule the user wrote (not the built-in default, not a bundled preset's)."""
        return rule.scope != "builtin" and not rule.origin.file.startswith("preset:")

    @cached_property
    def contests(self) -> dict[str, list[ir.Decision]]:
        """For every rule, the decisions on its witnesses (requests it matches)."""
        out: dict[str, list[ir.Decision]] = {}
        for rule in self.policy.rules:
            decisions = []
            for op in ops_of(rule):
                for obj in self.witnesses(rule):
                    decision = self.decide(op, obj)
                    if decision.rule.id == rule.id or any(b.id == rule.id for b in decision.beaten):
                        decisions.append(decision)
            out[rule.id] = decisions
        return out

    def bound_text(self, rule: ir.Rule) -> str:
        bound = self.bind_path(rule)
        return bound.text if bound is not None else rule.pattern


def ops_of(rule: ir.Rule) -> list[str]:
    """The operations a rule applies to (a class default applies to all of its class)."""
    if rule.op == "*":
        return [op for op in ir.OPERATIONS if ir.OP_CLASS[op] == rule.cls]
    return [rule.op]


def _bind_cached(pset: PolicySet, rule: ir.Rule) -> paths.BoundPath:
    cache = pset.__dict__.setdefault("_bound_paths", {})
    if rule.id not in cache:
        cache[rule.id] = paths.bind_path(rule.kind, rule.pattern, pset.params)
    return cache[rule.id]


def _glob_sample(text: str) -> str:
    parts = []
    for comp in text.split("/"):
        if not comp or comp == "**":
            continue
        parts.append(comp.replace("*", "x").replace("?", "x"))
    return "/" + "/".join(parts)


def is_loosening(inner: ir.Rule, outer: ir.Rule) -> bool:
    """``inner`` grants more than ``outer`` (allow < prompt < deny in strictness)."""
    return ir.EFFECT_RANK[inner.effect] < ir.EFFECT_RANK[outer.effect]


def where(rule: ir.Rule) -> str:
    """A short 'scope file:line' for messages."""
    if rule.scope == "builtin":
        return "the built-in default"
    return f"{rule.scope} {rule.origin}"
