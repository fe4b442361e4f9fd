"""Debug mode in the policy language: DSL and YAML forms, located errors, merge precedence, explain.

``debug { allow same-sandbox }`` (YAML ``debug: [{allow: same-sandbox}]``) lets a
debugger attach to the sandbox's own processes; nothing else can be allowed, and
without a rule (or ``--debug``) debugging is denied by the built-in default.
"""

from __future__ import annotations

import json

import pytest
from helpers import policy_from_texts, run_cli

from aw_policy import ir, session_layer
from aw_policy.diagnostics import PolicyError
from aw_policy.lang import ast
from aw_policy.lang.dsl import parse_dsl
from aw_policy.lang.yaml_loader import parse_yaml


def debug_effect(policy: ir.Policy, target: str = "same-sandbox") -> ir.Decision:
    return ir.decide(policy, ir.normalize_request("debug", target))


# --------------------------------------------------------------------------- two syntaxes, one AST


def test_dsl_and_yaml_build_the_same_rules():
    dsl = parse_dsl("scope project\ndebug { allow same-sandbox; enforce audit deny same-sandbox }\n", "p.awp")
    yaml = parse_yaml("scope: project\ndebug:\n  - allow: same-sandbox\n"
                      "  - {deny: [same-sandbox], enforce: true, audit: true}\n", "p.awp.yaml")
    assert ast.same_shape(dsl, yaml)
    first = dsl.statements[0]
    assert (first.section, first.effect, first.ops, first.targets[0].kind, first.targets[0].value) == \
        ("debug", "allow", ("debug",), "debug", "same-sandbox")
    assert dsl.statements[1].enforce and dsl.statements[1].audit


def test_targets_keep_their_positions():
    dsl = parse_dsl("scope project\ndebug {\n  allow same-sandbox\n}\n", "p.awp")
    target = dsl.statements[0].targets[0]
    assert (target.span.line, target.span.col, target.span.end_col) == (3, 9, 21)
    yaml = parse_yaml("scope: project\ndebug:\n  - allow: same-sandbox\n", "p.awp.yaml")
    target = yaml.statements[0].targets[0]
    assert (target.span.line, target.span.col) == (3, 12)


# --------------------------------------------------------------------------- what cannot be said


@pytest.mark.parametrize("word, reason", [
    ("others", "outside the sandbox"),
    ("any", "outside the sandbox"),
    ("children", "cannot be enforced"),
    ("self", "cannot be enforced"),
])
def test_any_target_but_same_sandbox_is_a_located_error(word, reason):
    with pytest.raises(PolicyError) as caught:
        policy_from_texts(("project", f"debug {{ allow same-sandbox {word} }}\n"))
    [d] = caught.value.diagnostics
    assert d.code == "AWP026" and f"debug target '{word}'" in d.message and reason in d.message
    assert (d.span.line, d.span.col) == (2, 28)  # the word itself (line 1 is the scope line helpers add)
    assert "debug { allow same-sandbox }" in d.hint


def test_yaml_outside_target_is_the_same_located_error(tmp_path):
    path = tmp_path / "p.awp.yaml"
    path.write_text("scope: project\ndebug:\n  - allow: [same-sandbox, others]\n")
    result = run_cli("show", str(path))
    assert result.returncode == 2
    assert "p.awp.yaml:3:27: error[AWP026]: debug target 'others' cannot be used" in result.stderr, result.stderr


def test_unknown_debug_word_is_a_syntax_error_naming_the_choices(tmp_path):
    path = tmp_path / "p.awp"
    path.write_text("scope project\ndebug { allow everything }\n")
    result = run_cli("show", str(path))
    assert result.returncode == 2
    assert "p.awp:2:15" in result.stderr and "same-sandbox" in result.stderr
    assert "Traceback" not in result.stderr


def test_yaml_schema_refuses_a_non_target(tmp_path):
    path = tmp_path / "p.awp.yaml"
    path.write_text("scope: project\ndebug:\n  - allow: /usr/bin/gdb\n")
    result = run_cli("show", str(path))
    assert result.returncode == 2, result.stderr
    assert "p.awp.yaml:3:12: error[AWP011]: invalid value '/usr/bin/gdb' for debug/0/allow" in result.stderr
    assert "same-sandbox" in result.stderr


def test_explain_refuses_an_unknown_debug_target(tmp_path):
    path = tmp_path / "p.awp"
    path.write_text("scope project\n")
    result = run_cli("explain", str(path), "debug", "1234")
    assert result.returncode == 2 and "debug target must be same-sandbox" in result.stderr


# --------------------------------------------------------------------------- meaning and merge


def test_off_by_default_even_under_default_allow():
    policy = policy_from_texts(("project", "default allow\n"))
    decision = debug_effect(policy)
    assert decision.effect == "deny" and decision.rule.scope == "builtin"
    assert debug_effect(policy_from_texts(("project", "signal { allow any }\n")), "same-sandbox").effect == "deny"


def test_outside_is_always_denied():
    policy = policy_from_texts(("project", "debug { allow same-sandbox }\n"))
    assert debug_effect(policy).effect == "allow"
    assert debug_effect(policy, "others").effect == "deny"


