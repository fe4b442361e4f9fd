"""es-rules, fskit-branch and es-events schemas: they accept what awpolicy writes and reject broken copies."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import jsonschema
import pytest
from aw_runtime.engine import EventError, parse_event
from helpers import GOLDEN_SOURCES, REPO, policy_from_texts

from aw_policy.resources import resource_path

SCHEMAS = ("es-rules.schema.json", "fskit-branch.schema.json", "es-events.schema.json")
BRANCHES = """
branch "base" { base "${WORKSPACE}"; cow; hide "${WORKSPACE}/.env"; on-exit discard }
branch "agent" { base "${WORKSPACE}"; parent "base"; readonly "${WORKSPACE}/ro"; on-exit snapshot }
fs { allow read "/tmp" }
"""


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_key_is_described(name):
    schema = json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))
    missing = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if not isinstance(sub, dict) or "description" not in sub:
                    missing.append(f"{where}/properties/{key}")
            for key, sub in node.items():
                if key != "if":  # conditions name keys described elsewhere
                    walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}/{i}")

    walk(schema, "#")
    assert "description" in schema and not missing, missing


def test_golden_bundle_artifacts_validate(golden_bundle):
    for artifact, schema in (("es-rules.json", "es-rules.schema.json"), ("fskit-branch.json", "fskit-branch.schema.json")):
        data = json.loads((golden_bundle / artifact).read_text())
        errors = [e.message for e in validator(schema).iter_errors(data)]
        assert errors == [], (artifact, errors[:3])
    manifest = json.loads((golden_bundle / "manifest.json").read_text())
    kinds = {a["path"]: a["kind"] for a in manifest["artifacts"]}
    assert kinds["es-rules.json"] == "es-rules" and kinds["fskit-branch.json"] == "fskit-branch"


def test_artifacts_of_other_policies_validate(es_table):
    from aw_policy.backends import fskit

    policy = policy_from_texts(("org", "fs { default prompt }\nsignal { deny any }"),
                               ("project", BRANCHES + 'net { allow connect "localhost:*" }'),
                               ("user", 'fs { prompt write literal "~/.gitconfig"; audit allow read glob "/opt/**/*.so" }'))
    assert validator("es-rules.schema.json").is_valid(es_table(policy))
    (artifact,) = fskit.render(policy, {})
    manifest = json.loads(artifact.data)
    assert list(validator("fskit-branch.schema.json").iter_errors(manifest)) == []
    assert [b["id"] for b in manifest["branches"]] == ["base", "agent"]  # parents first
    assert manifest["branches"][1]["entries"][-1] == {"path": "${WORKSPACE}/ro", "mode": "read-only"}
    empty = json.loads(fskit.render(policy_from_texts(("project", "")), {})[0].data)
    assert validator("fskit-branch.schema.json").is_valid(empty) and empty["volume"] is None


def _broken_es(table: dict) -> dict[str, dict]:
    out = {}

    def case(name, edit):
        broken = copy.deepcopy(table)
        edit(broken)
        out[name] = broken

    case("wrong format", lambda t: t.update(format="awpolicy.es/2"))
    case("missing defaults", lambda t: t.pop("defaults"))
    case("prompt may not fail open", lambda t: t["defaults"].update(non_interactive="allow"))
    case("deadline answer allow", lambda t: t["defaults"].update(on_deadline="allow"))
    case("unknown decision", lambda t: t["files"][0].update(decision="maybe"))
    case("unknown path match", lambda t: t["files"][0]["path"].update(match="suffix"))
    case("extra key in a rule", lambda t: t["files"][0].update(colour="red"))
    case("missing origin", lambda t: t["exec"][0].pop("origin"))
    case("event is not AUTH", lambda t: t["files"][0].update(events=["ES_EVENT_TYPE_NOTIFY_OPEN"]))
    case("ES gating connects", lambda t: t["network"].update(endpoint_security_gates_connect=True))
    case("bad enforcer", lambda t: t["network"].update(enforcer="iptables"))
    case("bad signal target", lambda t: t["signal"][0].update(target="everyone"))
    case("negative ttl", lambda t: t["approvals"]["ttl_seconds"].update(user=-1))
    case("bad fingerprint", lambda t: t["files"][0].update(fingerprint="xyz"))
    case("bad cache scope", lambda t: next(e for e in t["files"] if e["prompt"])["prompt"].update(cache_scope="world"))
    return out


def test_es_schema_rejects_broken_tables(golden_bundle):
    table = json.loads((golden_bundle / "es-rules.json").read_text())
    v = validator("es-rules.schema.json")
    for name, broken in _broken_es(table).items():
        assert not v.is_valid(broken), name


def test_fskit_schema_rejects_broken_manifests(golden_bundle):
    manifest = json.loads((golden_bundle / "fskit-branch.json").read_text())
    v = validator("fskit-branch.schema.json")
    edits = {
        "wrong format": lambda m: m.update(format="awpolicy.fskit/0"),
        "unknown mode": lambda m: m["branches"][0]["entries"][0].update(mode="writable"),
        "relative path": lambda m: m["branches"][0].update(upper="relative/upper"),
        "bad on_exit": lambda m: m["branches"][0].update(on_exit="explode"),
        "binding to another process": lambda m: m["branches"][0]["bindings"].append({"process": "1", "inherit": True}),
        "missing branches": lambda m: m.pop("branches"),
        "bad snapshot id": lambda m: m["base_snapshots"][0].update(id="snap"),
    }
    for name, edit in edits.items():
        broken = copy.deepcopy(manifest)
        edit(broken)
        assert not v.is_valid(broken), name


def _event_lines(fixtures_dir):
    lines = fixtures_dir.joinpath("events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("#")]


BAD_EVENTS = [
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "path": "/x"},  # no time
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "colour": 1},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": "soon", "path": "/x"},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "flags": "FREAD"},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "deadline": 0},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "process": {"pid": -1}, "path": "/x"},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "process": {"uid": 0}, "path": "/x"},
    {"time": 1, "path": "/x"},
]
NOT_JSON_SCHEMA_VALUES = [  # JSON Schema has no NaN or infinity; the reader refuses them too
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": float("nan"), "path": "/x"},
    {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "deadline": float("inf")},
]


def test_events_schema_accepts_the_recording_and_rejects_broken_events(fixtures_dir):
    v = validator("es-events.schema.json")
    events = _event_lines(fixtures_dir)
    assert len(events) > 20
    for event in events:
        assert list(v.iter_errors(event)) == [], event
        parse_event(event)  # the engine's own (stdlib) reader agrees
    missing_fields = [
        {"event": "ES_EVENT_TYPE_AUTH_SIGNAL", "time": 1},
        {"event": "NET_CONNECT", "time": 1},
        {"event": "ES_EVENT_TYPE_AUTH_RENAME", "time": 1, "path": "/a"},
        {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1},
        {"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "relative"},
    ]
    for event in BAD_EVENTS + missing_fields:
        assert not v.is_valid(event), event
    for event in BAD_EVENTS + NOT_JSON_SCHEMA_VALUES:  # field-level problems: the engine's reader refuses them too
        with pytest.raises(EventError):
            parse_event(event)


def test_artifacts_are_byte_identical_across_hash_seeds(tmp_path):
    """No set or dict order leaks into es-rules.json or fskit-branch.json."""
    code = ("import sys, hashlib; from aw_policy.merge import compile_sources; from aw_policy.bundle import build; "
            "files = build(compile_sources(sys.argv[1:]).policy, {}); "
            "print(hashlib.sha256(files['es-rules.json'] + files['fskit-branch.json']).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code, *map(str, GOLDEN_SOURCES)], cwd=REPO, capture_output=True,
                       text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
