"""`awpolicy attach`: re-open a recorded session with its bundle, params, flags and agent."""

from __future__ import annotations

import json

from agent_helpers import needs_sandbox
from helpers import run_cli
from pty_helpers import PtySession, awpolicy_argv

pytestmark = needs_sandbox

POLICY = ('scope project\ninclude "workspace"\ninclude "git-worktree"\nparam DATA = "/srv/awpolicy-none"\n'
          'fs { allow read,write "${DATA}" }\n')


def compile_policy(machine, text: str = POLICY):
    src = machine.root / "policy.awp"
    src.write_text(text)
    out = machine.root / "bundle"
    result = run_cli("compile", str(src), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def records(machine, repo):
    return json.loads(machine.cli("sessions", "list", "--format", "json", cwd=repo).stdout)


def test_attach_reapplies_bundle_params_and_flags(machine, repo):
    bundle = compile_policy(machine)
    data = machine.root / "data-a"
    data.mkdir()
    started = machine.cli("run", str(bundle), "--param", f"DATA={data}", "--worktree", "w",
                          "--allow-fs-read", str(machine.outside), "--", "sh", "-c", "echo one > $0/one", str(data),
                          cwd=repo)
    assert started.returncode == 0, started.stderr
    [first] = records(machine, repo)

    # From anywhere (no repository, no --param): DATA is the recorded one, writable by the bundle's rule;
    # the --allow-fs-read flag holds again; the command runs in the worktree.
    elsewhere = machine.root / "elsewhere"
    elsewhere.mkdir()
    again = machine.cli("attach", first["id"], "--", "sh", "-c",
                        f'echo two > {data}/two && cat {machine.outside}/secret.txt && pwd', cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert (data / "two").read_text() == "two\n"
    assert again.stdout.splitlines() == ["top secret", first["worktree"]]
    other = machine.root / "data-b"  # a path the recorded binding does not grant
    other.mkdir()
    denied = machine.cli("attach", "latest", "--", "sh", "-c", f"echo x > {other}/x", cwd=elsewhere)
    assert denied.returncode != 0 and not (other / "x").exists()

    first_again, second, third = records(machine, repo)
    assert first_again == first
    assert second["parent"] == first["id"] and second["kind"] == "run" and third["parent"] == second["id"]
    assert second["params"]["DATA"] == str(data) and second["bundle_sha256"] == first["bundle_sha256"]
    assert second["flags"] == first["flags"]


def test_attach_opens_a_shell_through_a_terminal(machine, repo):
    bundle = compile_policy(machine)
    data = machine.root / "data"
    data.mkdir()
    started = machine.cli("run", str(bundle), "--param", f"DATA={data}", "--worktree", "t", "--", "true", cwd=repo)
    assert started.returncode == 0, started.stderr
    s = PtySession(awpolicy_argv("attach", "t"), cwd=machine.root, env=machine.env | {"TERM": "dumb"})
    try:
        assert "[status 0]" in s.run(f"echo from-shell > {data}/f")
        assert "[status 0]" not in s.run(f"cat {machine.outside}/secret.txt")
        s.send("exit")
        assert s.wait() == 0
    finally:
        s.close()
    assert (data / "f").read_text() == "from-shell\n"
    assert records(machine, repo)[-1]["kind"] == "shell"


def test_attach_refuses_a_changed_bundle(machine, repo):
    bundle = compile_policy(machine)
    data = machine.root / "data"
    data.mkdir()
    assert machine.cli("run", str(bundle), "--param", f"DATA={data}", "--worktree", "z", "--", "true",
                       cwd=repo).returncode == 0
    [record] = records(machine, repo)
    compile_policy(machine, POLICY + 'fs { allow read "/srv" }\n')  # recompiled: another policy
    result = machine.cli("attach", "latest", "--", "sh", "-c", "echo ran", cwd=repo)
    assert result.returncode == 2 and "ran" not in result.stdout
    assert f"session {record['id']}" in result.stderr and "changed" in result.stderr
    manifest = bundle / "manifest.json"  # tampering without recompiling is refused the same way
    manifest.write_bytes(manifest.read_bytes() + b" ")
    assert machine.cli("attach", "z", "--", "true", cwd=repo).returncode == 2
    assert len(records(machine, repo)) == 1  # nothing ran, nothing recorded


def test_attach_errors(machine, repo, stub_agent):
    assert machine.cli("attach", "nothing", cwd=repo).returncode == 2
    stub_agent("codex")
    assert machine.cli("shell", "--agent", "codex", "--cmd", "codex", cwd=repo).returncode == 0
    wrong = machine.cli("attach", "latest", "--agent", "claude", cwd=repo)
    assert wrong.returncode == 2 and "runs agent codex" in wrong.stderr
    runs = machine.cli("attach", "latest", "--agent", "codex", "--", "hello", cwd=repo)
    assert runs.returncode == 0 and "ARGV=hello" in runs.stdout, runs.stderr
    plain = machine.cli("attach", "latest", "--", "sh", "-c", 'echo "$CODEX_HOME"', cwd=repo)
    assert plain.stdout.strip() == f"{machine.home}/.codex", plain.stderr  # the agent's setup, another command
    assert machine.cli("clean", "--worktree", "ai-codex", cwd=repo).returncode == 0
    gone = machine.cli("attach", "ai-codex", cwd=repo)
    assert gone.returncode == 2  # its records went with the worktree
