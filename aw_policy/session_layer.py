"""Capability flags -> a session-scope policy layer added on top of a compiled policy.

``awpolicy run`` and ``awpolicy explain`` take the same flags
(``--allow-network/--block-network``, ``--allow-exec``, ``--block-exec``,
``--allow-fs-read``, ``--allow-fs-rw``, ``--debug``, ``--profile``). Path,
network and debug flags become IR rules directly (a launch with them never
loads the parser); ``--profile NAME`` includes presets through the front end,
as ``include`` would. Every rule is in the session scope with the flag as
typed for its origin (``session  --allow-fs-rw /data:1:1``), and obeys the one
decide(): session beats user, project and org at equal specificity, and never
beats an ``enforce`` rule (tiers come first). :func:`blocked` finds the flags
an enforced rule overrides, so both commands can say so.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from aw_policy import ir, paths
from aw_policy.capability_flags import capability_options  # noqa: F401  (re-exported: its home before)

PATH_KINDS = ("subtree", "literal", "glob")


class FlagError(ValueError):
    """A flag whose value cannot become a rule; the message names the flag."""


@dataclass(frozen=True)
class Flags:
    network: str | None = None  # "allow", "block" or None (the policy decides)
    allow_exec: tuple[str, ...] = ()
    block_exec: tuple[str, ...] = ()
    allow_fs_read: tuple[str, ...] = ()
    allow_fs_rw: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    debug: bool = False  # debug mode: debuggers may attach to the sandbox's own processes

    @property
    def empty(self) -> bool:
        return self == Flags()

    def to_json(self) -> dict:
        return {"network": self.network, "allow_exec": list(self.allow_exec), "block_exec": list(self.block_exec),
                "allow_fs_read": list(self.allow_fs_read), "allow_fs_rw": list(self.allow_fs_rw),
                "profiles": list(self.profiles), "debug": self.debug}

    @staticmethod
    def from_options(options: dict) -> Flags:
        """From the keyword arguments :func:`capability_options` adds to a command."""
        network = options.get("network")
        profiles = [p.strip() for value in options.get("profiles", ()) for p in value.split(",")]
        if any(not p for p in profiles):
            raise FlagError("--profile: an empty name; write --profile NAME[,NAME]")
        return Flags(
            network=None if network is None else ("allow" if network else "block"),
            allow_exec=tuple(options.get("allow_exec", ())), block_exec=tuple(options.get("block_exec", ())),
            allow_fs_read=tuple(options.get("allow_fs_read", ())), allow_fs_rw=tuple(options.get("allow_fs_rw", ())),
            profiles=tuple(profiles), debug=bool(options.get("debug")),
        )


# --------------------------------------------------------------------------- flags -> rules


def _path_value(flag: str, raw: str, cwd: str) -> str:
    if not raw or any(c in raw for c in "\x00\n\r"):
        raise FlagError(f"{flag} {raw!r}: not a usable path")
    if raw == "~" or raw.startswith(("~/", "/", "${")):
        return raw
    return os.path.normpath(os.path.join(cwd, raw))  # relative to where the command was typed


#: flag -> (Flags field, effect, operations)
PATH_FLAGS = (
    ("--allow-exec", "allow_exec", "allow", ("exec",)),
    ("--block-exec", "block_exec", "deny", ("exec",)),
    ("--allow-fs-read", "allow_fs_read", "allow", ("read",)),
    ("--allow-fs-rw", "allow_fs_rw", "allow", ("read", "write")),
)


def flag_rules(flags: Flags, cwd: str, known_params=paths.BUILTIN_PARAMS) -> list[ir.Rule]:
    """The network, path and debug flags as session rules, built directly (no parser on this path).

    Each rule's origin is the flag as typed, so ``explain`` names it."""
    rules: list[ir.Rule] = []

    def add(flag: str, op: str, cls: str, effect: str, kind: str, pattern: str) -> None:
        rules.append(ir.Rule(id=f"f{len(rules) + 1}", op=op, cls=cls, effect=effect, kind=kind, pattern=pattern,
                             scope="session", origin=ir.Origin(flag, 1, 1, "session")))

    if flags.network is not None:
        for op in ("connect", "bind"):
            add(f"--{flags.network}-network", op, "net", "allow" if flags.network == "allow" else "deny",
                "host", "*:*")
    if flags.debug:
        add("--debug", "debug", "debug", "allow", "debug", "same-sandbox")
    for flag, field_name, effect, ops in PATH_FLAGS:
        for raw in getattr(flags, field_name):
            typed = f"{flag} {raw}"
            value = _path_value(flag, raw, cwd)
            if any(c in value for c in "*?"):
                raise FlagError(f"{typed}: a flag takes a path, not a pattern; write the directory that holds "
                                "the files (it covers everything below it)")
            try:
                pattern = paths.normalize_pattern(value, "subtree")
            except paths.PathError as exc:
                raise FlagError(f"{typed}: {exc}") from None
            unknown = [n for n in paths.params_in(pattern) if n not in known_params]
            if unknown:
                raise FlagError(f"{typed}: unknown parameter ${{{unknown[0]}}}")
            for op in ops:
                add(typed, op, "fs", effect, "subtree", pattern)
    return rules


