"""The engine's answers equal decide()'s, on generated policies, bindings and requests.

Oracle: :func:`aw_policy.ir.decide` on the policy as macOS sees it (the ES
table canonicalizes ``/tmp`` -> ``/private/tmp`` in patterns, parameter values
and requests); when no alias is involved that is decide() on the policy as
written, and the test checks that too.
"""

from __future__ import annotations

import os

from aw_runtime.engine import Engine
from helpers import policy_from_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aw_policy import ir, paths
from aw_policy.backends import es, macos_paths

#: Scale up locally: AWPOLICY_FUZZ_EXAMPLES=2000 pytest tests/es
FUZZ_EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "150"))

COMPONENTS = ["a", "b", "c", "tmp", "private", "etc"]
ALIASES = ("tmp", "etc", "var")
WORKSPACES = ["/a", "/a/b", "/tmp/ws", "/private/tmp/ws", "/c/a/b/c"]
SIGNAL_TARGETS = ["self", "children", "pgrp", "same-sandbox", "others"]
HOSTS = ["localhost:*", "localhost:5432", "*.github.com:443", "api.github.com:*", "pypi.org:443", "*:443"]

component = st.sampled_from(COMPONENTS)
abs_path = st.lists(component, min_size=0, max_size=4).map(lambda cs: "/" + "/".join(cs))


@st.composite
def pattern(draw) -> str:
    base = draw(st.sampled_from(["", "${WORKSPACE}", "~"]))
    comps = draw(st.lists(st.sampled_from(COMPONENTS + ["*", "**", "a*", "?"]), min_size=0, max_size=3))
    kind = draw(st.sampled_from(["", "literal ", "glob "]))
    if kind != "glob ":
        comps = [c for c in comps if "*" not in c and "?" not in c]
    text = base + "/" + "/".join(comps) if comps else (base or "/")
    return f'{kind}"{text}"'


@st.composite
def rule_line(draw, scope: str) -> str:
    enforce = scope in ("org", "project") and draw(st.booleans())
    mods = ("enforce " if enforce else "") + ("audit " if draw(st.booleans()) else "")
    effect = draw(st.sampled_from(["allow", "deny", "prompt"]))
    block = draw(st.sampled_from(["fs", "fs", "fs", "exec", "signal", "net"]))
    if block == "fs":
        ops = ",".join(draw(st.lists(st.sampled_from(["read", "write", "exec"]), min_size=1, max_size=3, unique=True)))
        targets = " ".join(draw(st.lists(pattern(), min_size=1, max_size=2)))
        return f"fs {{ {mods}{effect} {ops} {targets} }}"
    if block == "exec":
        return f"exec {{ {mods}{effect} {draw(pattern())} }}"
    if block == "signal":
        return f"signal {{ {mods}{effect} {draw(st.sampled_from(SIGNAL_TARGETS + ['any']))} }}"
    op = draw(st.sampled_from(["connect", "bind"]))
    return f'net {{ {mods}{effect} {op} "{draw(st.sampled_from(HOSTS))}" }}'


@st.composite
def layers(draw):
    out = []
    for scope in draw(st.lists(st.sampled_from(["org", "project", "user", "session"]), min_size=1, max_size=3,
                               unique=True)):
        lines = draw(st.lists(rule_line(scope), min_size=0, max_size=6))
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"fs {{ default {draw(st.sampled_from(['allow', 'deny', 'prompt']))} }}")
        out.append((scope, "\n".join(lines) + "\n"))
    return out


@st.composite
def requests(draw):
    op = draw(st.sampled_from(["read", "write", "exec", "read", "write", "signal", "connect", "bind"]))
    if op == "signal":
        return op, draw(st.sampled_from(SIGNAL_TARGETS))
    if op in ("connect", "bind"):
        host = draw(st.sampled_from(["localhost", "127.0.0.1", "api.github.com", "pypi.org", "example.com"]))
        return op, f"{host}:{draw(st.sampled_from([443, 5432, 80]))}"
    return op, draw(abs_path)


def _oracle(policy: ir.Policy, params: dict[str, str], op: str, obj: str) -> ir.Decision:
    """decide() on macOS-resolved paths: canonical patterns, parameter values and request."""
    values = policy.param_defaults()
    values.update(params)
    resolved = macos_paths.canonical_params(paths.resolve_params(values))
    request = ir.normalize_request(op, obj)
    if request.cls == "fs":
        request = ir.Request(op, macos_paths.canonical(request.object))
    return ir.decide(es.canonical_policy(policy), request, resolved)


def _uses_alias(texts: list[str], params: dict[str, str], obj: str) -> bool:
    words = " ".join(texts) + " " + " ".join(params.values()) + " " + obj
    return any(f"/{a}" in words for a in ALIASES)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), st.sampled_from(WORKSPACES), st.lists(requests(), min_size=1, max_size=12))
