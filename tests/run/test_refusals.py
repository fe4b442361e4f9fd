"""Fail closed: a bundle that is missing, tampered with, of the wrong format or not enforceable
never runs the command (exit 2, a message saying what and how to fix it)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

RAN = "COMMAND-RAN"
CMD = ("/bin/sh", "-c", f"echo {RAN}")


def _refused(result, code: str):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert RAN not in result.stdout
    assert f"error[{code}]" in result.stderr, result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def bundle(tmp_path, golden_bundle):
    copy = tmp_path / "bundle"
    shutil.copytree(golden_bundle, copy)
    return copy


def test_control_the_pristine_copy_runs(machine, bundle):
    result = machine.run(bundle, *CMD, opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0 and RAN in result.stdout, result.stderr


def test_missing_bundle(machine, tmp_path):
    _refused(machine.run(tmp_path / "nowhere", *CMD), "AWP620")


def test_bundle_without_manifest(machine, bundle):
    (bundle / "manifest.json").unlink()
    _refused(machine.run(bundle, *CMD), "AWP620")


@pytest.mark.parametrize("artifact", ["linux.json", "policy.json", "manifest.json"])
def test_tampered_artifact(machine, bundle, artifact):
    path = bundle / artifact
    data = json.loads(path.read_text())
    if artifact == "linux.json":
        data["fs"].append({"access": ["read", "write"], "kind": "subtree", "path": "/", "rules": ["r1"]})
        code = "AWP625"
    elif artifact == "policy.json":
        data["rules"] = [r for r in data["rules"] if r["effect"] != "deny"]
        code = "AWP625"
    else:
        data["artifacts"] = [a for a in data["artifacts"] if a["path"] != "linux.json"]
        code = "AWP626"  # linux.json is no longer listed: an extra file
    path.write_text(json.dumps(data))
    _refused(machine.run(bundle, *CMD), code)


def test_wrong_format(machine, bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["format"] = "awpolicy.bundle/99"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    _refused(machine.run(bundle, *CMD), "AWP621")


def test_linux_plan_swapped_for_a_symlink(machine, bundle, tmp_path):
    outside = tmp_path / "linux.json"
    shutil.copy(bundle / "linux.json", outside)
    (bundle / "linux.json").unlink()
    os.symlink(outside, bundle / "linux.json")
    _refused(machine.run(bundle, *CMD), "AWP627")


def test_missing_linux_plan_in_a_consistent_bundle(machine, bundle):
    # a bundle whose manifest does not list linux.json at all (e.g. built without the Linux backend)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["path"] != "linux.json"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "linux.json").unlink()
    _refused(machine.run(bundle, *CMD), "AWP631")


def test_signature_by_another_key(machine, tmp_path):
    from helpers import GOLDEN_SOURCES, run_cli

    from aw_policy.bundle import write_keypair

    write_keypair(tmp_path / "a.key", tmp_path / "a.pub")
    write_keypair(tmp_path / "b.key", tmp_path / "b.pub")
    signed = tmp_path / "signed"
    result = run_cli("compile", *map(str, GOLDEN_SOURCES), "-o", str(signed), "--sign", str(tmp_path / "a.key"))
    assert result.returncode == 0, result.stderr
    ok = machine.run(signed, *CMD, opts=("--best-effort", "--discard-branch", "--key", str(tmp_path / "a.pub")))
    assert ok.returncode == 0 and RAN in ok.stdout, ok.stderr
    _refused(machine.run(signed, *CMD, opts=("--best-effort", "--key", str(tmp_path / "b.pub"))), "AWP629")


def test_unenforceable_rule_refuses_and_names_it(machine, golden_bundle):
    result = machine.run(golden_bundle, *CMD, opts=())
    _refused(result, "AWP632")
    plan = json.loads((golden_bundle / "linux.json").read_text())
    assert plan["unenforced"], "the golden policy is expected to hold a rule Linux cannot enforce exactly"
    for item in plan["unenforced"]:
        line = next(l for l in result.stderr.splitlines() if f"rule {item['rule']} " in l)
        assert item["origin"] in line and item["reason"] in line


def test_best_effort_names_the_rule_before_running(machine, golden_bundle):
    result = machine.run(golden_bundle, *CMD, opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0 and RAN in result.stdout
    plan = json.loads((golden_bundle / "linux.json").read_text())
    for item in plan["unenforced"]:
        assert any(f"rule {item['rule']} " in l and "not enforced" in l and item["origin"] in l
                   for l in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("opts", [("--param", "NOEQUALS"), ("--param", "1X=y")])
def test_bad_param_syntax(machine, golden_bundle, opts):
    result = machine.run(golden_bundle, *CMD, opts=opts)
    assert result.returncode == 2 and RAN not in result.stdout
    assert "NAME=VALUE" in result.stderr


def test_no_command(machine, golden_bundle):
    result = machine.run(golden_bundle)
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("content", [b"[]\n", b"not json\n", b'{"format": "awpolicy.linux/99"}\n',
                                     b'{"format": "awpolicy.linux/1"}\n'])
def test_consistently_hashed_but_unusable_linux_plan(machine, bundle, content):
    # what a broken compiler could write: the hashes match, the plan does not make sense
    import hashlib

    (bundle / "linux.json").write_bytes(content)
    manifest = json.loads((bundle / "manifest.json").read_text())
    for artifact in manifest["artifacts"]:
        if artifact["path"] == "linux.json":
            artifact["sha256"] = hashlib.sha256(content).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = machine.run(bundle, *CMD, opts=("--best-effort", "--param", "HOME=/home/agent", "--param",
                                             "WORKSPACE=/home/agent/workspace", "--param", "TMPDIR=/tmp"))
    _refused(result, "AWP631")
