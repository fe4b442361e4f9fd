"""Shared fixtures for the ES table, the decision engine and `awpolicy es replay`."""

from __future__ import annotations

import json

import pytest
from helpers import GOLDEN_SOURCES, REPO


def render_es_table(policy, params: dict[str, str] | None = None) -> dict:
    """Render es-rules.json with the real backend and parse it back, as the engine receives it."""
    from aw_policy.backends import es
    from aw_policy.bundle import reference_params

    (artifact,) = es.render(policy, reference_params(policy, params or {}))
    return json.loads(artifact.data)


@pytest.fixture(scope="session")
def es_table():
    return render_es_table


@pytest.fixture(scope="session")
def fixtures_dir():
    return REPO / "tests" / "es" / "fixtures"


@pytest.fixture(scope="session")
def golden_policy():
    from aw_policy.merge import compile_sources

    return compile_sources([str(p) for p in GOLDEN_SOURCES], display_for=lambda p: p.relative_to(REPO).as_posix()).policy


@pytest.fixture(scope="session")
def golden_bundle(tmp_path_factory):
    """The golden sources compiled by the CLI into a fresh directory (never the committed bundle)."""
    from helpers import run_cli

    out = tmp_path_factory.mktemp("golden") / "bundle"
    result = run_cli("compile", *(p.relative_to(REPO).as_posix() for p in GOLDEN_SOURCES), "-o", str(out), cwd=REPO)
    assert result.returncode == 0, result.stderr
    return out
