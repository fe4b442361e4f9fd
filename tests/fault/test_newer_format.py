"""A bundle written by a newer awpolicy is refused by `awpolicy run`, naming both versions.

tests/bundle/test_tamper.py covers verify_bundle and `awpolicy verify`; here the
same bundle goes to `awpolicy run`, and so does a bundle whose manifest is
current but whose Linux plan has a newer format (its hash updated, so
verification passes and the plan reader is the one that must refuse).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest


def _edit_manifest(bundle, change) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_bytes())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def bundle(golden_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(golden_bundle, copy)
    return copy


def _refused(machine, bundle, *names: str) -> str:
    result = machine.run(bundle, "/bin/echo", "ran", opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "ran" not in result.stdout  # the command never started
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in result.stderr, result.stderr
    return result.stderr


def test_run_refuses_a_newer_bundle_format_naming_both_versions(machine, bundle):
    _edit_manifest(bundle, lambda m: m.update(format="awpolicy.bundle/2"))
    err = _refused(machine, bundle, "AWP621", "awpolicy.bundle/2", "awpolicy.bundle/1", "manifest.json")
    assert "newer" in err and "upgrade" in err


def test_run_refuses_a_newer_linux_plan_format_naming_both_versions(machine, bundle):
    plan_path = bundle / "linux.json"
    plan = json.loads(plan_path.read_bytes())
    assert plan["format"] == "awpolicy.linux/1"
    plan["format"] = "awpolicy.linux/2"
    data = (json.dumps(plan, indent=2, sort_keys=True) + "\n").encode()
    plan_path.write_bytes(data)

    def rehash(manifest):
        for artifact in manifest["artifacts"]:
            if artifact["path"] == "linux.json":
                artifact["sha256"] = hashlib.sha256(data).hexdigest()

    _edit_manifest(bundle, rehash)
    _refused(machine, bundle, "awpolicy.linux/2", "awpolicy.linux/1", "linux.json")
