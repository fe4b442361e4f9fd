"""Fixtures for the agent workflow: a git repository, bundles compiled into tmp, a private data dir.

Sandboxed runs go through ``python -m aw_policy run`` in a subprocess, as a user
would type it. The interpreter used inside the sandbox is the system one
(under /usr, which linux-base lets run); the venv's lives under /work or /root.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import init_repo
from helpers import run_cli


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with one commit (a README) on main."""
    path = tmp_path / "repo"
    return init_repo(path)


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """XDG_DATA_HOME for session records, private to the test (in-process and for the CLI)."""
    path = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture
def bundle(tmp_path):
    """Compile DSL text (one project layer, plus optional org text) into a bundle under tmp."""
    counter = iter(range(1000))

    def build(project: str, org: str | None = None) -> Path:
        base = tmp_path / f"policy{next(counter)}"
        base.mkdir()
        sources = []
        if org is not None:
            (base / "org.awp").write_text("scope org\n" + org)
            sources.append(str(base / "org.awp"))
        (base / "project.awp").write_text("scope project\n" + project)
        sources.append(str(base / "project.awp"))
        result = run_cli("compile", *sources, "-o", str(base / "bundle"))
        assert result.returncode == 0, result.stderr
        return base / "bundle"

    return build


