"""Endpoint Security rule table (``es-rules.json``, format ``awpolicy.es/1``).

The table is the contract between the compiler and whatever answers Endpoint
Security AUTH messages: the ES client on macOS (outside this repository) and
the decision engine in ``aw_runtime.engine`` (which also backs the Linux
supervisor and ``awpolicy es replay``). Its JSON Schema is
``schemas/es-rules.schema.json``.

What it carries:

- ``defaults``: the decision when no rule matches (per class, from the
  policy's ``default`` statements; built-in ``deny``), and ``deny`` when there
  is no one to ask (non-interactive) or the ES deadline is near.
- ``paths``: the macOS aliases (``/tmp`` -> ``/private/tmp``...) applied to
  rule patterns here and, by the engine, to bound parameter values and to
  request paths; and the AgentFS branch ``views``: a file of a branched
  workspace reaches ES under the branch's view (``/Volumes/...``, the target
  of the symlink at the base), and is decided as the same path under the base.
- ``params``: parameters stay symbolic (``${HOME}``); the engine binds them at
  load. ``reference`` is the binding the order below was computed under.
- ``files``, ``exec``, ``signal``, ``debug``: one entry per IR rule, **highest precedence
  first** under the reference binding, so a first-match evaluator reproduces
  ``ir.decide``; each entry also carries its precedence ``key`` parts (tier,
  specificity, scope rank, effect rank, merge sequence) so a max-key evaluator
  that rebinds parameters reproduces it under any binding.
- ``mute``: path prefixes whose every gated event is allowed without audit
  under the reference binding, so an ES client may mute them. When the real
  binding orders the rules differently, the runtime re-renders this table from
  ``policy.json`` (DESIGN.md "Semantics"), so the mute set always matches.
- ``debug``: debug rules gate ``AUTH_GET_TASK``, which Apple documents as a
  process asking for another process's task control port (``task_for_pid``,
  what a debugger attaches with); the target is ``same-sandbox`` (the only
  one a rule can allow) or ``others``.
- ``network``: Endpoint Security cannot gate socket connects; the table names
  the enforcer (Network Extension filter or the loopback proxy) and its rules.
- ``audit``: what the engine logs and how the log rotates.
"""

from __future__ import annotations

import hashlib
import json
import re

from aw_policy import ir, paths
from aw_policy.backends import fskit, macos_paths
from aw_policy.bundle import Artifact, dumps

FORMAT = "awpolicy.es/1"
ARTIFACT = "es-rules.json"
KIND = "es-rules"

_E = "ES_EVENT_TYPE_AUTH_"
OPEN = _E + "OPEN"
EXEC = _E + "EXEC"
SIGNAL = _E + "SIGNAL"
GET_TASK = _E + "GET_TASK"

#: The ES AUTH events each access gates. OPEN is gated by its fflag (FREAD / FWRITE).
ACCESS_EVENTS: dict[str, tuple[str, ...]] = {
    "read": tuple(_E + e for e in ("OPEN", "READDIR", "READLINK", "GETEXTATTR", "LISTEXTATTR")),
    "write": tuple(_E + e for e in (
        "OPEN", "CREATE", "UNLINK", "RENAME", "TRUNCATE", "CLONE", "LINK", "EXCHANGEDATA", "COPYFILE",
        "SETATTRLIST", "SETEXTATTR", "DELETEEXTATTR", "SETFLAGS", "SETMODE", "SETOWNER", "SETACL", "UTIMES",
    )),
    "exec": (EXEC,),
}
OPEN_FLAGS = {"read": "FREAD", "write": "FWRITE"}
#: Events whose message names a second path (a destination); both paths are decided.
DESTINATION_EVENTS = tuple(_E + e for e in ("RENAME", "LINK", "CLONE", "EXCHANGEDATA", "COPYFILE"))

#: How long a prompt answer is remembered, by the scope it is stored in.
PROMPT_TTL_SECONDS = {"session": 12 * 3600, "user": 7 * 86400, "project": 7 * 86400, "org": 86400}
#: Scopes whose approvals outlive the session (written under the runtime's state directory).
PERSISTED_SCOPES = ("user", "project", "org")
#: The deadline assumed for a message that does not state one (ES deadlines are tens of seconds).
DEFAULT_DEADLINE_SECONDS = 15.0
#: Answer ES before this fraction of the message deadline has passed (Santa answers near 80%).
DEADLINE_FRACTION = 0.8
AUDIT = {
    "format": "jsonl",
    "record": ["deny", "prompt", "audit"],
    "max_bytes": 8 * 1024 * 1024,
    "keep": 16,
}


