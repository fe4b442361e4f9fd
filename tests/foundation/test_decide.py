"""decide(): the precedence table, rule by rule, and its properties under hypothesis."""

from __future__ import annotations

import pytest
from helpers import policy_from_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aw_policy import ir

PARAMS = {"HOME": "/home/dev", "WORKSPACE": "/home/dev/ws", "TMPDIR": "/tmp"}


def effect(policy, op, obj, params=PARAMS):
    return ir.decide(policy, ir.normalize_request(op, obj), params).effect


# (description, layers, request, expected effect, expected winner's scope)
TABLE = [
    ("no rule: built-in default deny", [("project", 'fs { allow read "/usr" }')],
     ("read", "/etc/passwd"), "deny", "builtin"),
    ("stated default", [("org", "default allow")], ("read", "/x"), "allow", "org"),
    ("inner default overrides outer", [("org", "default deny"), ("user", "default prompt")],
     ("write", "/x"), "prompt", "user"),
    ("deeper path wins over scope", [("user", 'fs { allow read "/data" }'), ("org", 'fs { deny read "/data/secret" }')],
     ("read", "/data/secret/k"), "deny", "org"),
    ("deeper allow beats outer shallow deny", [("org", 'fs { deny read "/data" }'), ("project", 'fs { allow read "/data/pub" }')],
     ("read", "/data/pub/x"), "allow", "project"),
    ("literal beats glob beats subtree at equal depth",
     [("project", 'fs { allow read "/a/b"; deny read glob "/a/*"; allow read literal "/a/b" }')],
     ("read", "/a/b"), "allow", "project"),
    ("glob beats subtree at equal depth",
     [("project", 'fs { allow write "/w"; deny write glob "/w/**/.env" }')],
     ("write", "/w/x/.env"), "deny", "project"),
    ("inner scope wins at equal specificity", [("org", 'fs { deny read "/d" }'), ("session", 'fs { allow read "/d" }')],
     ("read", "/d/f"), "allow", "session"),
    ("deny beats allow at same scope and specificity", [("project", 'fs { allow read "/d"; deny read "/d" }')],
     ("read", "/d"), "deny", "project"),
    ("prompt beats allow, loses to deny", [("project", 'fs { allow read "/d"; prompt read "/d" }')],
     ("read", "/d"), "prompt", "project"),
    ("org enforce beats deeper inner allow", [("org", 'fs { enforce deny read "~/.ssh" }'),
                                              ("user", 'fs { allow read "~/.ssh/config" }')],
     ("read", "/home/dev/.ssh/config"), "deny", "org"),
    ("org enforce beats project enforce", [("org", 'fs { enforce allow read "/x" }'),
                                           ("project", 'fs { enforce deny read "/x/y" }')],
     ("read", "/x/y"), "allow", "org"),
    ("project enforce beats user", [("project", 'fs { enforce deny write "${WORKSPACE}/.git" }'),
                                    ("user", 'fs { allow write "${WORKSPACE}/.git/hooks" }')],
     ("write", "/home/dev/ws/.git/hooks/pre-commit"), "deny", "project"),
    ("subtree keeps the directory boundary", [("project", 'fs { allow read "/a/b" }')],
     ("read", "/a/bc"), "deny", "builtin"),
    ("exec any", [("project", 'exec { prompt "*"; allow "/usr/bin" }')], ("exec", "/opt/x"), "prompt", "project"),
    ("host exact beats wildcard", [("project", 'net { deny connect "*.example.com:443"; allow connect "api.example.com:443" }')],
     ("connect", "api.example.com:443"), "allow", "project"),
    ("wildcard beats any", [("project", 'net { allow connect "*:443"; deny connect "*.evil.test:443" }')],
     ("connect", "x.evil.test:443"), "deny", "project"),
    ("localhost means loopback", [("project", 'net { allow connect "localhost:8080" }')],
     ("connect", "127.0.0.1:8080"), "allow", "project"),
    ("port must match", [("project", 'net { allow connect "localhost:8080" }')],
     ("connect", "localhost:8081"), "deny", "builtin"),
    ("signal target", [("project", "signal { allow same-sandbox; deny any }")],
     ("signal", "same-sandbox"), "allow", "project"),
    ("mach prefix", [("project", 'mach { allow "com.apple.cfprefsd.*" }')],
     ("mach", "com.apple.cfprefsd.daemon"), "allow", "project"),
    ("params bind at decide time", [("project", 'fs { allow write "${WORKSPACE}" }')],
     ("write", "/home/dev/ws/src/a.py"), "allow", "project"),
    ("tilde is HOME", [("project", 'fs { deny read "~/.aws"; allow read "/home" }')],
     ("read", "/home/dev/.aws/credentials"), "deny", "project"),
]


