"""The linter: checks over sources, the merged IR and SBPL files.

Each check is one function returning diagnostics; this module finds the files
and runs them. Syntax, schema and input problems (codes AWP0xx) mean the input
could not be read at all: they make the exit code 2 instead of 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from aw_policy.diagnostics import Diagnostic, PolicyError, Span

POLICY_SUFFIXES = (".awp", ".awp.yaml", ".awp.yml")
SBPL_SUFFIXES = (".sb",)


@dataclass(frozen=True)
class LintResult:
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def input_errors(self) -> bool:
        return any(d.code < "AWP100" for d in self.diagnostics)


def discover(paths: Sequence[str]) -> tuple[list[Path], list[Diagnostic]]:
    files: list[Path] = []
    errors: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.name.endswith(POLICY_SUFFIXES + SBPL_SUFFIXES))
            files += found
        elif path.exists():
            files.append(path)
        else:
            errors.append(Diagnostic("AWP007", "file not found", Span(raw, 1, 1),
                                     hint="check the path"))
    return files, errors


def lint_policy_file(path: Path) -> list[Diagnostic]:
    from aw_policy.merge import compile_sources

    try:
        compile_sources([path], default_scope="project")
    except PolicyError as exc:
        return list(exc.diagnostics)
    return []


def lint_sbpl_file(path: Path) -> list[Diagnostic]:
    from aw_policy.lang.load import decode_source
    from aw_policy.sbpl.lint import lint_sbpl

    display = str(path)
    try:
        text = decode_source(path.read_bytes(), display)
    except PolicyError as exc:
        return list(exc.diagnostics)
    except OSError as exc:
        return [Diagnostic("AWP007", f"cannot read file: {exc.strerror}", Span(display, 1, 1))]
    return lint_sbpl(text, display)


def lint_paths(paths: Sequence[str]) -> LintResult:
    files, diagnostics = discover(paths)
    for path in files:
        if path.name.endswith(SBPL_SUFFIXES):
            diagnostics += lint_sbpl_file(path)
        else:
            diagnostics += lint_policy_file(path)
    ordered = sorted(diagnostics, key=lambda d: (d.span.file, d.span.line, d.span.col, d.code))
    return LintResult(tuple(str(f) for f in files), tuple(ordered))
