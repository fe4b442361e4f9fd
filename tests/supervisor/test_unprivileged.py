"""Without root there are no fanotify permission events: file prompts stay deny, and stderr says so."""

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

READ = r"""
import errno, json, sys
try:
    print(json.dumps(open(sys.argv[1]).read()))
except OSError as e:
    print(json.dumps(errno.errorcode[e.errno]))
"""


def _why_not() -> str | None:
    from runtime_linux.sandboxing import unprivileged_userns

    if os.geteuid() != 0:
        return "needs root to become another user (setpriv)"
    return unprivileged_userns() if shutil.which("setpriv") else "setpriv is not installed"


@pytest.mark.no_root
@pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")
def test_file_prompts_are_denied_and_named_without_root(bundle_with):
    root = Path(tempfile.mkdtemp(prefix="awpolicy-sup-unpriv-"))  # not under pytest's root-only tmp tree
    try:
        home, ws, tmp = root / "home", root / "ws", root / "tmp"
        (home / "Documents").mkdir(parents=True)
        (home / "Documents" / "plan.txt").write_text("the plan\n")
        tmp.mkdir()
        ws.mkdir()
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        shutil.copytree(bundle_with(), root / "bundle")
        os.chmod(root, 0o755)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(name, NOBODY, NOBODY)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp),
               "AWPOLICY_PROMPT_SOCKET": str(tmp / "prompt.sock"), "AWPOLICY_AUDIT_LOG": str(tmp / "audit.jsonl")}
        result = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-m",
             "aw_policy", "run", "--best-effort", "--discard-branch", str(root / "bundle"), "--",
             "/usr/bin/python3", "-I", "-S", "-c", READ, str(home / "Documents" / "plan.txt")],
            cwd=ws, env=env, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == "EACCES"
        line = next(x for x in result.stderr.splitlines() if "file prompt rules are denied" in x)
        assert "need root" in line and "seccomp user notification" in line and "r150" in line
        assert not (tmp / "prompt.sock").exists()  # the prompter (for `prompt connect`) cleaned up
    finally:
        shutil.rmtree(root, ignore_errors=True)