@pytest.mark.parametrize("case", TABLE, ids=[c[0] for c in TABLE])
def test_precedence_table(case):
    _, layers, (op, obj), expected, scope = case
    policy = policy_from_texts(*layers)
    decision = ir.decide(policy, ir.normalize_request(op, obj), PARAMS)
    assert (decision.effect, decision.rule.scope) == (expected, scope)


def test_specificity_follows_bound_params():
    # ${WORKSPACE} one component deep vs five: the deeper bound path wins either way it is bound.
    policy = policy_from_texts(("project", 'fs { allow write "${WORKSPACE}"; deny write "/a/b/c" }'))
    shallow = {"WORKSPACE": "/a"}
    deep = {"WORKSPACE": "/a/b/c/d"}
    assert effect(policy, "write", "/a/b/c/d/x", shallow | {"HOME": "/h"}) == "deny"
    assert effect(policy, "write", "/a/b/c/d/x", deep | {"HOME": "/h"}) == "allow"


def test_beaten_lists_every_other_match_best_first():
    policy = policy_from_texts(("org", 'default deny\nfs { deny read "/d" }'), ("user", 'fs { allow read "/d/e" }'))
    decision = ir.decide(policy, ir.normalize_request("read", "/d/e/f"), PARAMS)
    assert decision.rule.pattern == "/d/e"
    assert [r.pattern for r in decision.beaten] == ["/d", "*", "*"]


# --------------------------------------------------------------------------- properties

SCOPES = ["org", "project", "user", "session"]
DIRS = ["/a", "/a/b", "/a/b/c", "/d", "~/.ssh", "${WORKSPACE}", "${WORKSPACE}/src"]
EFFECTS = ["allow", "deny", "prompt"]


@st.composite
def rule_text(draw, scope):
    effect_ = draw(st.sampled_from(EFFECTS))
    op = draw(st.sampled_from(["read", "write"]))
    kind = draw(st.sampled_from(["", "literal ", "glob "]))
    path = draw(st.sampled_from(DIRS))
    if kind == "glob ":
        path = path + draw(st.sampled_from(["/*", "/**/x", "/*.py"]))
    enforce = draw(st.booleans()) and scope in ("org", "project")
    return f'fs {{ {"enforce " if enforce else ""}{effect_} {op} {kind}"{path}" }}'


@st.composite
def layered_policy(draw):
    layers = []
    for scope in SCOPES:
        n = draw(st.integers(0, 4))
        lines = [draw(rule_text(scope)) for _ in range(n)]
        if draw(st.booleans()):
            lines.append(f"default {draw(st.sampled_from(EFFECTS))}")
        if lines:
            layers.append((scope, "\n".join(lines)))
    return layers or [("project", "default deny")]


REQUEST_PATHS = ["/a", "/a/b", "/a/b/c/x.py", "/a/b/x", "/d/e", "/home/dev/.ssh/id_rsa", "/home/dev/ws/src/m.py",
                 "/home/dev/ws/x", "/elsewhere"]
requests = st.tuples(st.sampled_from(["read", "write"]), st.sampled_from(REQUEST_PATHS))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(layered_policy(), requests)
def test_decide_is_deterministic(layers, request):
    a = ir.decide(policy_from_texts(*layers), ir.normalize_request(*request), PARAMS)
    b = ir.decide(policy_from_texts(*layers), ir.normalize_request(*request), PARAMS)
    assert a == b


