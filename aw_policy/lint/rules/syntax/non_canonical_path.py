"""A path is written in a non-canonical form (trailing `/`, `//`, `/./`).

What it does
------------
Reports paths whose text is not the form the compiler uses, such as
``"/usr/share/"`` or ``"~//.cache"``. ``awpolicy lint --fix`` rewrites them in
place; nothing else in the file changes.

Why is this bad?
----------------
The meaning is the same, but a reader (or grep) looking for ``/usr/share``
does not find it, and a trailing ``/`` suggests a difference that does not
exist.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "/usr/share/" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "/usr/share" }
"""

from __future__ import annotations

import json

from aw_policy.diagnostics import Span
from aw_policy.lang import ast
from aw_policy.lint.context import PolicySet


def canonical(value: str) -> str:
    """The same path without empty and '.' components or a trailing '/' ('..' is left alone)."""
    head, *rest = value.split("/")
    kept = [part for part in rest if part not in ("", ".")]
    if not rest:
        return value
    return "/".join([head, *kept]) if head or kept else "/"


def path_targets(policy_file: ast.PolicyFile):
    for st in policy_file.statements:
        if isinstance(st, ast.Rule):
            yield from (t for t in st.targets if t.kind in ("subtree", "literal", "glob"))
        elif isinstance(st, ast.Branch):
            yield from (*st.hide, *st.readonly)


def edits(text: str, policy_file: ast.PolicyFile) -> list[tuple[Span, str, str]]:
    """(span, old source text, new source text) for each path that can be rewritten safely:
    the exact quoted or plain value is found at its span."""
    lines = text.splitlines(keepends=True)
    out = []
    for target in path_targets(policy_file):
        fixed = canonical(target.value)
        if fixed == target.value or not 1 <= target.span.line <= len(lines):
            continue
        at = lines[target.span.line - 1][target.span.col - 1:]
        for old, new in ((json.dumps(target.value), json.dumps(fixed)),
                         (f"'{target.value}'", f"'{fixed}'"), (target.value, fixed)):
            if at.startswith(old) and "\\" not in old:
                out.append((target.span, old, new))
                break
    return out


def apply_edits(text: str, found: list[tuple[Span, str, str]]) -> str:
    lines = text.splitlines(keepends=True)
    for span, old, new in sorted(found, key=lambda e: (e[0].line, e[0].col), reverse=True):
        line = lines[span.line - 1]
        start = span.col - 1
        lines[span.line - 1] = line[:start] + new + line[start + len(old):]
    return "".join(lines)


def check(pset: PolicySet):
    for source in pset.merged.sources:
        if source.real.startswith("preset:"):
            continue
        for span, old, new in edits(source.text, source.file):
            yield pset.finding(
                "AWP032", f"path {old} is not written canonically", Span(span.file, span.line, span.col,
                                                                           span.line, span.col + len(old)),
                hint=f"write {new} (awpolicy lint --fix does it)",
            )
