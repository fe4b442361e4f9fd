"""The policy AST: what both surface syntaxes (DSL and YAML) produce.

Every node keeps the span it came from, so every later diagnostic can point at
the user's text. Nodes are frozen pydantic models; ``same_shape`` compares two
trees ignoring spans (the DSL and YAML forms of one policy are equal under it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from aw_policy.diagnostics import Span

Effect = Literal["allow", "deny", "prompt"]
Scope = Literal["org", "project", "user", "session"]
Access = Literal["read", "write", "exec"]
NetOp = Literal["connect", "bind"]
PathKind = Literal["subtree", "literal", "glob"]
RuleClass = Literal["all", "fs", "net", "signal", "mach"]
OnExit = Literal["keep", "discard", "snapshot"]

SCOPES: tuple[str, ...] = ("org", "project", "user", "session")
SIGNAL_TARGETS: tuple[str, ...] = ("self", "children", "pgrp", "same-sandbox", "others", "any")
#: What a ``debug`` rule may name: the sandbox's own processes, nothing outside it.
DEBUG_TARGETS: tuple[str, ...] = ("same-sandbox",)


class Node(BaseModel):
    """Base of every node. ``defer_build``: pydantic builds a model's validator on its first
    validating use, not at import; the front ends build nodes with ``model_construct`` (their
    grammar or the JSON Schema already guarantees the types), so a lint or compile never pays
    for it (see ``benchmarks/bench_lint.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)
    span: Span


class Target(Node):
    """A path (subtree, literal, glob), a host:port, a signal or debug target, or a mach name."""

    kind: Literal["subtree", "literal", "glob", "host", "signal", "debug", "mach"]
    value: str


class Rule(Node):
    section: Literal["fs", "net", "signal", "debug", "mach"]
    effect: Effect
    ops: tuple[str, ...]  # fs: read/write/exec; net: connect/bind; signal: signal; debug: debug; mach: lookup
    targets: tuple[Target, ...]
    enforce: bool = False
    audit: bool = False


class Default(Node):
    section: RuleClass
    effect: Effect


class Include(Node):
    target: str


class Param(Node):
    name: str
    default: str | None = None


class Branch(Node):
    name: str
    base: str | None = None
    cow: bool = False
    hide: tuple[Target, ...] = ()
    readonly: tuple[Target, ...] = ()
    on_exit: OnExit = "discard"
    parent: str | None = None


class EnvSet(Node):
    name: str
    value: str


class EnvPass(Node):
    name: str


Statement = Rule | Default | Include | Param | Branch | EnvSet | EnvPass


class PolicyFile(Node):
    """One parsed source file, statements in source order."""

    path: str
    scope: Scope | None = None
    scope_span: Span | None = None
    statements: tuple[Statement, ...] = ()


def strip_spans(value):
    """A span-free plain-data view of an AST value, for comparing two syntaxes."""
    if isinstance(value, BaseModel):
        return {
            key: strip_spans(getattr(value, key))
            for key in type(value).model_fields
            if key not in ("span", "scope_span", "path")
        } | {"node": type(value).__name__}
    if isinstance(value, (tuple, list)):
        return [strip_spans(v) for v in value]
    return value


def same_shape(a: PolicyFile, b: PolicyFile) -> bool:
    return strip_spans(a) == strip_spans(b)
