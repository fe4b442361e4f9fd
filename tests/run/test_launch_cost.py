"""What keeps `awpolicy run` fast: the modules a plain launch never imports, and the git query
that runs beside the bundle's verification (benchmarks/bench_launch.py measures the times)."""

from __future__ import annotations

import os
import subprocess
import time

from aw_runtime import launcher
from helpers import run_cli

#: Each costs a launch milliseconds to import: dataclasses (with inspect), typing, subprocess
#: (git is spawned directly), socket (only for prompt rules and the proxy), tempfile (only for a
#: temporary branch layer), and the compiler's front end.
NOT_ON_A_PLAIN_LAUNCH = ("dataclasses", "inspect", "typing", "subprocess", "socket", "tempfile", "threading",
                         "click", "aw_policy.cli", "aw_policy.lang")


def test_a_plain_launch_imports_none_of_the_slow_modules(machine, tmp_path):
    (tmp_path / "p.awp").write_text('scope project\ninclude "linux-base"\n'
                                    'fs {\n  allow read "${WORKSPACE}"\n  allow read,write "${TMPDIR}"\n}\n')
    compiled = run_cli("compile", str(tmp_path / "p.awp"), "-o", str(tmp_path / "bundle"))
    assert compiled.returncode == 0, compiled.stderr
    args = machine.run_args(tmp_path / "bundle", ["/bin/true"])
    result = subprocess.run([args[0], "-X", "importtime", *args[1:]], cwd=machine.ws, env=machine.env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert {"aw_runtime.launcher", "aw_runtime.linux.landlock", "aw_policy.ir"} <= names  # it saw the launch
    assert sorted(n for n in names if any(n == m or n.startswith(m + ".") for m in NOT_ON_A_PLAIN_LAUNCH)) == []


def fake_git(bin_dir, script: str) -> dict:
    """An environment whose PATH finds a `git` that runs ``script``."""
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\n" + script)
    (bin_dir / "git").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def no_children() -> bool:
    with open(f"/proc/self/task/{os.getpid()}/children") as fh:
        return fh.read().split() == []


def test_git_answers_through_the_query(tmp_path):
    answers = fake_git(tmp_path / "answers", "echo /top; echo /top/.git\n")
    assert launcher.git_paths(str(tmp_path), answers) == ("/top", "/top/.git")
    fails = fake_git(tmp_path / "fails", "echo fatal: not a git repository >&2; exit 128\n")
    assert launcher.git_paths(str(tmp_path), fails) == (None, None)
    assert launcher.git_paths(str(tmp_path), {"PATH": str(tmp_path / "nowhere")}) == (None, None)  # no git
    assert no_children()


def test_a_git_that_hangs_is_killed_at_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher.GitQuery, "TIMEOUT_S", 0.3)
    env = fake_git(tmp_path / "bin", "exec sleep 30\n")
    start = time.monotonic()
    assert launcher.git_paths(str(tmp_path), env) == (None, None)
    assert time.monotonic() - start < 5
    assert no_children()  # killed and reaped


def test_a_refused_launch_stops_the_git_it_started(tmp_path):
    env = fake_git(tmp_path / "bin", "exec sleep 30\n")
    req = launcher.RunRequest(bundle=str(tmp_path / "no-such-bundle"), argv=("/bin/true",))
    start = time.monotonic()
    with open(os.devnull, "w") as err:
        assert launcher.run_bundle(req, environ=env, cwd=str(tmp_path), err=err) == launcher.EXIT_REFUSED
    assert time.monotonic() - start < 5
    assert no_children()
