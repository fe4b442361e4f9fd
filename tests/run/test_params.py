"""Launch-time parameter values: WORKSPACE and GIT_COMMON_DIR from git, HOME and TMPDIR from the environment."""

from __future__ import annotations

import subprocess

from aw_runtime.launcher import host_params


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _repo(path):
    path.mkdir(parents=True)
    _git("init", "-q", cwd=path)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init", cwd=path)
    return path


ENV = {"HOME": "/home/someone", "TMPDIR": "/var/tmp", "PATH": "/usr/bin:/bin"}


def test_workspace_is_the_top_level_from_a_subdirectory(tmp_path):
    repo = _repo(tmp_path / "repo")
    (repo / "src" / "deep").mkdir(parents=True)
    values = host_params({}, ENV, str(repo / "src" / "deep"))
    assert values["WORKSPACE"] == str(repo)
    assert values["GIT_COMMON_DIR"] == str(repo / ".git")
    assert values["HOME"] == "/home/someone" and values["TMPDIR"] == "/var/tmp"


def test_a_worktree_binds_the_shared_git_dir(tmp_path):
    repo = _repo(tmp_path / "repo")
    _git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    values = host_params({}, ENV, str(tmp_path / "wt"))
    assert values["WORKSPACE"] == str(tmp_path / "wt")
    assert values["GIT_COMMON_DIR"] == str(repo / ".git")


def test_outside_a_repository_the_workspace_is_the_directory(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    values = host_params({}, ENV, str(plain))
    assert values["WORKSPACE"] == str(plain)
    assert "GIT_COMMON_DIR" not in values  # the policy's default (${WORKSPACE}/.git) applies


def test_given_values_win_and_relative_ones_are_made_absolute(tmp_path):
    repo = _repo(tmp_path / "repo")
    (repo / "sub").mkdir()
    values = host_params({"WORKSPACE": "sub", "TMPDIR": "/scratch", "MINE": "x"}, ENV, str(repo))
    assert values["WORKSPACE"] == str(repo / "sub")
    assert values["TMPDIR"] == "/scratch" and values["MINE"] == "x"


def test_git_variables_of_the_caller_do_not_redirect_discovery(tmp_path):
    repo = _repo(tmp_path / "repo")
    other = _repo(tmp_path / "other")
    values = host_params({}, {**ENV, "GIT_DIR": str(other / ".git")}, str(repo))
    assert values["WORKSPACE"] == str(repo)


def test_run_from_a_subdirectory_binds_the_top_level_and_keeps_the_directory(machine, golden_bundle):
    sub = machine.ws / "src" / "pkg"
    sub.mkdir(parents=True)
    result = machine.run(golden_bundle, "/bin/pwd", opts=("-v", "--best-effort", "--discard-branch"), cwd=sub)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sub)
    assert f"WORKSPACE={machine.ws}" in result.stderr and f"HOME={machine.home}" in result.stderr
