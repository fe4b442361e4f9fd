"""Inline suppressions: ``# awpolicy: ignore[AWP201] reason`` (``;`` in ``.sb`` files).

The comment silences the named codes on its own line; a comment alone on a
line silences the next line that is not blank or a comment. A reason is
required: a suppression without one is not applied (AWP030). A suppression that
silences nothing is reported (AWP031), so stale ones do not pile up. Several
codes may be given: ``ignore[AWP101, AWP102]``. Input errors (exit 2) cannot be
suppressed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from aw_policy.diagnostics import Diagnostic, Severity, Span

_DIRECTIVE = re.compile(r"awpolicy:\s*ignore\[([^\]]*)\]\s*(.*)$", re.IGNORECASE)
_CODE = re.compile(r"AWP\d{3}")


@dataclass
class Suppression:
    span: Span  # the comment
    target_line: int
    codes: tuple[str, ...]
    reason: str
    used: set[str] = field(default_factory=set)


def _comment_start(line: str, marker: str) -> int:
    """Index of the comment marker outside quoted strings, or -1."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = None
        elif c == '"' or (c == "'" and marker == "#"):
            # YAML single quotes; the DSL has only double quotes, where ' never occurs outside strings.
            quote = c
        elif c == marker:
            return i
        i += 1
    return -1


def parse(text: str, file: str, marker: str = "#") -> tuple[list[Suppression], list[Diagnostic]]:
    """Suppressions in ``text`` and diagnostics for malformed ones."""
    out: list[Suppression] = []
    problems: list[Diagnostic] = []
    lines = text.splitlines()
    pending: list[tuple[int, re.Match, int]] = []  # standalone comments waiting for their line
    for number, line in enumerate(lines, start=1):
        start = _comment_start(line, marker)
        comment = line[start:] if start >= 0 else ""
        match = _DIRECTIVE.search(comment) if "awpolicy" in comment.lower() else None
        standalone = start >= 0 and not line[:start].strip()
        code_line = bool(line.strip()) and not standalone
        if code_line:
            for col, m, at in pending:
                _add(out, problems, file, at, col, m, number)
            pending = []
        if match is None:
            continue
        col = start + match.start() + 1
        if standalone:
            pending.append((col, match, number))
        else:
            _add(out, problems, file, number, col, match, number)
    for col, m, at in pending:  # a trailing comment with nothing after it
        _add(out, problems, file, at, col, m, at)
    return out, problems


def _add(out, problems, file, line, col, match, target) -> None:
    span = Span(file, line, col, line, col + len(match.group(0)))
    codes = tuple(c.upper() for c in _CODE.findall(match.group(1).upper()))
    reason = match.group(2).strip()
    if not codes:
        problems.append(Diagnostic(
            "AWP030", "suppression names no code", span, Severity.WARNING,
            hint="write the codes to silence: # awpolicy: ignore[AWP201] why this is fine",
        ))
        return
    if not reason:
        problems.append(Diagnostic(
            "AWP030", f"suppression of {', '.join(codes)} gives no reason; it is not applied", span,
            Severity.WARNING, hint=f"say why, after the brackets: # awpolicy: ignore[{codes[0]}] the reason",
        ))
        return
    out.append(Suppression(span, target, codes, reason))


def apply(diagnostics: Iterable[Diagnostic], suppressions: list[Suppression]) -> list[Diagnostic]:
    """The diagnostics that no suppression silences; marks the suppressions that were used."""
    by_line: dict[tuple[str, int], list[Suppression]] = {}
    for s in suppressions:
        by_line.setdefault((s.span.file, s.target_line), []).append(s)
    kept: list[Diagnostic] = []
    from aw_policy.lint.registry import is_input_error

    for d in diagnostics:
        silenced = False
        if not is_input_error(d.code):
            for s in by_line.get((d.span.file, d.span.line), ()):
                if d.code in s.codes:
                    s.used.add(d.code)
                    silenced = True
        if not silenced:
            kept.append(d)
    return kept


def unused(suppressions: list[Suppression], ran) -> list[Diagnostic]:
    """AWP031 for each named code that silenced nothing (only codes whose check ran)."""
    out = []
    for s in suppressions:
        idle = [c for c in s.codes if c not in s.used and ran(c)]
        if idle:
            out.append(Diagnostic(
                "AWP031", f"suppression of {', '.join(idle)} silences nothing", s.span, Severity.WARNING,
                hint="remove it (or the codes that no longer apply)",
            ))
    return out
