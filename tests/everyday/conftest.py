"""Fixtures for everyday use (shell, attach, --agent, clean, the default bundle).

The machine is private to each test: HOME, TMPDIR, XDG_DATA_HOME (session
records) and XDG_CACHE_HOME (the default bundle) all live under tmp_path, so a
file in tmp_path/outside is covered by no grant of the default policy. Commands
run as a user types them: ``python -m aw_policy ...`` in a subprocess (or a
pseudo-terminal, see tests/pty_helpers.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from agent_helpers import GIT_ID, init_repo
from helpers import run_cli


@dataclass
class Machine:
    root: Path
    home: Path
    tmp: Path
    outside: Path  # a directory no grant covers, holding secret.txt
    bin: Path  # put first on PATH: stub agents
    env: dict[str, str]

    def cli(self, *args: str, cwd: Path, env: dict | None = None):
        return run_cli(*args, cwd=cwd, env=self.env | (env or {}))


@pytest.fixture
def machine(tmp_path, monkeypatch) -> Machine:
    home, tmp, outside, bin_dir = (tmp_path / n for n in ("home", "tmp", "outside", "bin"))
    for d in (home, tmp, outside, bin_dir):
        d.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    env = GIT_ID | {
        "HOME": str(home), "TMPDIR": str(tmp), "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    }
    for name, value in env.items():  # the in-process calls (sessions.load_all...) see the same machine
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWPOLICY_BUNDLE", raising=False)
    env["AWPOLICY_BUNDLE"] = ""
    return Machine(tmp_path, home, tmp, outside, bin_dir, env)


@pytest.fixture
def repo(machine) -> Path:
    """A git repository with one commit (a README) on main."""
    path = machine.root / "repo"
    return init_repo(path)


@pytest.fixture
def stub_agent(machine):
    """An executable named NAME on PATH that prints its config home, argv and cwd."""

    def make(name: str = "codex") -> Path:
        path = machine.bin / name
        path.write_text('#!/bin/sh\necho "CODEX_HOME=${CODEX_HOME-unset}"\n'
                        'echo "CLAUDE_CONFIG_DIR=${CLAUDE_CONFIG_DIR-unset}"\n'
                        'echo "ARGV=$*"\necho "CWD=$(pwd)"\n')
        path.chmod(0o755)
        return path

    return make