def test_engine_decides_like_decide(es_table, texts, workspace, reqs):
    policy = policy_from_texts(*texts)
    table = es_table(policy)  # rendered under the reference binding
    params = {"WORKSPACE": workspace}  # bound at "launch" to something else, as the runtime does
    engine = Engine(table, params)
    for op, obj in reqs:
        expected = _oracle(policy, params, op, obj)
        (verdict,) = engine.decide(_event(op, obj))
        assert (verdict.rule.id, verdict.effect) == (expected.rule.id, expected.effect), (op, obj, texts)
        if expected.effect == "prompt":
            assert verdict.answer == "deny" and verdict.reason == "non-interactive"
        else:
            assert verdict.answer == expected.effect
        if not _uses_alias([t for _, t in texts], params, obj):
            plain = ir.decide(policy, ir.normalize_request(op, obj), params)
            assert verdict.rule.id == plain.rule.id
        # Asking again is answered from the decision cache, identically.
        (again,) = engine.decide(_event(op, obj))
        assert again.rule.id == verdict.rule.id
    assert engine.counters.cache_hits >= len(reqs)


def _event(op: str, obj: str):
    from aw_runtime.engine import Event

    if op == "signal":
        return Event("ES_EVENT_TYPE_AUTH_SIGNAL", 1.0, target=obj)
    if op in ("connect", "bind"):
        return Event("NET_" + op.upper(), 1.0, address=obj)
    if op == "exec":
        return Event("ES_EVENT_TYPE_AUTH_EXEC", 1.0, path=obj)
    flag = "FREAD" if op == "read" else "FWRITE"
    return Event("ES_EVENT_TYPE_AUTH_OPEN", 1.0, path=obj, flags=(flag,))


@settings(max_examples=max(20, FUZZ_EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), st.lists(st.tuples(st.sampled_from(["read", "write", "exec"]), abs_path), min_size=1, max_size=8))
def test_mute_sets_only_cover_unaudited_allows(es_table, texts, reqs):
    """A muted prefix never hides a decision: every path under it is an unaudited allow for its accesses."""
    policy = policy_from_texts(*texts)
    table = es_table(policy)
    for mute in table["mute"]["paths"]:
        for op, obj in reqs:
            path = (mute["reference"].rstrip("/") + obj) if obj != "/" else mute["reference"]
            if op not in mute["access"]:
                continue
            decision = _oracle(policy, {}, op, path)
            assert decision.effect == "allow" and not decision.audit, (mute, op, path)


def test_golden_table_engine_agrees_on_every_rule_root(es_table, golden_policy):
    """Every rule's own bound path (and one level below it) is decided as decide() decides it."""
    table = es_table(golden_policy)
    engine = Engine(table)
    checked = 0
    for section in ("files", "exec"):
        for entry in table[section]:
            root = entry["path"]["reference"]
            if entry["path"]["match"] == "regex":
                continue
            for obj in (root, root.rstrip("/") + "/x"):
                expected = _oracle(golden_policy, {}, entry["access"], obj)
                (verdict,) = engine.decide(_event(entry["access"], obj))
                assert verdict.rule.id == expected.rule.id
                checked += 1
    assert checked > 100


def test_paths_under_an_agentfs_view_are_decided_as_the_branch_base(es_table, golden_policy):
    """ES sees a branched workspace file at its resolved path under the AgentFS view."""
    from aw_policy.backends import fskit

    table = es_table(golden_policy)
    (agent,) = [v for v in table["paths"]["views"] if v["branch"] == "agent"]
    assert agent == {"branch": "agent", "view": fskit.view("agent"), "base": "${WORKSPACE}"}
    engine = Engine(table)
    for rest in ("", "/src/main.py", "/app/.env", "/.git/hooks/pre-commit", "/.git/config"):
        for op in ("read", "write"):
            (through_view,) = engine.decide(_event(op, agent["view"] + rest))
            expected = _oracle(golden_policy, {}, op, "/home/agent/workspace" + rest)
            assert (through_view.rule.id, through_view.effect) == (expected.rule.id, expected.effect), rest
    # A path that only shares the prefix text is not under the view.
    (outside,) = engine.decide(_event("write", agent["view"] + "-other/x"))
    assert outside.effect == "deny" and outside.rule.kind == "default"


@settings(max_examples=max(20, FUZZ_EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), st.sampled_from(WORKSPACES))
def test_glob_regex_templates_bind_to_the_engines_regex(es_table, texts, workspace):
    """An ES client that substitutes escaped parameter values into ``path.regex`` gets decide()'s regex."""
    import re

    table = es_table(policy_from_texts(*texts), {"WORKSPACE": workspace})
    reference = table["params"]["reference"]
    for entry in table["files"] + table["exec"]:
        path = entry["path"]
        if path["match"] != "regex":
            continue
        bound = paths.PARAM_RE.sub(lambda m: re.escape(reference[m.group(1)].rstrip("/")), path["regex"])
        assert bound == path["reference"], path
