"""Both surface syntaxes produce the same AST, construct by construct, with spans kept."""

from __future__ import annotations

import pytest
from language_cases import CASES

from aw_policy.lang import ast
from aw_policy.lang.dsl import parse_dsl
from aw_policy.lang.yaml_loader import parse_yaml


@pytest.mark.parametrize("name", sorted(CASES))
def test_dsl_and_yaml_give_the_same_ast(name):
    dsl, yaml_text = CASES[name]
    a = parse_dsl(dsl, "case.awp")
    b = parse_yaml(yaml_text, "case.awp.yaml")
    assert a.statements, "the case must produce statements"
    assert ast.strip_spans(a) == ast.strip_spans(b)


def _validated(value):
    """``value`` built again through pydantic validation, children first."""
    if isinstance(value, ast.Node):
        return type(value)(**{key: _validated(getattr(value, key)) for key in type(value).model_fields})
    if isinstance(value, tuple):
        return tuple(_validated(v) for v in value)
    return value


@pytest.mark.parametrize("name", sorted(CASES))
def test_unvalidated_nodes_are_what_validation_builds(name):
    """The front ends build nodes with model_construct (the grammar and the schema guarantee the
    types): validating the same fields accepts them and builds equal nodes, spans included."""
    dsl, yaml_text = CASES[name]
    for tree in (parse_dsl(dsl, "case.awp"), parse_yaml(yaml_text, "case.awp.yaml")):
        assert _validated(tree) == tree
        assert ast.strip_spans(_validated(tree)) == ast.strip_spans(tree)


def test_every_construct_is_covered_by_a_case():
    kinds = set()
    for dsl, _ in CASES.values():
        f = parse_dsl(dsl, "x.awp")
        for st in f.statements:
            kinds.add(type(st).__name__)
            if isinstance(st, ast.Rule):
                kinds.add(f"{st.section}:{st.effect}")
                kinds.update(f"target:{t.kind}" for t in st.targets)
                kinds.update(f"op:{op}" for op in st.ops)
                kinds.update(m for m, on in (("enforce", st.enforce), ("audit", st.audit)) if on)
    expected = {
        "Rule", "Default", "Include", "Param", "Branch", "EnvSet", "EnvPass",
        "fs:allow", "fs:deny", "fs:prompt", "net:allow", "net:prompt", "signal:allow", "signal:deny",
        "mach:allow", "target:subtree", "target:literal", "target:glob", "target:host",
        "target:signal", "target:mach", "op:read", "op:write", "op:exec", "op:connect", "op:bind",
        "enforce", "audit",
    }
    assert expected <= kinds, expected - kinds


def test_spans_point_at_the_text():
    text = 'scope project\nfs {\n  allow read "/usr"\n  deny write glob "/x/**"\n}\n'
    f = parse_dsl(text, "p.awp")
    deny = f.statements[1]
    assert (deny.span.line, deny.span.col) == (4, 3)
    target = deny.targets[0]
    assert (target.span.line, target.span.col) == (4, 19)
    assert text.splitlines()[3][target.span.col - 1 :].startswith('"/x/**"')
    assert (f.scope, f.scope_span.line, f.scope_span.col) == ("project", 1, 7)


def test_yaml_spans_point_at_the_values():
    text = 'scope: user\nfs:\n  - allow: read\n    paths:\n      - "/usr"\n      - "/opt"\n'
    f = parse_yaml(text, "u.awp.yaml")
    rule = f.statements[0]
    assert [(t.span.line, t.span.col) for t in rule.targets] == [(5, 9), (6, 9)]


def test_strings_decode_escapes():
    f = parse_dsl(r'fs { allow read "/a\"b\\c" }', "e.awp")
    assert f.statements[0].targets[0].value == '/a"b\\c'


def test_a_kind_keyword_holds_until_the_next_one():
    doc = parse_dsl('fs { allow read literal "/a" "/b" subtree "/c" "/d" glob "/e/*" }\n'
                    'branch "b" { base "/w"; hide literal "/w/x" "/w/y" }\n', "case.awp")
    rule, branch = doc.statements
    assert [(t.kind, t.value) for t in rule.targets] == [
        ("literal", "/a"), ("literal", "/b"), ("subtree", "/c"), ("subtree", "/d"), ("glob", "/e/*")]
    assert [t.kind for t in branch.hide] == ["literal", "literal"]


def test_semicolons_and_newlines_are_interchangeable():
    one = parse_dsl('net { allow connect "a.b:1"; deny bind "localhost:2" }', "a.awp")
    two = parse_dsl('net {\n  allow connect "a.b:1"\n  deny bind "localhost:2"\n}\n', "b.awp")
    assert ast.strip_spans(one) == ast.strip_spans(two)
