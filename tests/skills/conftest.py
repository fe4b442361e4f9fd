"""Fixtures for skills: a git repository to hold them, manifests written as text, bundles, schemas.

Commands that do not launch anything run in this process (click's runner, in the
repository as the current directory); `skills run` goes through `python -m
aw_policy` in a subprocess, as a user would type it, and really sandboxes.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from agent_helpers import init_repo
from helpers import run_cli

from aw_policy.resources import resource_path

#: A policy that lets the system run and the worktree be written, and nothing else.
POLICY = 'include "linux-base"\nfs { allow read,write "${WORKSPACE}" }\n'


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with one commit, the current directory of the test."""
    path = tmp_path / "repo"
    return init_repo(path).resolve()


@pytest.fixture
def in_repo(repo, monkeypatch) -> Path:
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def skill(repo):
    """Write a skill manifest: skill(name, manifest dict or raw text, local=False, files={name: text})."""

    def make(name: str, manifest, *, local: bool = False, files: dict | None = None) -> Path:
        directory = repo / (".awpolicy/skills" if local else "skills") / name
        directory.mkdir(parents=True, exist_ok=True)
        text = manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2)
        (directory / "skill.json").write_text(text)
        for filename, content in (files or {}).items():
            (directory / filename).write_text(content)
        return directory

    return make


@pytest.fixture(scope="session")
def policy_bundle(tmp_path_factory) -> Path:
    """POLICY compiled once."""
    base = tmp_path_factory.mktemp("skills-policy")
    (base / "project.awp").write_text("scope project\n" + POLICY)
    result = run_cli("compile", str(base / "project.awp"), "-o", str(base / "bundle"))
    assert result.returncode == 0, result.stderr
    return base / "bundle"


def schema_validator(name: str):
    schema = json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="session")
def envelope_schema():
    return schema_validator("skill-run.schema.json")


@pytest.fixture(scope="session")
def registry_schema():
    return schema_validator("skill-registry.schema.json")


@pytest.fixture
def cli(in_repo):
    """`awpolicy ARGS` in this process, in the repository; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from aw_policy.cli import main

    def invoke(*args: str):
        result = CliRunner().invoke(main, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        return result.exit_code, result.stdout, result.stderr

    return invoke
