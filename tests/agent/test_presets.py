"""Presets: each one compiles, lints clean, lists with a description, and works in a real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from agent_helpers import SANDBOX_PYTHON, git, needs_sandbox, run_in
from helpers import run_cli

from aw_policy.lang.load import bundled_preset_dir
from aw_policy.lint import lint_paths, suppress
from aw_policy.lint.rules_presets import check as preset_writes_check
from aw_policy.merge import compile_sources
from aw_policy.preset_catalog import describe, list_presets

BUNDLED = sorted(p.stem for p in bundled_preset_dir().glob("*.awp"))
OURS = ("agent-claude", "agent-codex", "git-worktree", "host-ssh", "host-tools", "linux-base", "macos-base")


def test_the_issue_presets_ship():
    assert set(OURS) <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_preset_compiles(name):
    merged = compile_sources([bundled_preset_dir() / f"{name}.awp"], default_scope="project")
    assert merged.policy.rules


@pytest.mark.parametrize("name", BUNDLED)
def test_preset_lints_clean(name):
    path = bundled_preset_dir() / f"{name}.awp"
    result = lint_paths([str(path)])
    assert result.diagnostics == (), [str(d) for d in result.diagnostics]


@pytest.mark.parametrize("name", BUNDLED)
def test_every_write_outside_the_workspace_is_justified_in_the_preset(name):
    """AWP206 findings on a preset are each silenced by a reasoned comment in the preset itself."""
    path = bundled_preset_dir() / f"{name}.awp"
    findings = preset_writes_check(compile_sources([path], default_scope="project").policy)
    text = path.read_text()
    suppressions, problems = suppress.parse(text, findings[0].span.file if findings else str(path))
    assert problems == []
    assert suppress.apply(findings, suppressions) == []


def test_preset_writes_rule_flags_an_unjustified_grant(tmp_path, monkeypatch):
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "leaky.awp").write_text('# leaky (version 1): caches in HOME\nfs { allow read,write "~/.cache/pip" "${WORKSPACE}/x" }\n')
    monkeypatch.setenv("AWPOLICY_PRESET_PATH", str(presets))
    project = tmp_path / "p.awp"
    project.write_text('scope project\ninclude "leaky"\nfs { allow read,write "~/.config/mine" }\n')
    findings = preset_writes_check(compile_sources([project]).policy)
    assert [(d.code, d.span.file) for d in findings] == [("AWP206", "preset:leaky")]
    assert "~/.cache/pip" not in findings[0].message and "${HOME}/.cache/pip" in findings[0].message


def test_presets_command_lists_each_with_its_description():
    result = run_cli("presets")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    for p in list_presets():
        assert lines[p.name].strip() == p.description
        assert p.description and not p.description.startswith("(no description")


def test_preset_path_env_comes_first(tmp_path):
    own = tmp_path / "mine"
    own.mkdir()
    (own / "host-tools.awp").write_text("# host-tools (version 9): my own toolchains\nfs { allow read \"/opt/x\" }\n")
    (own / "extra.awp").write_text("fs { allow read \"/opt/y\" }\n")
    env = {"AWPOLICY_PRESET_PATH": str(own), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    listed = run_cli("presets", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    import json

    by_name = {p["name"]: p for p in json.loads(listed.stdout)}
    assert by_name["host-tools"]["origin"] == "env" and by_name["host-tools"]["description"] == "my own toolchains"
    assert by_name["extra"]["description"].startswith("(no description")
    assert by_name["linux-base"]["origin"] == "bundled"
    shown = run_cli("show", "--preset", "host-tools", env=env)
    assert shown.stdout == (own / "host-tools.awp").read_text()


def test_show_preset_prints_the_source_and_refuses_unknown_names():
    shown = run_cli("show", "--preset", "git-worktree")
    assert shown.returncode == 0
    assert shown.stdout == (bundled_preset_dir() / "git-worktree.awp").read_text()
    typo = run_cli("show", "--preset", "git-worktre")
    assert typo.returncode == 2
    assert "unknown preset 'git-worktre'" in typo.stderr and "git-worktree" in typo.stderr
    assert "Traceback" not in typo.stderr


def test_describe_takes_the_header_clause():
    text = "# demo (version 2): reads the demo's files\n# and nothing else. More.\nfs {}\n"
    assert describe(text, "demo") == "reads the demo's files and nothing else"
    assert describe("fs {}\n", "demo").startswith("(no description")


# --------------------------------------------------------------------------- real runs


@needs_sandbox
def test_host_tools_pip_installs_into_the_redirected_cache(repo, bundle, tmp_path):
    """pip builds and caches a wheel under WORKSPACE/.awpolicy and installs to the redirected user base;
    the real HOME stays untouched."""
    src = tmp_path / "src"
    (src / "awp_demo").mkdir(parents=True)
    (src / "awp_demo" / "__init__.py").write_text("VALUE = 42\n")
    (src / "setup.py").write_text('from setuptools import setup\nsetup(name="awp-demo", version="0.1", packages=["awp_demo"])\n')
    links = repo / "links"
    links.mkdir()
    subprocess.run(["tar", "czf", str(links / "awp-demo-0.1.tar.gz"), "--transform", "s,^,awp-demo-0.1/,",
                    "setup.py", "awp_demo"], cwd=src, check=True)
    home = tmp_path / "home"
    home.mkdir()
    b = bundle('include "linux-base"\ninclude "host-tools"\nfs { allow read,write "${WORKSPACE}" }\n')
    script = (f"{SANDBOX_PYTHON} -m pip install -q --user --break-system-packages --no-build-isolation "
              f"--no-index --find-links links awp-demo && {SANDBOX_PYTHON} -c 'import awp_demo; print(awp_demo.VALUE)'"
              f" && {SANDBOX_PYTHON} -m pip cache dir")
    result = run_in(repo, "run", str(b), "--param", f"HOME={home}", "--", "sh", "-c", script,
                    env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert result.returncode == 0, result.stderr
    value, cache_dir = result.stdout.split()
    assert value == "42"
    assert cache_dir == str(repo / ".awpolicy" / "cache" / "pip")
    assert list((repo / ".awpolicy" / "cache" / "pip").rglob("awp_demo-0.1-*.whl"))
    assert list((repo / ".awpolicy" / "pyuser").rglob("awp_demo/__init__.py"))
    assert list(home.iterdir()) == []


@needs_sandbox
def test_agent_codex_writes_its_own_state_and_nothing_else_in_home(repo, bundle, tmp_path):
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    b = bundle('include "linux-base"\ninclude "host-tools"\ninclude "agent-codex"\n'
               'fs { allow read,write "${WORKSPACE}" }\n')
    script = 'echo "$CODEX_HOME"; echo s > "$CODEX_HOME/session.jsonl"; echo x > "$CODEX_HOME/../.bashrc" || echo refused'
    # No --best-effort: the API domains are enforced by the domain proxy the run starts.
    assert "api.openai.com:443" in json.dumps(json.loads((b / "linux.json").read_text())["network"]["proxy"])
    result = run_in(repo, "run", str(b), "--param", f"HOME={home}", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "not enforced" not in result.stderr
    assert result.stdout.split() == [str(home / ".codex"), "refused"]
    assert (home / ".codex" / "session.jsonl").read_text() == "s\n"
    assert not (home / ".bashrc").exists()


@needs_sandbox
def test_agent_claude_reads_its_config_and_not_the_rest_of_home(repo, bundle, tmp_path):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text("{}\n")
    (home / "notes.txt").write_text("private\n")
    (home / ".claude.json").write_text("{}\n")  # a literal grant covers an existing file (Landlock grants inodes)
    b = bundle('include "linux-base"\ninclude "agent-claude"\nfs { allow read,write "${WORKSPACE}" }\n')
    script = f'cat {home}/.claude/settings.json && echo ok > {home}/.claude.json && (cat {home}/notes.txt || echo refused)'
    assert "api.anthropic.com:443" in json.dumps(json.loads((b / "linux.json").read_text())["network"]["proxy"])
    result = run_in(repo, "run", str(b), "--param", f"HOME={home}", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "not enforced" not in result.stderr
    assert result.stdout.split() == ["{}", "refused"]
    assert (home / ".claude.json").read_text() == "ok\n"


@needs_sandbox
def test_host_ssh_reaches_the_agent_but_not_the_keys(repo, bundle, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / ".ssh" / "known_hosts").write_text("example.invalid ssh-ed25519 AAAA\n")
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    sock = agent.split("SSH_AUTH_SOCK=", 1)[1].split(";", 1)[0]
    pid = int(agent.split("SSH_AGENT_PID=", 1)[1].split(";", 1)[0])
    try:
        b = bundle('include "linux-base"\ninclude "host-ssh"\nfs { allow read,write "${WORKSPACE}" }\n')
        script = (f'ssh-add -l; echo "add=$?"; cat {home}/.ssh/known_hosts >/dev/null && echo known; '
                  f'cat {home}/.ssh/id_ed25519 || echo refused')
        result = run_in(repo, "run", str(b), "--param", f"HOME={home}", "--", "sh", "-c", script,
                        env={"SSH_AUTH_SOCK": sock})
    finally:
        os.kill(pid, 15)
    assert result.returncode == 0, result.stderr
    # exit 1 = "the agent has no identities": it was reached (2 would mean no connection)
    assert result.stdout.split()[-3:] == ["add=1", "known", "refused"], result.stdout + result.stderr


@needs_sandbox
def test_git_worktree_commits_land_in_the_repository_and_hooks_stay_read_only(repo, bundle, data_home):
    b = bundle('include "linux-base"\ninclude "git-worktree"\ninclude "host-tools"\n'
               'fs { allow read,write "${WORKSPACE}" }\n')
    script = ('echo work > work.txt && git add work.txt && git commit -qm "agent work" && echo committed; '
              'echo evil > "$(git rev-parse --git-common-dir)/hooks/pre-commit" || echo hooks-refused; '
              'git config --local core.fsmonitor evil || echo config-refused')
    result = run_in(repo, "run", str(b), "--worktree", "feature", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["committed", "hooks-refused", "config-refused"]
    assert git("log", "--format=%s", "awpolicy/feature", cwd=repo).split("\n")[0] == "agent work"
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    assert Path(repo / ".awpolicy" / "worktrees" / "feature" / "work.txt").read_text() == "work\n"
