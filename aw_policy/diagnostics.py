"""Diagnostics: findings and errors as values, rendered only at the edge (the CLI).

Every stage returns values or raises :class:`PolicyError` carrying one or more
:class:`Diagnostic`. A diagnostic names a code (``AWP###``), a severity, a span
(file:line:col, 1-based), what is wrong and a hint on how to fix it.

Code ranges: 0xx syntax, schema and input; 1xx semantics; 2xx risk;
3xx portability; 4xx golden drift; 5xx SBPL files; 6xx bundles and runtime.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source file; line and column are 1-based, end is inclusive-exclusive."""

    file: str
    line: int = 1
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    hint: str | None = None
    related: tuple[tuple[str, Span], ...] = field(default=())

    def to_json(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["related"] = [{"message": m, "span": asdict(s)} for m, s in self.related]
        return data

    def __str__(self) -> str:
        text = f"{self.span}: {self.severity.value}[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class PolicyError(Exception):
    """Raised by a stage that cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None when nothing is close."""
    import difflib  # only when something is misspelt: not on every start

    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def render_text(diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None) -> str:
    """Plain text: one header line per diagnostic, the source line and a caret under the column."""
    out: list[str] = []
    sources = sources or {}
    for diag in diagnostics:
        out.append(f"{diag.span}: {diag.severity.value}[{diag.code}]: {diag.message}")
        text = sources.get(diag.span.file)
        if text is not None:
            lines = text.splitlines()
            if 1 <= diag.span.line <= len(lines):
                line = lines[diag.span.line - 1]
                gutter = f"{diag.span.line:>5} | "
                out.append(gutter + line)
                width = 1
                if diag.span.end_line == diag.span.line and diag.span.end_col:
                    width = max(1, diag.span.end_col - diag.span.col)
                pad = "".join(c if c == "\t" else " " for c in line[: diag.span.col - 1])
                out.append(" " * (len(gutter) - 2) + "| " + pad + "^" * width)
        if diag.hint:
            out.append(f"  = hint: {diag.hint}")
        for message, span in diag.related:
            out.append(f"  = note: {span}: {message}")
    return "\n".join(out) + ("\n" if out else "")


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, sort_keys=True) + "\n"
