"""Helpers for tests/agent: sandbox availability, git, the CLI with a git identity."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

SANDBOX_PYTHON = "/usr/bin/python3"
GIT_ID = {"GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@example.invalid",
          "GIT_COMMITTER_NAME": "agent", "GIT_COMMITTER_EMAIL": "agent@example.invalid"}


def sandbox_unavailable() -> str | None:
    """Why a real sandboxed run cannot happen here, or None."""
    import sys

    if not sys.platform.startswith("linux"):
        return "real sandboxed runs need Linux"
    from aw_runtime.linux import kernel_abi

    if kernel_abi() < 1:
        return "the kernel has no Landlock"
    if os.geteuid() != 0 and not Path("/proc/self/ns/user").exists():
        return "no user namespaces and not root"
    return None


needs_sandbox = pytest.mark.skipif(sandbox_unavailable() is not None, reason=str(sandbox_unavailable()))


def git(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ID
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def init_repo(path: Path) -> Path:
    """A git repository at ``path`` with one commit (a README) on main."""
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    (path / "README").write_text("hello\n")
    git("add", "README", cwd=path)
    git("commit", "-q", "-m", "init", cwd=path)
    return path


def run_in(cwd: Path, *args: str, env: dict | None = None):
    """`awpolicy ARGS` in ``cwd`` with a git identity in the environment."""
    return run_cli(*args, cwd=cwd, env=GIT_ID | (env or {}))