@FAST
@given(requests)
def test_default_is_deny(request):
    policy = policy_from_texts(("project", 'net { allow connect "localhost:1" }'))
    decision = ir.decide(policy, ir.normalize_request(*request), PARAMS)
    assert decision.effect == "deny" and decision.rule.kind == "default"


@FAST
@given(layered_policy(), st.sampled_from(["user", "session"]), st.lists(rule_text("user"), max_size=4),
       st.sampled_from(REQUEST_PATHS))
def test_inner_scope_never_weakens_an_org_enforce_deny(layers, inner, extra, path):
    base = [("org", 'fs { enforce deny read "/a/b" }')] + layers
    request = ir.normalize_request("read", path)
    before = ir.decide(policy_from_texts(*base), request, PARAMS)
    after = ir.decide(policy_from_texts(*base, (inner, "\n".join(extra) or "default allow")), request, PARAMS)
    if path.startswith("/a/b"):
        assert before.rule.tier == 2  # an org enforce rule governs this path
        assert (after.effect, after.rule) == (before.effect, before.rule)
        if not any(r.tier == 2 and r.effect != "deny" for r in policy_from_texts(*base).rules):
            assert after.effect == "deny"


@FAST
@given(layered_policy(), requests, st.sampled_from(SCOPES), st.sampled_from(EFFECTS))
def test_a_rule_on_an_unrelated_path_changes_no_decision(layers, request, scope, effect_):
    unrelated = f'fs {{ {effect_} read,write "/unrelated/tree" }}'
    before = ir.decide(policy_from_texts(*layers), ir.normalize_request(*request), PARAMS)
    after = ir.decide(policy_from_texts(*layers, (scope, unrelated)), ir.normalize_request(*request), PARAMS)
    assert (before.effect, before.rule.origin, before.rule.pattern) == (after.effect, after.rule.origin, after.rule.pattern)


@FAST
@given(layered_policy(), requests)
def test_winner_is_the_maximum_of_every_match(layers, request):
    policy = policy_from_texts(*layers)
    bound = ir.bind(policy, PARAMS)
    req = ir.normalize_request(*request)
    decision = ir.decide(bound, req)
    ranked = ir.ranked_matches(bound, req)
    assert decision.rule == ranked[0].rule == ir.winning_rule(bound, req.op, req.object)
    assert all(m.matcher(req.object) for m in ranked)
    index = {r.id: i for i, r in enumerate(policy.rules)}
    keys = [m.key(index.get(m.rule.id, -1)) for m in ranked]
    assert keys == sorted(keys, reverse=True)


@FAST
@given(layered_policy(), requests, st.sampled_from(["glob", "literal", "subtree", "default"]))
def test_a_restricted_binding_decides_as_the_policy_without_those_rules(layers, request, kind):
    policy = policy_from_texts(*layers)
    restricted = ir.restrict(ir.bind(policy, PARAMS), lambda rule: rule.kind != kind)
    rules = tuple(r for r in policy.rules if r.kind != kind)
    without = ir.bind(ir.Policy(rules=rules, params=policy.params), PARAMS)
    req = ir.normalize_request(*request)
    assert restricted.policy.rules == without.policy.rules and restricted.params == without.params
    assert ir.decide(restricted, req) == ir.decide(without, req)
    assert ir.precedence_order(restricted) == ir.precedence_order(without)


@given(st.lists(st.sampled_from(["a", "b.c", "*", "?", "**", "x*y", ".", "", "${W}", "${R}"]), min_size=1,
                max_size=6),
       st.sampled_from(["/w/x", "/", "/r/", "/a b/(c)+"]), st.sampled_from(["/", "/q", "/q.r/"]))
@settings(max_examples=300, deadline=None)
def test_plain_glob_binding_equals_the_general_one(parts, w, r):
    """The fast path for values without wildcards binds exactly like the character-marking one."""
    from aw_policy import paths

    pattern, params = "/" + "/".join(parts), {"W": w, "R": r}
    fast, general = paths._bind_plain_glob(pattern, params), paths._bind_marked_glob(pattern, params)
    assert (fast.text, fast.regex.pattern, fast.depth) == (general.text, general.regex.pattern, general.depth)
