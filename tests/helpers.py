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


def compile_bundle(out: Path, *sources) -> Path:
    """`awpolicy compile SOURCES -o OUT`, which must succeed."""
    result = run_cli("compile", *map(str, sources), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def layered_bundles(tmp_path_factory):
    """build(text): the golden sources plus a session-scope layer of DSL ``text`` (none when
    empty), compiled once per text for the whole test session."""
    cache: dict[str, Path] = {}

    def build(text: str = "") -> Path:
        if text not in cache:
            base = tmp_path_factory.mktemp("bundle")
            sources = list(GOLDEN_SOURCES)
            if text:
                layer = base / "session.awp"
                layer.write_text("scope session\n" + text, encoding="utf-8")
                sources.append(layer)
            cache[text] = compile_bundle(base / "bundle", *sources)
        return cache[text]

    return build
