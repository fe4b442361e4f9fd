"""Differential proof: the compiled profiles, run in our Seatbelt model, decide what decide() decides.

Policies are generated as DSL text in all four scopes (literal, subtree and
glob paths under parameters and fixed roots, nested overrides, enforce,
prompt, audit, class defaults, hosts, signal and debug targets, mach names), merged by
the real front end, compiled by the backend, parsed and loaded by
aw_policy.sbpl.evaluator, and compared request by request with ir.decide():
prompt is deny in profile.sb and allow in profile.supervised.sb.

Two documented departures are checked for what they promise instead of
equality: a host Seatbelt cannot name is left to the proxy (the profile may
then deny more, never allow more), and a process may always signal itself.
"""

from __future__ import annotations

import os

from helpers import policy_from_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sbpl_backend._oracle import expected_allowed, profile_for, seatbelt_requests

from aw_policy import ir
from aw_policy.sbpl import evaluator

EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "100"))

SCOPES = ("org", "project", "user", "session")
EFFECTS = ("allow", "deny", "prompt")
BASES = ("/r", "/w", "${WORKSPACE}", "${HOME}", "~", "/tmp")
COMPONENTS = ("a", "b", "c.d", "ab")
GLOB_COMPONENTS = ("*", "**", "a*", "?", "b", "a")
HOSTS = ("localhost", "*", "example.com", "*.example.com", "169.254.169.254")
PORTS = ("*", "80", "443")
TARGETS = ("self", "children", "pgrp", "same-sandbox", "others", "any")
MACH = ("com.a.x", "com.a.*", "*", "com.b.y")

REQUEST_ROOTS = ("/", "/r", "/w", "/r/a", "/home/u", "/home/u/ws", "/tmp", "/w/h")
REQUEST_COMPONENTS = ("a", "b", "c.d", "ab", "x", "ws")
REQUEST_HOSTS = ("localhost", "127.0.0.1", "example.com", "a.example.com", "other.org", "169.254.169.254")


@st.composite
def fs_rule(draw, scope):
    kind = draw(st.sampled_from(("", "literal ", "glob ")))
    parts = draw(st.lists(st.sampled_from(GLOB_COMPONENTS if kind == "glob " else COMPONENTS), max_size=3))
    base = draw(st.sampled_from(BASES))
    path = "/".join([base, *parts])
    ops = draw(st.lists(st.sampled_from(("read", "write", "exec")), min_size=1, max_size=3, unique=True))
    return f"fs {{ {modifiers(draw, scope)}{draw(st.sampled_from(EFFECTS))} {','.join(ops)} {kind}\"{path}\" }}"


def modifiers(draw, scope) -> str:
    enforce = scope in ("org", "project") and draw(st.booleans())
    audit = draw(st.integers(0, 3)) == 0
    return ("enforce " if enforce else "") + ("audit " if audit else "")


@st.composite
def other_rule(draw, scope):
    which = draw(st.sampled_from(("net", "signal", "debug", "mach", "default", "default-class")))
    effect = draw(st.sampled_from(EFFECTS))
    if which == "net":
        op = draw(st.sampled_from(("connect", "bind")))
        target = f"{draw(st.sampled_from(HOSTS))}:{draw(st.sampled_from(PORTS))}"
        return f"net {{ {modifiers(draw, scope)}{effect} {op} \"{target}\" }}"
    if which == "signal":
        return f"signal {{ {modifiers(draw, scope)}{effect} {draw(st.sampled_from(TARGETS))} }}"
    if which == "debug":
        return f"debug {{ {modifiers(draw, scope)}{effect} same-sandbox }}"
    if which == "mach":
        return f"mach {{ {modifiers(draw, scope)}{effect} \"{draw(st.sampled_from(MACH))}\" }}"
    if which == "default":
        return f"default {effect}"
    return f"{draw(st.sampled_from(('fs', 'net', 'signal', 'mach')))} {{ default {effect} }}"


@st.composite
def policies(draw):
    layers = []
    for scope in SCOPES:
        rules = draw(st.lists(st.one_of(fs_rule(scope), other_rule(scope)), max_size=6))
        if rules:
            layers.append((scope, "\n".join(rules) + "\n"))
    return layers


@st.composite
def param_values(draw):
    return {
        "WORKSPACE": draw(st.sampled_from(("/r/a", "/w", "/r", "/home/u/ws"))),
        "HOME": draw(st.sampled_from(("/home/u", "/r/a", "/w/h"))),
    }


