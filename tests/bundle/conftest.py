"""Fixtures for bundle integrity tests: the golden policy compiled into tmp, keys, CLI checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import run_cli
from integrity_helpers import compile_golden, tree


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Two ed25519 key pairs in PEM files: ``keys["a"]`` and ``keys["b"]``, each (private, public)."""
    from aw_policy.bundle import write_keypair

    base = tmp_path_factory.mktemp("keys")
    pairs = {}
    for name in ("a", "b"):
        private, public = base / f"{name}.key", base / f"{name}.pub"
        write_keypair(private, public)
        pairs[name] = (private, public)
    return pairs


@pytest.fixture(scope="session")
def pristine(tmp_path_factory, keys):
    """The golden bundle, compiled once unsigned and once signed with key a (copied per test)."""
    from aw_policy.bundle import load_signing_key

    base = tmp_path_factory.mktemp("pristine")
    compile_golden(base / "unsigned" / "bundle")
    compile_golden(base / "signed" / "bundle", signing_key=load_signing_key(keys["a"][0]))
    return base


@pytest.fixture
def bundle(tmp_path, pristine) -> Path:
    """A fresh copy of the unsigned golden bundle (same depth as the pristine one)."""
    out = tmp_path / "unsigned" / "bundle"
    shutil.copytree(pristine / "unsigned" / "bundle", out)
    return out


@pytest.fixture
def signed(tmp_path, pristine) -> Path:
    """A fresh copy of the golden bundle signed with key a."""
    out = tmp_path / "signed" / "bundle"
    shutil.copytree(pristine / "signed" / "bundle", out)
    return out


def cli_refuses(bundle_dir: Path, code: str, names: str | tuple[str, ...], *args: str) -> str:
    """`awpolicy verify` exits 2 with ``code`` and every name in ``names`` on stderr, and no traceback."""
    result = run_cli("verify", str(bundle_dir), *args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert code in result.stderr, result.stderr
    for name in (names,) if isinstance(names, str) else names:
        assert name in result.stderr, result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not result.stdout.startswith("ok")
    return result.stderr


@pytest.fixture(name="cli_refuses")
def _cli_refuses():
    return cli_refuses


@pytest.fixture(name="compile_golden")
def _compile_golden():
    return compile_golden


@pytest.fixture(name="tree")
def _tree():
    return tree