# --------------------------------------------------------------------------- helpers


def canonical_pattern(pattern: str) -> str:
    """A rule pattern as macOS enforcers see it (aliases resolved; parameters untouched)."""
    return macos_paths.canonical(pattern)


def canonical_policy(policy: ir.Policy) -> ir.Policy:
    """The policy with every path pattern canonicalized for macOS (what the table encodes)."""
    rules = tuple(
        r.replace(pattern=canonical_pattern(r.pattern)) if r.kind in ("subtree", "literal", "glob") else r
        for r in policy.rules
    )
    return policy.replace(rules=rules)


def canonical_reference(policy: ir.Policy, reference: dict[str, str]) -> dict[str, str]:
    values = policy.param_defaults()
    values.update(reference)
    return macos_paths.canonical_params(paths.resolve_params(values))


def glob_regex_template(pattern: str) -> str:
    """Anchored regex for a symbolic glob; ``${NAME}`` stays as a placeholder for the
    parameter's value (with any trailing ``/`` removed, regex-escaped) bound at load."""
    out = ""
    for i, comp in enumerate(pattern.split("/")):
        if i > 0 and comp == "**":
            out += "(?:/[^/]+)*"
            continue
        out += "/" if i > 0 else ""
        pos = 0
        for m in paths.PARAM_RE.finditer(comp):
            out += _translate(comp[pos:m.start()]) + m.group(0)
            pos = m.end()
        out += _translate(comp[pos:])
    return "^" + (out or "/") + "$"


def _translate(text: str) -> str:
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)


def glob_fixed(pattern: str) -> str:
    """The symbolic text before a glob's first wildcard (its fixed leading part)."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?"), default=len(pattern))
    return pattern[:cut]


def fingerprint(rule: ir.Rule) -> str:
    """A stable identity for a rule's meaning (approvals are keyed by it, not by the id)."""
    data = {"op": rule.op, "kind": rule.kind, "pattern": rule.pattern, "effect": rule.effect,
            "scope": rule.scope, "enforce": rule.enforce}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _bound_path(bound: ir.BoundRule, params: dict[str, str]) -> paths.BoundPath:
    """The bound form of a path rule's pattern (what its matcher matches)."""
    return paths.bind_path(bound.rule.kind, bound.rule.pattern, params)


def _origin(rule: ir.Rule) -> dict:
    return {"file": rule.origin.file, "line": rule.origin.line, "col": rule.origin.col}


def _prompt(rule: ir.Rule) -> dict | None:
    if rule.effect != "prompt":
        return None
    scope = rule.scope if rule.scope in ir.SCOPE_RANK else "session"
    return {
        "cache_scope": scope,
        "ttl_seconds": PROMPT_TTL_SECONDS[scope],
        # One question per directory for path rules (and the fs default), per path for literals,
        # per address or signal target otherwise.
        "coalesce": "path" if rule.kind == "literal" else "directory" if rule.cls == "fs" else "object",
    }


def _key(bound: ir.BoundRule, index: int) -> dict:
    tier, spec, scope_rank, effect_rank, neg_index = bound.key(index)
    return {"tier": tier, "specificity": list(spec), "scope_rank": scope_rank,
            "effect_rank": effect_rank, "seq": -neg_index}


