"""`awpolicy clean` and teardown: no worktree, record, mount, process or temporary file left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from agent_helpers import git, needs_sandbox
from helpers import run_cli

pytestmark = needs_sandbox

#: A copy-on-write branch (overlay scratch in TMPDIR) and a host allow-list (the domain proxy's socket dir).
POLICY = ('scope project\ninclude "workspace"\ninclude "git-worktree"\n'
          'net { allow connect "example.invalid:443" }\n'
          'branch "b" {\n  base "${WORKSPACE}"\n  cow\n  on-exit discard\n}\n')


@pytest.fixture
def short_tmp(machine):
    """A TMPDIR short enough that the launcher puts the proxy's socket directory in it too
    (a unix socket path has 108 bytes; pytest's own directories are longer)."""
    path = Path(tempfile.mkdtemp(prefix="awt-", dir="/tmp"))
    machine.env["TMPDIR"] = str(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def compile_policy(machine):
    (machine.root / "p.awp").write_text(POLICY)
    result = run_cli("compile", str(machine.root / "p.awp"), "-o", str(machine.root / "bundle"),
                     env={"TMPDIR": "/tmp"})  # the parser's cache is not the session's
    assert result.returncode == 0, result.stderr
    return machine.root / "bundle"


def mounts() -> set[str]:
    with open("/proc/self/mountinfo") as fh:
        return {" ".join(line.split()[3:5]) for line in fh}  # root and mount point


def processes_with(seconds: str) -> list[int]:
    """Pids of running `sleep SECONDS` processes (a duration no other test uses)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read().split(b"\0")[:2] == [b"sleep", seconds.encode()]:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_run_and_shell_leave_no_mounts_processes_or_temporary_files(machine, repo, short_tmp):
    bundle = compile_policy(machine)
    before = mounts()
    for command in ("run", "shell"):
        prefix = [command, str(bundle)] if command == "run" else [command, "--bundle", str(bundle)]
        script = "sleep 313.25 & ls -a $TMPDIR; echo scratch > in-branch"
        argv = ["sh", "-c", script] if command == "run" else ["-c", script]
        done = machine.cli(*prefix, "--worktree", "res", "--", *argv, cwd=repo)
        assert done.returncode == 0, done.stderr
        during = done.stdout.split()  # the scratch existed while the session ran
        assert any(n.startswith("awpolicy-branch-") for n in during), during
        assert any(n.startswith("awpolicy-proxy-") for n in during), during
        assert not (repo / ".awpolicy/worktrees/res/in-branch").exists()  # the discarded branch
        assert processes_with("313.25") == []  # the background sleep died with the session
        assert mounts() == before
        assert sorted(os.listdir(short_tmp)) == []  # no branch layers, no proxy socket dir


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def test_killed_session_scratch_is_cleaned(machine, repo, short_tmp):
    """SIGKILL the launcher and its session keeper together: the sandbox still dies, its temporary
    directories stay behind (nobody is left to remove them), and `clean` removes them."""
    bundle = compile_policy(machine)
    proc = subprocess.Popen([sys.executable, "-m", "aw_policy", "run", str(bundle), "--", "sleep", "271.5"],
                            cwd=repo, env=os.environ | machine.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not processes_with("271.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with("271.5"), "the sandboxed sleep never started"
    keepers = children_of(proc.pid)
    for pid in keepers:  # stopped first, so it cannot tidy up when the launcher dies
        os.kill(pid, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGKILL)
    for pid in keepers:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while processes_with("271.5") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with("271.5") == []
    left = sorted(os.listdir(short_tmp))
    assert any(n.startswith("awpolicy-branch-") for n in left), left
    assert any(n.startswith("awpolicy-proxy-") for n in left), left
    done = machine.cli("clean", "--all", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "leftover temporary" in done.stdout
    assert os.listdir(short_tmp) == []


def test_clean_refuses_a_dirty_worktree_unless_forced(machine, repo):
    for name in ("dirty", "tidy"):
        done = machine.cli("shell", "--worktree", name, "--", "-c", "true", cwd=repo)
        assert done.returncode == 0, done.stderr
    (repo / ".awpolicy/worktrees/dirty/work.txt").write_text("unsaved\n")

    refused = machine.cli("clean", "--worktree", "dirty", cwd=repo)
    assert refused.returncode == 1 and "uncommitted" in refused.stderr and "work.txt" in refused.stderr
    assert (repo / ".awpolicy/worktrees/dirty/work.txt").exists()

    tidy = machine.cli("clean", "--worktree", "tidy", cwd=repo)
    assert tidy.returncode == 0, tidy.stderr
    assert not (repo / ".awpolicy/worktrees/tidy").exists()
    names = [r["name"] for r in json.loads(machine.cli("sessions", "list", "--format", "json", cwd=repo).stdout)]
    assert names == ["dirty"]

    forced = machine.cli("clean", "--all", "--force", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert not (repo / ".awpolicy/worktrees/dirty").exists()
    assert machine.cli("sessions", "list", "--format", "json", cwd=repo).stdout.strip() == "[]"
    assert git("worktree", "list", "--porcelain", cwd=repo).count("worktree ") == 1  # only the main tree
    assert "awpolicy/dirty" in git("branch", "--list", "awpolicy/dirty", cwd=repo)  # its commits stay reachable


def test_clean_a_worktree_without_a_record_and_usage_errors(machine, repo):
    git("worktree", "add", "-q", "-b", "awpolicy/manual", ".awpolicy/worktrees/manual", cwd=repo)
    done = machine.cli("clean", "--worktree", "manual", cwd=repo)
    assert done.returncode == 0 and "removed" in done.stdout, done.stderr
    assert not (repo / ".awpolicy/worktrees/manual").exists()
    assert machine.cli("clean", cwd=repo).returncode == 2
    assert machine.cli("clean", "--all", "--worktree", "x", cwd=repo).returncode == 2
    missing = machine.cli("clean", "--worktree", "nope", cwd=repo)
    assert missing.returncode == 2 and "no worktree nope" in missing.stderr
    assert machine.cli("clean", "--worktree", "../x", cwd=repo).returncode == 2
    nowhere = machine.cli("clean", "--worktree", "x", cwd=machine.outside)
    assert nowhere.returncode == 2 and "not inside a git repository" in nowhere.stderr
