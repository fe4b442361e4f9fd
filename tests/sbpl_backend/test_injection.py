"""No string can escape: hostile paths, parameter values, names and provenance read back exactly.

Each generated policy is rendered, parsed and loaded by our SBPL reader and
model; the rules it makes must be exactly the intended ones (one per IR rule,
in precedence order, same effect, operation and filter value), after the same
fixed base block an empty policy gets, and nothing else.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aw_policy import ir, paths
from aw_policy.backends import macos_paths, sbpl
from aw_policy.diagnostics import PolicyError
from aw_policy.sbpl import catalog, evaluator

EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "100"))

NASTY = ('") (allow default) ("', '"', "\\", "\\\"", "\n(allow default)\n", "\r", "\t", "#|", "|#", ";",
         "#\"", "(", ")", "é", "日本", "\x7f", "\x01", "\u2028", "*", "?", "**", "[a]", "$", "^", " ")

hostile = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12),
)


def component(text: str) -> str | None:
    text = text.replace("/", "_")
    if text in (".", "..") or paths.PARAM_RE.search(text) or text.startswith("~"):
        return None
    return text


components = hostile.map(component).filter(lambda c: c is not None)
path_texts = st.lists(components, min_size=1, max_size=3).map(lambda cs: "/" + "/".join(cs))


@st.composite
def rules(draw):
    out = []
    for i in range(draw(st.integers(1, 6))):
        origin = ir.Origin(draw(hostile), 1, 1, "project")
        rid = f"r{i}{draw(hostile)}"
        effect = draw(st.sampled_from(("allow", "deny", "prompt")))
        if draw(st.integers(0, 3)) == 0:
            name = draw(hostile) + draw(st.sampled_from(("", "*")))
            out.append(ir.Rule(rid, "mach", "mach", effect, "mach", name, "project", origin))
            continue
        kind = draw(st.sampled_from(("literal", "subtree", "glob")))
        text = draw(path_texts)
        pattern = ("${P}" + text) if draw(st.booleans()) else text
        op = draw(st.sampled_from(("read", "write", "exec")))
        out.append(ir.Rule(rid, op, "fs", effect, kind, pattern, "project", origin, audit=draw(st.booleans())))
    return out


def bound_text(rule: ir.Rule, values: dict[str, str]) -> str:
    """The path the rule names, resolved for macOS, from the launch values (independent of the backend)."""
    text = macos_paths.canonical(rule.pattern)
    return text.replace("${P}", values["P"])


def case_variant(path: str, change) -> str:
    """Change the case of every letter that has a one-letter counterpart (what the backend covers)."""
    return "".join(change(c) if len(change(c)) == 1 else c for c in path)


def base_rule_count() -> int:
    text, _ = sbpl.render_profile(ir.Policy(rules=()), {}, False)
    return len(evaluator.load_profile(text, {}).rules)


def check_rule(loaded: evaluator.LoadedRule, rule: ir.Rule, values: dict[str, str]) -> None:
    effect = sbpl._sbpl_effect(rule.effect, supervised=False)
    assert loaded.effect == effect
    assert loaded.operations == (catalog.canonical_operation(sbpl.OPERATION[rule.op]),)
    assert loaded.report == rule.audit
    flt = loaded.filter
    if rule.kind == "mach":
        if rule.pattern.endswith("*"):
            assert (flt.kind, flt.args[1]) == ("name-prefix", rule.pattern[:-1])
        else:
            assert (flt.kind, flt.args[1]) == ("name", rule.pattern)
        return
    path = bound_text(rule, values)
    if flt.kind in ("literal", "subpath"):
        assert effect == "allow" or not any(c.lower() != c.upper() for c in path)
        assert (flt.kind, flt.args[0]) == ({"literal": "literal", "subtree": "subpath"}[rule.kind], path)
        return
    assert flt.kind == "regex"
    regex = flt.args[1]
    assert regex.search(path), (rule, flt.args[0])
    if rule.kind == "subtree":
        assert regex.search(path + "/z")
    if rule.kind != "glob":
        assert not regex.search(path + "z")
        assert not regex.search("/z" + path)
        if effect == "deny":
            assert regex.search(case_variant(path, str.upper)) and regex.search(case_variant(path, str.lower))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), path_texts)
def test_hostile_strings_read_back_as_the_intended_rules(rule_list, param_value):
    policy = ir.Policy(rules=tuple(rule_list), params=(ir.ParamDecl("P", param_value, None),))
    reference = {**paths.REFERENCE_PARAMS, "P": param_value}
    text, _ = sbpl.render_profile(policy, reference, supervised=False)
    values = sbpl.launch_params(reference)
    loaded = evaluator.load_profile(text, values, "profile.sb")
    base = base_rule_count()
    order = ir.precedence_order(ir.bind(policy, reference))
    assert len(loaded.rules) == base + len(order), text
    for loaded_rule, rule_id in zip(loaded.rules[base:], order):
        check_rule(loaded_rule, policy.rule(rule_id), values)
    assert not any(r.effect == "allow" and "default" in r.operations for r in loaded.rules)


@pytest.mark.parametrize("field", ["pattern", "mach"])
def test_nul_is_refused_with_a_diagnostic(field):
    origin = ir.Origin("policy.awp", 3, 7, "project")
    if field == "pattern":
        rule = ir.Rule("r1", "read", "fs", "allow", "literal", "/a\x00b", "project", origin)
    else:
        rule = ir.Rule("r1", "mach", "mach", "allow", "mach", "com.a\x00", "project", origin)
    with pytest.raises(PolicyError) as info:
        sbpl.render(ir.Policy(rules=(rule,)), dict(paths.REFERENCE_PARAMS))
    diag = info.value.diagnostics[0]
    assert (diag.code, diag.span.file, diag.span.line, diag.span.col) == ("AWP520", "policy.awp", 3, 7)
