"""Shared test helpers: paths into the repository and a CLI runner in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden" / "agent-worktree"
GOLDEN_SOURCES = [GOLDEN / "src" / "org.awp", GOLDEN / "src" / "project.awp", GOLDEN / "src" / "user.awp.yaml"]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None):
    """Run `awpolicy` as a user would: a separate process, its own exit code and streams."""
    full_env = dict(os.environ)
    full_env.pop("AWPOLICY_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "aw_policy", *args], cwd=cwd, env=full_env, input=input,
        check=False, capture_output=True, text=True, timeout=120,
    )


def policy_from_texts(*layers: tuple[str, str]):
    """Merge in-memory DSL layers [(scope, text)] the way files are merged (no disk)."""
    import hashlib

    from aw_policy.lang.dsl import parse_dsl
    from aw_policy.lang.load import Source
    from aw_policy.merge import merge

    sources = []
    for i, (scope, text) in enumerate(layers):
        name = f"{scope}{i}.awp"
        parsed = parse_dsl(f"scope {scope}\n" + text, name)
        sources.append((Source(f"/mem/{name}", name, text, hashlib.sha256(text.encode()).hexdigest(), parsed), scope))
    order = ["org", "project", "user", "session"]
    sources.sort(key=lambda pair: order.index(pair[1]))
    return merge(sources).policy
