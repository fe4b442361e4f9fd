"""Compiling the golden policy for the bundle-integrity, schema and fuzz tests (tests/bundle, tests/schemas,
tests/fuzz): in-process, into a directory the test owns, never the committed golden bundle."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import GOLDEN_SOURCES


def bundle_files(sources, out: Path, params: dict[str, str] | None = None, signing_key=None) -> dict[str, bytes]:
    """The files `awpolicy compile SOURCES -o OUT` would write (nothing is written)."""
    from aw_policy.bundle import build
    from aw_policy.merge import compile_sources, display_relative_to

    merged = compile_sources([str(p) for p in sources], display_for=display_relative_to(Path(out).absolute()))
    return build(merged.policy, params or {}, signing_key)


def golden_files(out: Path, params: dict[str, str] | None = None, signing_key=None) -> dict[str, bytes]:
    return bundle_files(GOLDEN_SOURCES, out, params, signing_key)


def compile_golden(out: Path, params: dict[str, str] | None = None, signing_key=None) -> dict[str, bytes]:
    """Compile the golden sources into ``out`` (atomically, as `awpolicy compile` does); return the files."""
    from aw_policy.bundle import write_tree

    files = golden_files(out, params, signing_key)
    write_tree(out, files)
    return files


def golden_artifacts() -> list[dict]:
    """The artifact list of a fresh golden manifest: for parametrizing over every backend's output."""
    files = golden_files(Path("/nonexistent/bundle"))
    return json.loads(files["manifest.json"])["artifacts"]


def tree(directory: Path) -> dict[str, bytes]:
    """Every entry under ``directory``: files by bytes, plus each file's mode (permissions are output too)."""
    out: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        out[rel] = path.read_bytes() if path.is_file() else b"<dir>"
        out[rel + "#mode"] = oct(path.stat().st_mode).encode()
    return out
