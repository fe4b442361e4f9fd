"""Every file of a freshly compiled golden bundle validates against its JSON Schema.

The manifest validates against ``bundle-manifest.schema.json``; each artifact of
kind K against ``K.schema.json``. The artifact list comes from the manifest, so a
new backend is covered as soon as it is in ``BACKEND_MODULES``, and fails here as
soon as its schema exists and disagrees with its output.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from integrity_helpers import compile_golden, golden_artifacts

from aw_policy.resources import resource_path

MANIFEST_SCHEMA = "bundle-manifest.schema.json"


def schema_file(kind: str):
    return resource_path("schemas", f"{kind}.schema.json")


def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden") / "bundle"
    compile_golden(out)
    return out


#: Artifacts that are not JSON, and the check that stands in for a schema.
TEXT_KINDS = ("sbpl", "sbpl-supervised")


@pytest.mark.parametrize("artifact", golden_artifacts(), ids=lambda a: f"{a['kind']}:{a['path']}")
def test_artifact_validates_against_the_schema_of_its_kind(golden, artifact):
    path, kind = golden / artifact["path"], artifact["kind"]
    if kind in TEXT_KINDS:  # a Seatbelt profile: it must parse back and lint clean
        from aw_policy.sbpl.lint import lint_sbpl

        assert lint_sbpl(path.read_text(encoding="utf-8"), path.name) == []
        return
    assert schema_file(kind).is_file(), f"every JSON artifact needs a schema: add schemas/{kind}.schema.json"
    assert path.suffix == ".json", f"kind {kind} has a JSON Schema but {path.name} is not a .json file"
    errors = sorted(validator(schema_file(kind).name).iter_errors(json.loads(path.read_bytes())), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_real_manifests_validate(golden, tmp_path):
    """Unsigned golden, signed golden, and a bundle compiled with --param values."""
    from aw_policy.bundle import load_signing_key, write_keypair

    check = validator(MANIFEST_SCHEMA)
    check.validate(json.loads((golden / "manifest.json").read_bytes()))
    write_keypair(tmp_path / "k", tmp_path / "k.pub")
    signed = tmp_path / "signed"
    compile_golden(signed, params={"HOME": "/Users/dev", "WORKSPACE": "/Users/dev/src/app"},
                   signing_key=load_signing_key(tmp_path / "k"))
    manifest = json.loads((signed / "manifest.json").read_bytes())
    check.validate(manifest)
    assert manifest["params"]["HOME"] == "/Users/dev"


def _set(path, value):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key]
        m[last] = value
    return change


def _delete(path):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key]
        del m[last]
    return change


BROKEN = {
    "newer format": _set(["format"], "awpolicy.bundle/2"),
    "no format": _delete(["format"]),
    "no artifacts": _delete(["artifacts"]),
    "empty artifacts": _set(["artifacts"], []),
    "artifact path escapes": _set(["artifacts", 0, "path"], "../policy.json"),
    "absolute artifact path": _set(["artifacts", 0, "path"], "/etc/passwd"),
    "artifact path with empty component": _set(["artifacts", 0, "path"], "a//b.json"),
    "artifact named manifest.json": _set(["artifacts", 0, "path"], "manifest.json"),
    "uppercase sha256": _set(["artifacts", 0, "sha256"], "A" * 64),
    "short sha256": _set(["artifacts", 0, "sha256"], "0" * 63),
    "artifact without kind": _delete(["artifacts", 0, "kind"]),
    "artifact with extra key": _set(["artifacts", 0, "mode"], "0755"),
    "param value not a string": _set(["params", "HOME"], 1),
    "param name not an identifier": _set(["params", "1X"], "x"),
    "unknown target": _set(["targets"], ["windows"]),
    "absolute source path": _set(["sources", 0, "path"], "/home/ci/policy.awp"),
    "unknown scope": _set(["sources", 0, "scope"], "team"),
    "timestamp added": _set(["built_at"], "2026-01-01T00:00:00Z"),
    "compiler is a string": _set(["compiler"], "awpolicy 0.1.0"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_manifests_are_rejected(golden, name):
    manifest = json.loads((golden / "manifest.json").read_bytes())
    broken = copy.deepcopy(manifest)
    BROKEN[name](broken)
    assert broken != manifest
    assert list(validator(MANIFEST_SCHEMA).iter_errors(broken)), f"schema accepts a manifest with {name}"


def test_every_manifest_the_runtime_refuses_the_schema_rejects_too(golden, tmp_path):
    """The schema is at least as strict as the runtime's own shape check (which is stdlib only)."""
    from aw_runtime.verify import BundleError, verify_bundle

    check = validator(MANIFEST_SCHEMA)
    refused = []
    for name in sorted(BROKEN):
        case = tmp_path / name.replace(" ", "-")
        case.mkdir()
        manifest = json.loads((golden / "manifest.json").read_bytes())
        BROKEN[name](manifest)
        (case / "manifest.json").write_text(json.dumps(manifest))
        for artifact in golden_artifacts():
            (case / artifact["path"]).write_bytes((golden / artifact["path"]).read_bytes())
        try:
            verify_bundle(case)
        except BundleError:
            refused.append(name)
            assert list(check.iter_errors(manifest)), name
    assert {"newer format", "artifact path escapes", "param value not a string"} <= set(refused)


IR_BREAKAGES = {
    "newer format": lambda d: d.update(format="awpolicy.ir/2"),
    "unknown effect": lambda d: d["rules"][0].update(effect="maybe"),
    "rule without origin": lambda d: d["rules"][0].pop("origin"),
    "unknown top-level key": lambda d: d.update(extra=1),
    "env value not a string": lambda d: d["env"]["set"].update(HOME=1),
}
NOTES_BREAKAGES = {
    "newer format": lambda d: d.update(format="awpolicy.sbpl-notes/2"),
    "missing profile": lambda d: d.pop("profile.sb"),
    "params not a list": lambda d: d["profile.sb"].update(params="HOME"),
}


@pytest.mark.parametrize(("artifact", "kind", "name", "breakage"),
                         [("policy.json", "ir", n, f) for n, f in IR_BREAKAGES.items()]
                         + [("sbpl-notes.json", "sbpl-notes", n, f) for n, f in NOTES_BREAKAGES.items()])
def test_schemas_reject_broken_ir_and_notes(golden, artifact, kind, name, breakage):
    doc = json.loads((golden / artifact).read_bytes())
    breakage(doc)
    assert list(validator(f"{kind}.schema.json").iter_errors(doc)), f"{kind} schema accepts: {name}"