def test_inner_scopes_override_outer_ones():
    policy = policy_from_texts(("project", "debug { allow same-sandbox }\n"), ("user", "debug { deny same-sandbox }\n"))
    assert debug_effect(policy).effect == "deny" and debug_effect(policy).rule.scope == "user"


def test_enforced_org_deny_beats_project_user_and_session_allows():
    policy = policy_from_texts(("org", "debug { enforce deny same-sandbox }\n"),
                               ("project", "debug { allow same-sandbox }\n"),
                               ("session", "debug { allow same-sandbox }\n"))
    decision = debug_effect(policy)
    assert decision.effect == "deny" and decision.rule.enforce and decision.rule.scope == "org"
    assert [r.scope for r in decision.beaten] == ["session", "project", "builtin"]


def test_enforce_is_refused_outside_org_and_project():
    with pytest.raises(PolicyError) as caught:
        policy_from_texts(("user", "debug { enforce allow same-sandbox }\n"))
    assert caught.value.diagnostics[0].code == "AWP023"


def test_ir_round_trips_through_json():
    policy = policy_from_texts(("project", "debug { audit allow same-sandbox }\n"))
    again = ir.Policy.from_json(json.loads(json.dumps(policy.to_json())))
    assert again.rules == policy.rules
    assert policy.rules[0].describe() == "audit allow debug same-sandbox"


# --------------------------------------------------------------------------- the --debug flag


def test_debug_flag_is_a_session_rule():
    base = policy_from_texts(("project", "fs { allow read \"/usr\" }\n"))
    assert debug_effect(base).effect == "deny"
    flagged = session_layer.apply_flags(base, session_layer.Flags(debug=True))
    decision = debug_effect(flagged)
    assert decision.effect == "allow"
    assert (decision.rule.scope, decision.rule.origin.file) == ("session", "--debug")
    assert session_layer.Flags(debug=True).to_json()["debug"] is True
    assert not session_layer.Flags(debug=True).empty


def test_enforced_deny_overrides_the_flag_and_says_so():
    base = policy_from_texts(("org", "debug { enforce deny same-sandbox }\n"))
    flagged = session_layer.apply_flags(base, session_layer.Flags(debug=True))
    assert debug_effect(flagged).effect == "deny"
    [item] = session_layer.blocked(ir.bind(flagged))
    assert item.message().startswith("--debug cannot allow debug same-sandbox: enforce deny debug same-sandbox "
                                     "is enforced by the org policy")


def test_explain_with_the_flag(tmp_path):
    org = tmp_path / "org.awp"
    org.write_text("scope org\ndebug { enforce deny same-sandbox }\n")
    project = tmp_path / "project.awp"
    project.write_text("scope project\n")
    allowed = run_cli("explain", "--debug", str(project), "debug", "same-sandbox")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("debug same-sandbox: ALLOW") and "--debug:1:1" in allowed.stdout
    outside = run_cli("explain", "--debug", str(project), "debug", "others")
    assert outside.stdout.startswith("debug others: DENY") and "default deny (debug)" in outside.stdout
    overridden = run_cli("explain", "--debug", str(org), str(project), "debug", "same-sandbox")
    assert overridden.stdout.startswith("debug same-sandbox: DENY")
    assert "note: the flag --debug cannot loosen this enforced rule" in overridden.stdout
    as_json = json.loads(run_cli("explain", "--debug", "--format", "json", str(org), str(project),
                                 "debug", "same-sandbox").stdout)
    assert as_json["effect"] == "deny" and as_json["overridden_flags"] == ["--debug"]


def test_show_lists_debug_rules(tmp_path):
    project = tmp_path / "project.awp"
    project.write_text("scope project\ndebug { allow same-sandbox }\n")
    result = run_cli("show", str(project))
    assert result.returncode == 0 and "debug:\n" in result.stdout and "allow debug same-sandbox" in result.stdout


# --------------------------------------------------------------------------- lint


def test_lint_flags_debug_mode_in_a_lasting_policy_not_the_session_flag(tmp_path):
    project = tmp_path / "project.awp"
    project.write_text("scope project\ndebug { allow same-sandbox }\n")
    result = run_cli("lint", str(project))
    assert "project.awp:2:15: warning[AWP207]: 'allow debug same-sandbox' turns debug mode on" in result.stdout
    session = tmp_path / "session.awp"
    session.write_text("scope session\ndebug { allow same-sandbox }\n")
    locked = tmp_path / "org.awp"
    locked.write_text("scope org\ndebug { enforce deny same-sandbox }\n")
    for quiet in ([session], [locked, project]):
        result = run_cli("lint", *map(str, quiet))
        assert "AWP207" not in result.stdout, result.stdout


def test_semantic_checks_see_debug_rules(tmp_path):
    org = tmp_path / "org.awp"
    org.write_text("scope org\ndebug { enforce deny same-sandbox }\n")
    project = tmp_path / "project.awp"
    project.write_text("scope project\ndebug { allow same-sandbox }\n")
    result = run_cli("lint", str(org), str(project))
    assert result.returncode == 1
    assert "project.awp:2:15: error[AWP103]: 'allow debug same-sandbox' has no effect on same-sandbox" in result.stdout
