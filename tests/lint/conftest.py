"""Positive (the rule fires) and negative (it does not) fixtures for every rule code.

Most fixtures are the rule's own documentation: the files of its *Example*
section must trigger it and those of *Use instead* must not, so the docs that
`awpolicy rules CODE` prints are tested. Inputs that cannot be written as text
in a docstring (bytes, huge files, missing files, committed bundles) are built
here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import GOLDEN_SOURCES


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _encoding(root: Path, positive: bool) -> list[str]:
    comment = "# caf\xe9 policy\n".encode("latin-1" if positive else "utf-8")
    write_files(root, {"policy.awp": b"scope project\n" + comment + b'fs { allow read "/usr" }\n'})
    return [str(root)]


def _too_large(root: Path, positive: bool) -> list[str]:
    from aw_policy.lang.load import MAX_SOURCE_BYTES

    body = 'scope project\nfs { allow read "/usr" }\n'
    padding = "#" * 99 + "\n"
    count = (MAX_SOURCE_BYTES // len(padding) + 1) if positive else 10
    write_files(root, {"policy.awp": body + padding * count})
    return [str(root)]


def _unreadable(root: Path, positive: bool) -> list[str]:
    write_files(root, {"policy.awp": 'scope project\nfs { allow read "/usr" }\n'})
    return [str(root / ("polcy.awp" if positive else "policy.awp"))]


def _golden(root: Path, positive: bool) -> list[str]:
    """A golden example compiled here; the positive one has a hand-edited bundle."""
    from aw_policy.bundle import build, write_tree
    from aw_policy.merge import compile_sources, display_relative_to

    golden = root / "golden" / "example"
    write_files(golden, {f"src/{p.name}": p.read_text(encoding="utf-8") for p in GOLDEN_SOURCES})
    sources = sorted((golden / "src").iterdir())
    bundle = golden / "bundle"
    merged = compile_sources(sources, display_for=display_relative_to(bundle.absolute()))
    write_tree(bundle, build(merged.policy, {}))
    if positive:
        policy = bundle / "policy.json"
        policy.write_text(policy.read_text(encoding="utf-8").replace('"allow"', '"deny"', 1), encoding="utf-8")
    return [str(root / "golden")]


#: code -> builder(root, positive) -> paths to lint (golden codes lint with --golden).
BUILDERS = {"AWP004": _encoding, "AWP006": _too_large, "AWP007": _unreadable, "AWP401": _golden}


def materialize(spec, root: Path, positive: bool) -> list[str] | None:
    """Write the fixture of ``spec`` under ``root``; the paths to lint, or None if it has none."""
    if spec.code in BUILDERS:
        return BUILDERS[spec.code](root, positive)
    files = spec.examples("bad" if positive else "good")
    if not files:
        return None
    write_files(root, files)
    return [str(root)]


@pytest.fixture
def rule_fixture():
    """materialize(spec, root, positive) -> paths to lint."""
    return materialize
