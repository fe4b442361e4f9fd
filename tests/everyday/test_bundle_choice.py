"""Which bundle shell/attach/skills apply: --bundle, $AWPOLICY_BUNDLE, the repository's, the default."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from agent_helpers import git, needs_sandbox
from helpers import run_cli

from aw_policy import bundle_choice
from aw_policy.bundle_choice import BundleChoiceError, resolve_bundle


def compile_to(machine, out, text='scope project\ninclude "workspace"\n'):
    (machine.root / "src.awp").write_text(text)
    result = run_cli("compile", str(machine.root / "src.awp"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_order(machine, repo):
    env = dict(machine.env, AWPOLICY_BUNDLE="")
    explicit = compile_to(machine, machine.root / "explicit")
    from_env = compile_to(machine, machine.root / "env")
    in_repo = compile_to(machine, repo / ".awpolicy" / "bundle")
    assert resolve_bundle(str(explicit), cwd=str(repo), environ=env | {"AWPOLICY_BUNDLE": str(from_env)}) \
        == str(explicit)
    assert resolve_bundle(None, cwd=str(repo), environ=env | {"AWPOLICY_BUNDLE": str(from_env)}) == str(from_env)
    sub = repo / "sub"
    sub.mkdir()
    assert resolve_bundle(None, cwd=str(sub), environ=env) == str(in_repo)  # the git top's, from below
    tree = repo / ".awpolicy/worktrees/w"
    git("worktree", "add", "-q", "-b", "w", str(tree), cwd=repo)
    assert resolve_bundle(None, cwd=str(tree), environ=env) == str(in_repo)  # a linked worktree: the main tree's
    shutil.rmtree(in_repo)
    default = resolve_bundle(None, cwd=str(repo), environ=env)
    assert default.startswith(str(machine.root / "cache" / "awpolicy" / "bundles") + os.sep)


def test_named_bundles_must_be_bundles(machine):
    with pytest.raises(BundleChoiceError, match=r"--bundle nowhere: no such directory.*awpolicy compile"):
        resolve_bundle("nowhere", cwd=str(machine.root), environ=machine.env)
    with pytest.raises(BundleChoiceError, match=r"\$AWPOLICY_BUNDLE .*not a bundle \(no manifest.json\)"):
        resolve_bundle(None, cwd=str(machine.root), environ=machine.env | {"AWPOLICY_BUNDLE": str(machine.home)})


def test_default_bundle_is_compiled_once_and_cached_by_content(machine, repo, monkeypatch):
    env = machine.env
    first = resolve_bundle(None, cwd=str(machine.outside), environ=env)
    stamp = os.stat(os.path.join(first, "manifest.json")).st_mtime_ns
    assert resolve_bundle(None, cwd=str(machine.outside), environ=env) == first
    assert os.stat(os.path.join(first, "manifest.json")).st_mtime_ns == stamp  # not recompiled
    sources = json.loads(Path(first, "manifest.json").read_text())["sources"]
    assert [s["path"] for s in sources][:2] == ["default:workspace", "preset:workspace"]

    in_repo = resolve_bundle(None, cwd=str(repo), environ=env)  # a repository adds git-worktree
    codex = resolve_bundle(None, cwd=str(repo), environ=env, agent="codex")  # and --agent its preset
    assert len({first, in_repo, codex}) == 3
    paths = {s["path"] for s in json.loads(Path(codex, "manifest.json").read_text())["sources"]}
    assert {"preset:git-worktree", "preset:agent-codex"} <= paths

    # A preset on the search path changes: another hash, compiled afresh.
    own = machine.root / "presets"
    own.mkdir()
    (own / "workspace.awp").write_text('# workspace (version 9): mine\ninclude "linux-base"\n'
                                       'fs { allow read "${WORKSPACE}" }\n')
    monkeypatch.setenv("AWPOLICY_PRESET_PATH", str(own))
    changed = resolve_bundle(None, cwd=str(machine.outside), environ=env)
    assert changed != first and os.path.isdir(first)

    # A cached bundle that no longer verifies is compiled again, never used.
    monkeypatch.delenv("AWPOLICY_PRESET_PATH")
    with open(os.path.join(first, "linux.json"), "a") as fh:
        fh.write(" ")
    assert resolve_bundle(None, cwd=str(machine.outside), environ=env) == first
    from aw_runtime.verify import verify_bundle

    verify_bundle(first, None)


def test_a_broken_default_preset_is_a_clear_error(machine, monkeypatch):
    own = machine.root / "presets"
    own.mkdir()
    (own / "workspace.awp").write_text("fs { allow read }\n")
    monkeypatch.setenv("AWPOLICY_PRESET_PATH", str(own))
    with pytest.raises(BundleChoiceError, match=r"default policy .*preset:workspace:1:.*AWPOLICY_PRESET_PATH"):
        bundle_choice.default_bundle(machine.env)


@needs_sandbox
def test_default_policy_in_force(machine, repo):
    """No bundle anywhere: the workspace is writable, the rest of the machine is not, no network."""
    script = (f"echo w > in-workspace && echo t > $TMPDIR/t && cat {machine.outside}/secret.txt; "
              "echo x > $HOME/x; python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 2)' "
              "2>/dev/null && echo net-open; true")
    done = machine.cli("shell", "--cmd", "/bin/sh", "--", "-c", script, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (repo / "in-workspace").read_text() == "w\n" and (machine.tmp / "t").read_text() == "t\n"
    assert "top secret" not in done.stdout and "net-open" not in done.stdout
    assert not (machine.home / "x").exists()
    assert "Permission denied" in done.stderr


def test_the_cache_key_hashes_the_real_preset_search_path(machine, monkeypatch):
    from aw_policy.lang.load import preset_dirs

    monkeypatch.setenv("AWPOLICY_PRESET_PATH", f"{machine.root}/a{os.pathsep}{machine.root}/b")
    assert [p.resolve() for p in bundle_choice._preset_dirs()] == [p.resolve() for p in preset_dirs()]
