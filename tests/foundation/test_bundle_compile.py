"""Bundles: deterministic bytes, the committed golden bundle is current, the example means what it says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GOLDEN, GOLDEN_SOURCES, REPO, run_cli

from aw_policy import ir
from aw_policy.bundle import read_tree
from aw_policy.merge import compile_sources


def compile_golden(out: Path, cwd: Path):
    """Compile the example's sources found under cwd/src, as its README says."""
    sources = [f"src/{p.name}" for p in GOLDEN_SOURCES]
    result = run_cli("compile", *sources, "-o", os.path.relpath(out, cwd), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return read_tree(out)


def test_compile_twice_gives_identical_bytes(tmp_path):
    a = compile_golden(tmp_path / "a" / "bundle", cwd=GOLDEN)
    b = compile_golden(tmp_path / "a" / "bundle", cwd=GOLDEN)
    assert list((tmp_path / "a").iterdir()) == [tmp_path / "a" / "bundle"], "no temporary directory left behind"
    assert a == b and "manifest.json" in a and "policy.json" in a


def test_committed_golden_bundle_equals_a_fresh_compile(tmp_path):
    # Compile next to the committed one so relative source paths are the same.
    work = tmp_path / "agent-worktree"
    shutil.copytree(GOLDEN / "src", work / "src")
    fresh = compile_golden(work / "bundle", cwd=work)
    committed = read_tree(GOLDEN / "bundle")
    assert fresh.keys() == committed.keys()
    for name in fresh:
        assert fresh[name] == committed[name], f"{name} drifted: recompile golden/agent-worktree/bundle"


def test_manifest_lists_sources_and_artifacts_with_hashes():
    manifest = json.loads((GOLDEN / "bundle" / "manifest.json").read_text())
    assert manifest["format"] == "awpolicy.bundle/1"
    assert [(s["path"], s["scope"]) for s in manifest["sources"]] == [
        ("../src/org.awp", "org"), ("../src/project.awp", "project"), ("preset:linux-base", "project"),
        ("preset:macos-base", "project"), ("../src/user.awp.yaml", "user")]
    import hashlib

    for artifact in manifest["artifacts"]:
        data = (GOLDEN / "bundle" / artifact["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    assert set(manifest["params"]) >= {"WORKSPACE", "HOME", "TMPDIR", "GIT_COMMON_DIR"}


def test_bundle_ir_round_trips():
    data = json.loads((GOLDEN / "bundle" / "policy.json").read_text())
    policy = ir.Policy.from_json(data)
    assert policy.to_json() == data
    assert len(policy.rules) > 20


PARAMS = {"HOME": "/home/dev", "WORKSPACE": "/home/dev/src/app", "TMPDIR": "/tmp"}


@pytest.mark.parametrize("op,path,expected", [
    ("read", "/home/dev/.ssh/id_rsa", "deny"),
    ("write", "/home/dev/.ssh/authorized_keys", "deny"),
    ("read", "/home/dev/.aws/credentials", "deny"),
    ("read", "/home/dev/.gnupg/private-keys-v1.d/k", "deny"),
    ("write", "/home/dev/notes.txt", "deny"),
    ("write", "/etc/passwd", "deny"),
    ("write", "/usr/bin/python3", "deny"),
    ("write", "/home/dev/.bashrc", "deny"),
    ("read", "/home/dev/src/app/main.py", "allow"),
    ("write", "/home/dev/src/app/main.py", "allow"),
    ("write", "/home/dev/src/app/.env", "deny"),
    ("write", "/tmp/build.log", "allow"),
    ("exec", "/usr/bin/git", "allow"),
])
def test_golden_example_means_what_it_says(op, path, expected):
    policy = compile_sources(GOLDEN_SOURCES).policy
    assert ir.decide(policy, ir.normalize_request(op, path), PARAMS).effect == expected


@pytest.mark.skipif(os.environ.get("AWPOLICY_SKIP_WHEEL") == "1", reason="AWPOLICY_SKIP_WHEEL=1")
def test_wheel_installs_into_a_fresh_venv_and_runs_elsewhere(tmp_path):
    """grammar/, templates/, schemas/ and presets ship inside the wheel."""
    wheelhouse = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheelhouse), str(REPO)],
                           check=False, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel = next(wheelhouse.glob("awpolicy-*.whl"))
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)],
                             check=False, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(GOLDEN / "src", elsewhere / "src")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([str(venv / "bin" / "awpolicy"), "compile", "src/org.awp", "src/project.awp",
                          "src/user.awp.yaml", "-o", "bundle"], cwd=elsewhere, check=False, capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    where = subprocess.run([str(py), "-c", "import aw_policy; print(aw_policy.__file__)"], cwd=elsewhere,
                           check=False, capture_output=True, text=True, env=env)
    assert str(venv) in where.stdout, "the installed package, not the checkout, must be used"
    explain = subprocess.run([str(venv / "bin" / "awpolicy"), "explain", "--bundle", "bundle", "read", "~/.ssh/id_rsa"],
                             cwd=elsewhere, check=False, capture_output=True, text=True, env=env)
    assert explain.returncode == 0 and "DENY" in explain.stdout
    yaml_check = subprocess.run([str(venv / "bin" / "awpolicy"), "lint", "src/user.awp.yaml"], cwd=elsewhere,
                                check=False, capture_output=True, text=True, env=env)
    assert yaml_check.returncode == 0, yaml_check.stdout + yaml_check.stderr