@st.composite
def requests(draw):
    op = draw(st.sampled_from(ir.OPERATIONS))
    cls = ir.OP_CLASS[op]
    if cls == "fs":
        root = draw(st.sampled_from(REQUEST_ROOTS))
        parts = draw(st.lists(st.sampled_from(REQUEST_COMPONENTS), max_size=3))
        obj = "/".join([root.rstrip("/"), *parts]) or "/"
    elif cls == "net":
        obj = f"{draw(st.sampled_from(REQUEST_HOSTS))}:{draw(st.sampled_from(('80', '443', '8080')))}"
    elif op == "signal":
        obj = draw(st.sampled_from(TARGETS[:-1]))
    elif op == "debug":
        obj = draw(st.sampled_from(ir.DEBUG_TARGETS))
    else:
        obj = draw(st.sampled_from(("com.a.x", "com.a.y", "com.b.y", "org.z")))
    return ir.normalize_request(op, obj)


def proxy_hosts(policy: ir.Policy, op: str) -> bool:
    return any(r.kind == "host" and r.op == op and ir.split_host_port(r.pattern)[0] not in ("*", "localhost")
               for r in policy.rules)


def check(policy: ir.Policy, params: dict[str, str], reqs: list[ir.Request]) -> None:
    bound = ir.bind(policy, params)
    for supervised in (False, True):
        text, loaded = profile_for(policy, params, supervised)
        for request in reqs:
            decision = ir.decide(bound, request)
            want = expected_allowed(decision.effect, supervised)
            for sb_request in seatbelt_requests(request):
                verdict = evaluator.evaluate(loaded, sb_request)
                context = (f"supervised={supervised} {request} -> decide {decision.effect} by "
                           f"{decision.rule.describe()}; seatbelt {verdict.allowed}: {verdict.reason}\n{text}")
                if request.op == "signal" and request.object == "self":
                    assert verdict.allowed, context  # Seatbelt's implicit rule
                elif request.cls == "net" and request.object.split(":")[0] != "localhost" \
                        and proxy_hosts(policy, request.op):
                    assert want or not verdict.allowed, context  # the proxy decides; never wider
                else:
                    assert verdict.allowed == want, context
                    if decision.rule.kind != "default":
                        assert verdict.report == decision.audit, context


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), param_values(), st.lists(requests(), min_size=1, max_size=25))
def test_profiles_decide_like_decide(layers, params, reqs):
    policy = policy_from_texts(*layers)
    check(policy, params, reqs)


def test_nested_overrides_across_all_scopes():
    """A hand-written chain of overrides, each inner scope reopening or closing the one above."""
    policy = policy_from_texts(
        ("org", 'fs { enforce deny read "~/.ssh"\n allow read "/r" }\nnet { enforce deny connect "*:25" }\n'),
        ("project", 'fs { deny read "/r/a"\n allow read,write "${WORKSPACE}"\n deny write glob "${WORKSPACE}/**/*.d" }\n'),
        ("user", ('fs { allow read "/r/a/b"\n prompt read "~"\n allow read literal "~/.ssh/config" }\n'
                 'net { allow connect "*:*" }\n')),
        ("session", 'fs { deny read literal "/r/a/b/ab"\n audit allow write "${WORKSPACE}/c.d" }\n'),
    )
    params = {"WORKSPACE": "/r/a/ws", "HOME": "/home/u"}
    paths = ["/r/x", "/r/a", "/r/a/x", "/r/a/b", "/r/a/b/ab", "/r/a/b/abc", "/home/u", "/home/u/x",
             "/home/u/.ssh", "/home/u/.ssh/config", "/home/u/.ssh/id", "/r/a/ws/c.d", "/r/a/ws/x/y.d",
             "/r/a/ws/c.d/e.d", "/r/a/ws/y"]
    reqs = [ir.normalize_request(op, p) for p in paths for op in ("read", "write")]
    reqs += [ir.normalize_request("connect", hp) for hp in ("localhost:25", "localhost:80", "example.com:443")]
    check(policy, params, reqs)
    # the chain really exercises overrides: every effect occurs, from several scopes
    decisions = [ir.decide(policy, r, params) for r in reqs]
    assert {d.effect for d in decisions} == {"allow", "deny", "prompt"}
    assert {d.rule.scope for d in decisions} >= set(SCOPES)
