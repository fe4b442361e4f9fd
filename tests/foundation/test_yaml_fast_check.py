"""The generated YAML schema check (aw_policy.lang.policy_schema_check) gives jsonschema's verdicts.

The YAML front end trusts a document the generated check accepts without asking
jsonschema, so "accepted by the check" must imply "valid for jsonschema": a gap
there would let a malformed policy reach the AST builder. The check is held to
exactly jsonschema's verdicts on documents derived from every construct of the
language by random edits (values of other types, unknown and missing keys,
near-miss words, repeated items, YAML's dates and floats).
"""

from __future__ import annotations

import datetime
import json

import jsonschema
import pytest
import yaml
from helpers import GOLDEN_SOURCES
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from language_cases import CASES

from aw_policy.lang import policy_schema_check, policy_schema_codegen, yaml_loader

SCHEMA = yaml_loader.policy_schema()
AUTHORITY = jsonschema.Draft202012Validator(SCHEMA)


def _seed_documents() -> list:
    texts = [yaml_text for _, yaml_text in CASES.values()]
    texts += [p.read_text(encoding="utf-8") for p in GOLDEN_SOURCES if p.name.endswith(".yaml")]
    docs = [yaml.safe_load(t) for t in texts]
    merged: dict = {}
    for doc in docs:  # one document holding every construct at once
        for key, value in doc.items():
            if type(merged.setdefault(key, value)) is not type(value):
                continue  # 'default' is a word in one case and a mapping in another
            if isinstance(value, list) and merged[key] is not value:
                merged[key] = merged[key] + value
            elif isinstance(value, dict):
                merged[key] = {**merged[key], **value}
    return [*docs, merged]


def _schema_words() -> list[str]:
    words: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            words.update(k for k in node.get("properties", {}))
            words.update(v for v in node.get("enum", []) if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    return sorted(words)


SEEDS = _seed_documents()
WORDS = _schema_words()
SCALARS = (st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=False)
           | st.sampled_from([0, 1, 1.0, 0.0, True, False, "", "1"])
           | st.sampled_from(WORDS) | st.text(max_size=6) | st.dates()
           | st.sampled_from(["/usr", "${WORKSPACE}", "~/x", "localhost:8080", "*:443", "A_B", "9x", "a b"]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=4),
                                                                 inner, max_size=3),
    max_leaves=8,
)


def _paths(node, where=()):
    yield where
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*where, i))


def _get(node, where):
    for step in where:
        node = node[step]
    return node


@st.composite
def documents(draw):
    doc = json.loads(json.dumps(draw(st.sampled_from(SEEDS)), default=str))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(_paths(doc))))
        target = _get(doc, where)
        edit = draw(st.sampled_from(["replace", "drop", "add", "repeat"]))
        if edit == "replace" and where:
            _get(doc, where[:-1])[where[-1]] = draw(VALUES)
        elif edit == "drop" and where:
            parent = _get(doc, where[:-1])
            del parent[where[-1]]
        elif edit == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(WORDS))] = draw(VALUES)
        elif edit == "add" and isinstance(target, list):
            target.append(draw(VALUES))
        elif edit == "repeat" and isinstance(target, list) and target:
            target.append(draw(st.sampled_from(target)))
    if draw(st.booleans()):  # YAML also gives dates, which are no JSON type
        doc[draw(st.sampled_from(WORDS))] = datetime.date(2026, 1, 2)
    return doc


def _accepted_by_generated_check(doc) -> bool:
    try:
        policy_schema_check.validate(doc)
    except policy_schema_check.JsonSchemaValueException:
        return False
    return True


def test_the_generated_check_is_from_the_current_schema():
    assert policy_schema_check.SCHEMA_SHA256 == policy_schema_codegen.schema_sha256(), (
        "schemas/policy.schema.json changed: run python -m aw_policy.lang.policy_schema_codegen")


def test_regenerating_gives_the_committed_module():
    fastjsonschema = pytest.importorskip("fastjsonschema")
    if policy_schema_check.GENERATOR != f"fastjsonschema {fastjsonschema.VERSION}":
        pytest.skip(f"module generated by {policy_schema_check.GENERATOR}, installed {fastjsonschema.VERSION}")
    assert policy_schema_codegen.TARGET.read_text(encoding="utf-8") == policy_schema_codegen.generate()


@pytest.mark.parametrize("doc", SEEDS, ids=range(len(SEEDS)))
def test_every_construct_is_accepted_by_both(doc):
    assert not list(AUTHORITY.iter_errors(doc))
    assert _accepted_by_generated_check(doc)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_same_verdict_as_jsonschema(doc):
    valid = not list(AUTHORITY.iter_errors(doc))
    assert _accepted_by_generated_check(doc) == valid


def test_the_edits_give_valid_and_invalid_documents():
    """Not vacuous: about a quarter of the edited documents are valid (measured: 473 of 2,000)."""
    assert find(documents(), lambda d: d not in SEEDS and not list(AUTHORITY.iter_errors(d)))
    assert find(documents(), lambda d: bool(list(AUTHORITY.iter_errors(d))))


def test_a_document_the_check_rejects_still_gets_jsonschemas_diagnostic():
    errors = yaml_loader.schema_errors({"fs": [{"allow": "raed", "paths": ["/x"]}]})
    assert errors and errors[0].validator in ("oneOf", "enum", "anyOf")


def test_a_stale_check_is_not_trusted(monkeypatch):
    monkeypatch.setattr(policy_schema_check, "SCHEMA_SHA256", "0" * 64)
    yaml_loader._fast_check.cache_clear()
    try:
        assert yaml_loader._fast_check() is None
        assert yaml_loader.schema_errors({"scope": "galaxy"})  # jsonschema still decides
    finally:
        yaml_loader._fast_check.cache_clear()
