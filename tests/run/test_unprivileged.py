"""A subset of the end-to-end checks as an unprivileged user (uid 65534), through a user namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

NOBODY = 65534

PROBE = r"""
import errno, json, os, sys
args = json.loads(sys.argv[1])
out = {"uid": os.getuid()}
def attempt(name, fn):
    try:
        fn(); out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
def write(p):
    with open(p, "w") as f:
        f.write("x")
attempt("read_workspace", lambda: open("README").read())
attempt("read_ssh_key", lambda: open(args["id_rsa"]).read())
attempt("write_workspace", lambda: write("new.txt"))
attempt("write_home", lambda: write(args["home"] + "/planted"))
out["env"] = sorted(os.environ)
print(json.dumps(out))
"""


def _why_not() -> str | None:
    from runtime_linux.sandboxing import unprivileged_userns

    return unprivileged_userns()


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


@pytest.fixture
def nobody_machine(golden_bundle):
    # not under pytest's tmp tree: its directories are private to root
    root = Path(tempfile.mkdtemp(prefix="awpolicy-unpriv-"))
    try:
        home, ws, tmp = root / "home", root / "ws", root / "tmp"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "id_rsa").write_text("fake key\n")
        tmp.mkdir()
        ws.mkdir()
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        (ws / "README").write_text("readme\n")
        shutil.copytree(golden_bundle, root / "bundle")
        os.chmod(root, 0o755)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(name, NOBODY, NOBODY)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_enforcement_as_an_unprivileged_user(nobody_machine):
    root = nobody_machine
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "TMPDIR": str(root / "tmp"),
           "GITHUB_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret"}
    args = {"id_rsa": str(root / "home" / ".ssh" / "id_rsa"), "home": str(root / "home")}
    before = _listing(root)
    result = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-m", "aw_policy", "run", "--best-effort", "--discard-branch", str(root / "bundle"), "--",
         "/usr/bin/python3", "-I", "-S", "-c", PROBE, json.dumps(args)],
        cwd=root / "ws", env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["uid"] == NOBODY
    assert report["read_workspace"] == "ok" and report["write_workspace"] == "ok"
    assert report["read_ssh_key"] == "EACCES" and report["write_home"] == "EACCES"
    assert "GITHUB_TOKEN" not in report["env"] and "AWS_SECRET_ACCESS_KEY" not in report["env"]
    assert _listing(root) == before


def test_exit_status_and_refusal_as_an_unprivileged_user(nobody_machine):
    root = nobody_machine
    base = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-m",
            "aw_policy", "run"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "TMPDIR": str(root / "tmp")}
    ok = subprocess.run(base + ["--best-effort", "--discard-branch", str(root / "bundle"), "--", "/bin/sh", "-c",
                                "exit 9"], cwd=root / "ws", env=env, capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 9, ok.stderr
    refused = subprocess.run(base + [str(root / "bundle"), "--", "/bin/sh", "-c", "echo RAN"],
                             cwd=root / "ws", env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "RAN" not in refused.stdout
