"""A committed golden bundle differs from a fresh compile of its sources.

What it does
------------
For each golden example (a folder with ``src/`` policy files and the committed
``bundle/``), compiles the sources with the parameters recorded in the bundle's
manifest and compares every file; reports each file that differs, with a
unified diff. ``awpolicy lint --golden`` runs it (the ``awpolicy-check-golden``
pre-commit hook), as does ``awpolicy compile --check SOURCE... -o DIR``.

Why is this bad?
----------------
The committed bundle is what reviewers read and what tests compare against; if
it no longer follows from its sources, a change to the compiler or to a policy
went in unreviewed.

Example
-------
A policy in ``golden/web/src/project.awp`` was edited and committed without
recompiling ``golden/web/bundle``.

Use instead
-----------
Recompile and commit both together:
``awpolicy compile golden/web/src/*.awp* -o golden/web/bundle``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from aw_policy.diagnostics import Diagnostic, PolicyError, Severity, Span


def compare(out: Path, fresh: dict[str, bytes]) -> dict[str, str]:
    """File name -> unified diff, for each file of bundle ``out`` that differs from ``fresh``.

    The signature is left out: it is made by the org's key, not by compile."""
    from aw_policy.bundle import SIGNATURE, read_tree

    committed = read_tree(out) if out.is_dir() else {}
    committed.pop(SIGNATURE, None)
    fresh = {k: v for k, v in fresh.items() if k != SIGNATURE}
    diffs: dict[str, str] = {}
    for name in sorted(committed.keys() | fresh.keys()):
        old, new = committed.get(name), fresh.get(name)
        if old == new:
            continue
        old_lines = old.decode("utf-8", "replace").splitlines(keepends=True) if old is not None else []
        new_lines = new.decode("utf-8", "replace").splitlines(keepends=True) if new is not None else []
        diffs[name] = "".join(difflib.unified_diff(
            old_lines, new_lines,
            fromfile=f"{out}/{name}" if old is not None else "/dev/null",
            tofile=f"{out}/{name} (fresh compile)" if new is not None else "/dev/null"))
    return diffs


def first_changed_line(diff: str) -> int:
    for line in diff.splitlines():
        if line.startswith("@@"):
            start = line.split()[1].lstrip("-").split(",")[0]
            return max(1, int(start or 1))
    return 1


def find_goldens(roots) -> list[Path]:
    """Golden example folders (with src/ and bundle/) at or directly under each root."""
    found: list[Path] = []
    for root in map(Path, roots):
        if (root / "src").is_dir() and (root / "bundle").is_dir():
            found.append(root)
        elif root.is_dir():
            found += sorted(d for d in root.iterdir() if (d / "src").is_dir() and (d / "bundle").is_dir())
    return found


def check(golden: Path, config) -> tuple[list[Diagnostic], dict[str, str]]:
    """Diagnostics and diffs for one golden example folder."""
    from aw_policy.bundle import MANIFEST, build
    from aw_policy.lint import POLICY_SUFFIXES, top_level
    from aw_policy.merge import compile_sources, display_relative_to

    bundle = golden / "bundle"
    sources = top_level(sorted(p for p in (golden / "src").iterdir() if p.name.endswith(POLICY_SUFFIXES)))
    try:
        params = json.loads((bundle / MANIFEST).read_text(encoding="utf-8")).get("params", {})
    except (OSError, ValueError, AttributeError):
        params = {}
    try:
        merged = compile_sources(sources, display_for=display_relative_to(bundle.absolute()))
        fresh = build(merged.policy, params if isinstance(params, dict) else {})
    except PolicyError:
        try:  # name the files relative to the working directory, not to the bundle
            compile_sources(sources)
        except PolicyError as again:
            exc = again
        return list(exc.diagnostics), {}
    diffs = compare(bundle, fresh)
    out = []
    for name, diff in diffs.items():
        out.append(Diagnostic(
            "AWP401", f"committed bundle file {name} differs from a fresh compile of {golden / 'src'}",
            Span(str(bundle / name), first_changed_line(diff), 1), Severity.ERROR,
            hint=f"recompile: awpolicy compile {' '.join(str(s) for s in sources)} -o {bundle}",
        ))
    return out, {str(bundle / name): diff for name, diff in diffs.items()}