def profile_policy(profiles: tuple[str, ...]) -> ir.Policy | None:
    """``--profile`` presets in the session scope, through the front end like an ``include``."""
    if not profiles:
        return None
    from aw_policy.diagnostics import PolicyError
    from aw_policy.lang.load import Source, parse_text
    from aw_policy.merge import merge

    layers = []
    for index, name in enumerate(profiles, start=1):
        typed = f"--profile {name}"
        text = f"scope session\ninclude {json.dumps(name)}\n"  # the DSL's string escapes are JSON's
        try:
            parsed = parse_text(text, typed, yaml_syntax=False)
            layers.append((Source(f"flag:{index}", typed, text, hashlib.sha256(text.encode()).hexdigest(), parsed),
                           "session"))
        except PolicyError as exc:
            raise FlagError(f"{typed}: {exc.diagnostics[0].message}") from None
    try:
        return merge(layers).policy
    except PolicyError as exc:
        d = exc.diagnostics[0]
        where = d.span.file if d.span.file.startswith("--") else f"{d.span.file}:{d.span.line}:{d.span.col}"
        raise FlagError(f"{where}: {d.message}" + (f" ({d.hint})" if d.hint else "")) from None


def session_policy(flags: Flags, cwd: str | None = None, known_params=paths.BUILTIN_PARAMS) -> ir.Policy:
    """The session layer alone: the profiles' rules, then the flags'. FlagError names the offending flag."""
    base = profile_policy(flags.profiles) or ir.Policy(rules=())
    rules = flag_rules(flags, cwd or os.getcwd(), tuple(known_params) + tuple(p.name for p in base.params))
    return base.replace(rules=base.rules + tuple(rules))


# --------------------------------------------------------------------------- combining


def with_session(base: ir.Policy, session: ir.Policy) -> ir.Policy:
    """``base`` plus the session layer. Session rules get ids s1, s2, ... so they never
    collide with the bundle's; the session's env assignments win, as an inner layer's do."""
    rules = base.rules + tuple(r.replace(id=f"s{i}") for i, r in enumerate(session.rules, start=1))
    names = {p.name for p in base.params}
    branch_names = {b.name for b in base.branches}
    env = dict(base.env_set) | dict(session.env_set)
    return ir.Policy(
        rules=rules,
        params=base.params + tuple(p for p in session.params if p.name not in names),
        branches=base.branches + tuple(b for b in session.branches if b.name not in branch_names),
        env_set=tuple(sorted(env.items())),
        env_pass=tuple(sorted(set(base.env_pass) | set(session.env_pass))),
        sources=base.sources + session.sources,
    )


def apply_flags(policy: ir.Policy, flags: Flags, cwd: str | None = None) -> ir.Policy:
    """``policy`` with the session layer of ``flags`` on top (``policy`` itself when there are none)."""
    if flags.empty:
        return policy
    return with_session(policy, session_policy(flags, cwd, [p.name for p in policy.params]))


def is_session_rule(rule: ir.Rule) -> bool:
    return rule.scope == "session"


# --------------------------------------------------------------------------- what enforce overrides


@dataclass(frozen=True)
class Blocked:
    """A session rule that an enforced rule overrides for ``obj``."""

    flag_rule: ir.Rule
    enforced: ir.Rule
    obj: str

    def message(self) -> str:
        e = self.enforced
        return (f"{self.flag_rule.origin.file} cannot {self.flag_rule.effect} {self.flag_rule.op} {self.obj}: "
                f"{e.describe()} is enforced by the {e.scope} policy ({e.origin}), and no flag can loosen it")


def _witness(rule: ir.Rule, params: dict[str, str]) -> str | None:
    """A concrete object the rule matches (None for globs and defaults)."""
    if rule.kind in ("subtree", "literal"):
        return paths.bind_path(rule.kind, rule.pattern, params).text
    if rule.kind == "host":
        host, port = ir.split_host_port(rule.pattern)
        host = "example.invalid" if host == "*" else host.replace("*", "probe")
        return f"{host}:{443 if port == '*' else port}"
    if rule.kind in ("signal", "debug", "mach"):
        return "others" if rule.pattern == "any" else rule.pattern.replace("*", "probe")
    return None


def blocked(bound: ir.BoundPolicy) -> list[Blocked]:
    """Every session rule that an enforced rule overrides, with a witness object.

    Probes are the flag rule's own object and every enforced rule's object that
    the flag rule also matches (``--allow-fs-read ~`` against ``enforce deny
    read ~/.ssh``); each is decided by the one decide()."""
    out: list[Blocked] = []
    policy, params = bound.policy, bound.params
    enforced = [r for r in policy.rules if r.enforce]
    for rule in policy.rules:
        if not is_session_rule(rule) or rule.kind == "default":
            continue
        matcher = ir.bind_rule(rule, params).matcher
        probes = [_witness(rule, params)] + [_witness(e, params) for e in enforced if e.op == rule.op]
        seen: set[str] = set()
        for obj in probes:
            if obj is None or obj in seen or not matcher(obj):
                continue
            seen.add(obj)
            try:
                decision = ir.decide(bound, ir.normalize_request(rule.op, obj))
            except ir.RequestError:
                continue
            winner = decision.rule
            if winner.enforce and winner.effect != rule.effect and winner is not rule:
                out.append(Blocked(rule, winner, decision.request.object))
    return out


def blocked_in(decision: ir.Decision) -> list[ir.Rule]:
    """Session rules an enforced winner beat in one decision (what explain notes)."""
    if not decision.rule.enforce:
        return []
    return [r for r in decision.beaten if is_session_rule(r) and r.effect != decision.rule.effect]