def _entry(rule: ir.Rule, index: int, bound: ir.BoundRule, params: dict[str, str]) -> dict:
    entry = {
        "id": rule.id,
        "seq": index,
        "origin": _origin(rule),
        "scope": rule.scope,
        "locked": rule.enforce,
        "decision": rule.effect,
        "audit": rule.audit,
        "cacheable": rule.effect != "prompt" and not rule.audit,
        "prompt": _prompt(rule),
        "fingerprint": fingerprint(rule),
        "key": _key(bound, index),
    }
    if rule.cls == "fs":
        entry["access"] = rule.op
        entry["events"] = list(ACCESS_EVENTS[rule.op])
        if rule.op in OPEN_FLAGS:
            entry["open_flag"] = OPEN_FLAGS[rule.op]
        match = {"subtree": "prefix", "literal": "literal", "glob": "regex"}[rule.kind]
        path = {"match": match, "pattern": rule.pattern}
        bp = _bound_path(bound, params)
        if match == "regex":
            path["regex"] = glob_regex_template(rule.pattern)
            path["fixed"] = glob_fixed(rule.pattern)
            path["reference"] = "^" + bp.regex.pattern + "$"
        else:
            path["reference"] = bp.text
        entry["path"] = path
    elif rule.cls in ("signal", "debug"):
        entry["events"] = [SIGNAL if rule.cls == "signal" else GET_TASK]
        entry["target"] = rule.pattern
    elif rule.cls == "net":
        entry["operation"] = rule.op
        entry["host"] = rule.pattern
    return entry


def _unmatched(policy: ir.Policy, cls: str) -> dict:
    candidates = [(ir.bind_rule(ir.builtin_default(cls), {}).key(-1), ir.builtin_default(cls), -1)]
    for i, r in enumerate(policy.rules):
        if r.kind == "default" and r.cls == cls:
            candidates.append((ir.bind_rule(r, {}).key(i), r, i))
    _, rule, index = max(candidates, key=lambda c: c[0])
    return {
        "id": rule.id,
        "key": _key(ir.bind_rule(rule, {}), index),
        "fingerprint": fingerprint(rule),
        "decision": rule.effect,
        "origin": None if rule.scope == "builtin" else _origin(rule),
        "scope": rule.scope,
        "seq": index,
        "prompt": _prompt(rule),
    }


# --------------------------------------------------------------------------- mute sets


def _under(a: str, b: str) -> bool:
    """a is b or below b (bound absolute paths)."""
    return b == "/" or a == b or a.startswith(b + "/")


def _mute_candidates(bound: ir.BoundPolicy, entries_by_id: dict[str, dict]) -> list[dict]:
    """Prefixes where every path is allowed, unaudited, for an access (under this binding)."""
    index = {r.id: i for i, r in enumerate(bound.policy.rules)}
    allowed: dict[str, set[str]] = {}  # bound prefix -> accesses
    symbolic: dict[str, str] = {}
    reasons: dict[str, list[str]] = {}
    for op in ("read", "write", "exec"):
        rules = [(i, b) for i, b in bound.by_op[op] if b.rule.kind != "default"]
        # Only a rule that is not an unaudited allow can conflict, and only one anchored
        # at, above or below the prefix (see _conflicts): look those up, do not scan.
        restrictive = paths.PathIndex((b.anchor, (j, b)) for j, b in rules
                                      if b.anchor is not None and (b.rule.effect != "allow" or b.rule.audit))
        for i, r in rules:
            rule = r.rule
            if rule.kind != "subtree" or rule.effect != "allow" or rule.audit:
                continue
            prefix = _bound_path(r, bound.params).text
            rkey = r.key(i)
            nearby = restrictive.related(prefix)
            if all(not _conflicts(prefix, rkey, x, j, bound.params) for j, x in nearby if x is not r):
                allowed.setdefault(prefix, set()).add(op)
                symbolic.setdefault(prefix, rule.pattern)
                reasons.setdefault(prefix, []).append(rule.id)
    out = []
    for prefix in sorted(allowed):
        ops = sorted(allowed[prefix])
        events: set[str] = set()
        for op in ops:
            events.update(ACCESS_EVENTS[op])
        if not {"read", "write"} <= set(ops):
            events.discard(OPEN)  # OPEN carries both flags; muting it needs read and write
        events.difference_update(DESTINATION_EVENTS)
        if not events:
            continue
        out.append({"path": symbolic[prefix], "match": "prefix", "reference": prefix, "access": ops,
                    "events": sorted(events), "rules": sorted(set(reasons[prefix]), key=lambda r: index[r])})
    return out


