"""The pre-commit hooks of this repository, used for real by a temporary git repository.

pre-commit reads hooks from a git commit, so the working tree (with uncommitted
work) is copied into a snapshot repository and committed there first. The hook
environment is built by pre-commit itself (pip from the configured index, about
a minute here); the test skips, with the reason, when that cannot be done
offline. Snapshot and pre-commit's store live in a cache folder keyed by the
tree's content, so a re-run of an unchanged tree reuses the environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import REPO

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
IGNORED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", "build", "dist")
RISKY = 'scope project\nfs { allow read,write "~" }\n'
FIXED = 'scope project\nfs { allow read,write "${WORKSPACE}" }\nfs { deny write "${WORKSPACE}/.git/hooks" }\n'


CACHE = Path(tempfile.gettempdir()) / "awpolicy-test-pre-commit"
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
               GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")


def git(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env or GIT_ENV, capture_output=True, text=True, timeout=600, check=False)


def tree_digest() -> str:
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not IGNORED(root, [d]))
        for name in sorted(set(names) - IGNORED(root, names)):
            path = Path(root, name)
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def hooks_repo() -> tuple[Path, str]:
    if not PRE_COMMIT.exists():
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    repo = CACHE / f"awpolicy-{tree_digest()}"
    if not (repo / ".git").is_dir():
        if CACHE.is_dir():  # an older snapshot and its hook environments
            shutil.rmtree(CACHE)
        shutil.copytree(REPO, repo, ignore=IGNORED)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        assert git(repo, "commit", "-q", "-m", "snapshot").returncode == 0
    return repo, git(repo, "rev-parse", "HEAD").stdout.strip()


def test_hooks_reject_a_risky_policy_and_accept_the_fixed_one(hooks_repo, tmp_path):
    repo, rev = hooks_repo
    project = tmp_path / "project"
    (project / "policy").mkdir(parents=True)
    git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n"
        "      - id: awpolicy-lint\n      - id: awpolicy-check-golden\n", encoding="utf-8")
    env = dict(GIT_ENV, PRE_COMMIT_HOME=str(CACHE / "store"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run([str(PRE_COMMIT), "install-hooks"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=900, check=False)
    if install.returncode != 0:
        pytest.skip(f"pre-commit could not build the hook environment offline: {install.stdout[-400:]}")
    assert subprocess.run([str(PRE_COMMIT), "install"], cwd=project, env=env, capture_output=True, check=False).returncode == 0

    policy = project / "policy" / "project.awp"
    policy.write_text(RISKY, encoding="utf-8")
    git(project, "add", "-A")
    rejected = git(project, "commit", "-q", "-m", "risky", env=env)
    output = rejected.stdout + rejected.stderr
    assert rejected.returncode != 0, output
    assert "awpolicy lint" in output and "Failed" in output
    assert "error[AWP201]" in output and "error[AWP202]" in output
    assert git(project, "rev-parse", "--verify", "HEAD").returncode != 0  # nothing was committed

    policy.write_text(FIXED, encoding="utf-8")
    git(project, "add", "-A")
    accepted = git(project, "commit", "-q", "-m", "fixed", env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert git(project, "log", "--oneline").stdout.count("\n") == 1

    # A golden example: current bundle accepted, a hand-edited (stale) one rejected with a diff.
    golden = project / "golden" / "example"
    (golden / "src").mkdir(parents=True)
    (golden / "src" / "project.awp").write_text(FIXED, encoding="utf-8")
    compiled = subprocess.run([sys.executable, "-m", "aw_policy", "compile", "src/project.awp", "-o", "bundle"],
                              cwd=golden, capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stderr
    git(project, "add", "-A")
    current = git(project, "commit", "-q", "-m", "golden", env=env)
    assert current.returncode == 0, current.stdout + current.stderr
    policy_json = golden / "bundle" / "policy.json"
    policy_json.write_text(policy_json.read_text(encoding="utf-8").replace('"allow"', '"deny"', 1), encoding="utf-8")
    git(project, "add", "-A")
    stale = git(project, "commit", "-q", "-m", "hand-edited bundle", env=env)
    output = stale.stdout + stale.stderr
    assert stale.returncode != 0 and "error[AWP401]" in output and '+    {"audit": false' in output, output
