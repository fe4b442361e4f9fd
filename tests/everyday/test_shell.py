"""`awpolicy shell`: an interactive shell through a pseudo-terminal, sandboxed like `run`."""

from __future__ import annotations

import json

import pytest
from agent_helpers import needs_sandbox
from pty_helpers import PtySession, awpolicy_argv

pytestmark = needs_sandbox


@pytest.fixture
def shell(machine, repo):
    sessions = []

    def open_shell(*args: str) -> PtySession:
        s = PtySession(awpolicy_argv("shell", *args), cwd=repo, env=machine.env | {"TERM": "dumb"})
        sessions.append(s)
        return s

    yield open_shell
    for s in sessions:
        s.close()


def test_interactive_shell_is_sandboxed(machine, repo, shell):
    s = shell("--worktree", "box")
    inside = s.run("echo made > inside.txt && cat inside.txt && pwd")
    tree = repo / ".awpolicy/worktrees/box"
    assert "made" in inside and str(tree.resolve()) in inside and "[status 0]" in inside
    assert (tree / "inside.txt").read_text() == "made\n"  # the worktree, on the host

    secret = s.run(f"cat {machine.outside}/secret.txt")
    assert "top secret" not in secret and "Permission denied" in secret and "[status 1]" in secret
    home = s.run("echo x > $HOME/x")
    assert "[status 0]" not in home and not (machine.home / "x").exists()
    assert "[status 0]" not in s.run("echo x > /etc/awpolicy-shell-probe")
    s.send("exit 7")
    assert s.wait() == 7

    [record] = json.loads(machine.cli("sessions", "list", "--format", "json", cwd=repo).stdout)
    assert record["kind"] == "shell" and record["exit_status"] == 7 and record["name"] == "box"
    assert record["command"][0] == "/bin/bash" or record["command"][0].endswith("sh")


def test_shell_args_and_cmd(machine, repo):
    done = machine.cli("shell", "--", "-c", "echo $0; echo hi > here.txt", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("sh")  # the login shell ran the -c script
    assert (repo / "here.txt").read_text() == "hi\n"  # no --worktree: the repository itself
    done = machine.cli("shell", "--cmd", "/bin/sh", "--", "-c", "echo $0", cwd=repo)
    assert done.stdout.strip() == "/bin/sh", done.stderr
    missing = machine.cli("shell", "--cmd", "/no/such/shell", cwd=repo)
    assert missing.returncode == 2 and "--cmd /no/such/shell: not an executable file" in missing.stderr


def test_shell_takes_the_capability_flags(machine, repo):
    denied = machine.cli("shell", "--", "-c", f"cat {machine.outside}/secret.txt", cwd=repo)
    assert denied.returncode != 0 and "top secret" not in denied.stdout
    allowed = machine.cli("shell", "--allow-fs-read", str(machine.outside), "--",
                          "-c", f"cat {machine.outside}/secret.txt", cwd=repo)
    assert allowed.returncode == 0 and allowed.stdout == "top secret\n", allowed.stderr


def test_shell_with_a_bad_bundle_never_runs(machine, repo):
    result = machine.cli("shell", "--bundle", str(machine.outside), "--", "-c", "echo ran", cwd=repo)
    assert result.returncode == 2 and "ran" not in result.stdout
    assert "not a bundle" in result.stderr and "awpolicy compile" in result.stderr
