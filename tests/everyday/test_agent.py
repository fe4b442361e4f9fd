"""`--agent NAME` / `--cmd PATH` on run, shell and attach, with stub agents on PATH."""

from __future__ import annotations

import json

import pytest
from agent_helpers import needs_sandbox

from aw_policy import agents

pytestmark = needs_sandbox


def lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_agent_codex_runs_the_stub_in_its_worktree(machine, repo, stub_agent):
    stub_agent("codex")
    done = machine.cli("shell", "--agent", "codex", "--cmd", "codex", "--", "--model", "x y", cwd=repo)
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout)
    assert out["CODEX_HOME"] == f"{machine.home}/.codex"  # the real config home, which agent-codex grants
    assert out["ARGV"] == "--model x y"  # the words after -- are the agent's arguments
    tree = (repo / ".awpolicy/worktrees/ai-codex").resolve()
    assert out["CWD"] == str(tree)  # the default worktree ai-<agent>

    bundle = json.loads(machine.cli("sessions", "show", "ai-codex", cwd=repo).stdout)
    assert bundle["agent"] == "codex" and bundle["kind"] == "shell" and bundle["cmd"] == "codex"


def test_run_with_agent_and_no_command_runs_the_agent(machine, repo, stub_agent, tmp_path):
    stub_agent("codex")
    from helpers import run_cli

    b = tmp_path / "b"
    (tmp_path / "p.awp").write_text('scope project\ninclude "workspace"\ninclude "git-worktree"\n')
    assert run_cli("compile", str(tmp_path / "p.awp"), "-o", str(b)).returncode == 0
    done = machine.cli("run", str(b), "--agent", "codex", cwd=repo)
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout)
    assert out["ARGV"] == "" and out["CODEX_HOME"] == f"{machine.home}/.codex"
    assert out["CWD"].endswith("/.awpolicy/worktrees/ai-codex")
    records = json.loads(machine.cli("sessions", "list", "--format", "json", cwd=repo).stdout)
    assert [(r["kind"], r["agent"], r["command"][0]) for r in records] == [
        ("run", "codex", str(machine.bin / "codex"))]


def test_claude_gets_its_config_dir_and_an_explicit_worktree(machine, repo, stub_agent):
    stub_agent("claude")
    done = machine.cli("shell", "--agent", "claude", "--cmd", "claude", "--worktree", "mine", cwd=repo)
    out = lines(done.stdout)
    assert done.returncode == 0, done.stderr
    assert out["CLAUDE_CONFIG_DIR"] == f"{machine.home}/.claude" and out["CODEX_HOME"] == "unset"
    assert out["CWD"] == str((repo / ".awpolicy/worktrees/mine").resolve())


def test_agent_outside_a_repository_works_in_place(machine, stub_agent):
    stub_agent("codex")
    work = machine.root / "plain"
    work.mkdir()
    done = machine.cli("shell", "--agent", "codex", "--cmd", "codex", cwd=work)
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout)["CWD"] == str(work)


def test_missing_agent_is_a_clear_error(machine, repo):
    done = machine.cli("shell", "--agent", "codex", "--cmd", "codex", cwd=repo)
    assert done.returncode == 2
    assert "'codex' is not on PATH" in done.stderr and "--cmd PATH" in done.stderr
    unknown = machine.cli("shell", "--agent", "gemini", cwd=repo)
    assert unknown.returncode == 2 and "gemini" in unknown.stderr and "claude" in unknown.stderr
    assert not (repo / ".awpolicy/worktrees").exists()  # refused before anything was made


def test_agent_preset_is_applied(machine, repo, stub_agent):
    """agent-codex grants ~/.codex: the stub's config home is writable, the rest of HOME is not."""
    (machine.home / ".codex").mkdir()
    script = machine.bin / "codex"
    script.write_text('#!/bin/sh\necho token > "$CODEX_HOME/auth.json" && echo wrote\n'
                      'echo x > "$CODEX_HOME/../other" 2>/dev/null || echo denied\n')
    script.chmod(0o755)
    done = machine.cli("shell", "--agent", "codex", "--cmd", "codex", cwd=repo)
    assert done.stdout.split() == ["wrote", "denied"], done.stderr
    assert (machine.home / ".codex/auth.json").read_text() == "token\n"
    assert not (machine.home / "other").exists()


def test_catalog():
    assert agents.get_agent("codex").worktree == "ai-codex"
    assert {a.preset for a in agents.AGENTS.values()} == {"agent-claude", "agent-codex"}
    with pytest.raises(agents.AgentError, match="known agents: claude, codex"):
        agents.get_agent("nope")