def _conflicts(prefix: str, rkey: tuple, x: ir.BoundRule, j: int, params: dict[str, str]) -> bool:
    """Could rule x decide differently from an unaudited allow somewhere under prefix?"""
    rule = x.rule
    if rule.effect == "allow" and not rule.audit:
        return False
    bp = _bound_path(x, params)
    xkey = x.key(j)
    if rule.kind in ("subtree", "literal"):
        if _under(bp.text, prefix):
            return True  # inside: at least as specific (or a tie decided by key)
        if rule.kind == "subtree" and _under(prefix, bp.text):
            return xkey > rkey  # an ancestor wins only by a higher tier
        return False
    # glob: its fixed directory is its depth-component prefix
    fixed = "/" + "/".join([c for c in bp.text.split("/") if c][: bp.depth])
    if _under(fixed, prefix):
        return True
    if _under(prefix, fixed):
        return xkey[0] > rkey[0]
    return False


# --------------------------------------------------------------------------- network


def _network(policy: ir.Policy, bound: ir.BoundPolicy, order: list[str], index: dict[str, int]) -> dict:
    net_rules = [policy.rule(rid) for rid in order if policy.rule(rid).cls == "net"
                 and policy.rule(rid).kind != "default"]
    domains = any(
        not _is_address(ir.split_host_port(r.pattern)[0]) for r in net_rules
    )
    rules = [_entry(r, index[r.id], ir.bind_rule(r, bound.params), bound.params) for r in net_rules]
    return {
        "enforcer": "loopback-proxy" if domains else "network-extension",
        "reason": ("domain rules need host names, which the loopback proxy sees in CONNECT requests"
                   if domains else "address and port rules only: a Network Extension filter sees them"),
        "endpoint_security_gates_connect": False,
        "rules": rules,
    }


def _is_address(host: str) -> bool:
    return host in ("*", "localhost") or host.startswith("[") or bool(re.fullmatch(r"[0-9.]+", host))


# --------------------------------------------------------------------------- render


def table(policy: ir.Policy, reference: dict[str, str]) -> dict:
    """The ES rule table as a JSON-ready dict."""
    cpolicy = canonical_policy(policy)
    ref = canonical_reference(cpolicy, reference)
    bound = ir.bind(cpolicy, ref)
    index = {r.id: i for i, r in enumerate(cpolicy.rules)}
    order = list(reversed(ir.precedence_order(bound)))  # highest precedence first
    entries: dict[str, dict] = {}
    sections: dict[str, list[dict]] = {"files": [], "exec": [], "signal": [], "debug": []}
    for rid in order:
        rule = cpolicy.rule(rid)
        if rule.kind == "default" or rule.cls not in ("fs", "signal", "debug"):
            continue
        entry = _entry(rule, index[rid], ir.bind_rule(rule, bound.params), bound.params)
        entries[rid] = entry
        section = rule.cls if rule.cls in ("signal", "debug") else "exec" if rule.op == "exec" else "files"
        sections[section].append(entry)
    declared = sorted({p.name for p in cpolicy.params})
    return {
        "format": FORMAT,
        "defaults": {
            "unmatched": {cls: _unmatched(cpolicy, cls) for cls in ("fs", "net", "signal", "debug")},
            "non_interactive": "deny",
            "on_deadline": "deny",
            "deadline_fraction": DEADLINE_FRACTION,
        },
        "paths": {"aliases": dict(macos_paths.ALIASES), "views": fskit.views(cpolicy)},
        "params": {
            "names": declared,
            "defaults": {k: v for k, v in sorted(cpolicy.param_defaults().items())},
            "reference": dict(sorted(ref.items())),
        },
        "access_events": {op: list(events) for op, events in ACCESS_EVENTS.items()},
        "open_flags": dict(OPEN_FLAGS),
        "destination_events": list(DESTINATION_EVENTS),
        "files": sections["files"],
        "exec": sections["exec"],
        "signal": sections["signal"],
        "debug": sections["debug"],
        "mute": {"paths": _mute_candidates(bound, entries), "processes": []},
        "network": _network(cpolicy, bound, order, index),
        "audit": dict(AUDIT),
        "approvals": {
            "ttl_seconds": dict(PROMPT_TTL_SECONDS),
            "persisted_scopes": list(PERSISTED_SCOPES),
            "default_deadline_seconds": DEFAULT_DEADLINE_SECONDS,
        },
    }


def render(policy: ir.Policy, reference: dict[str, str]) -> list[Artifact]:
    return [Artifact(ARTIFACT, KIND, dumps(table(policy, reference)))]
