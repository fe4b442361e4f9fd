"""The linter: checks over sources, the merged IR, SBPL files and golden bundles.

Each check is one function in its own rule module (``aw_policy/lint/rules/``,
catalogued in :mod:`aw_policy.lint.registry`); this module finds the files, runs
the enabled checks, applies suppressions and returns the findings as values.
Policy files named together (or found in one folder) are linted together as the
layers of one policy. Codes of the input stage (syntax, schema, unreadable
files) mean the input could not be read at all: they make the exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aw_policy.diagnostics import Diagnostic, PolicyError, Span
from aw_policy.lint.config import Config

POLICY_SUFFIXES = (".awp", ".awp.yaml", ".awp.yml")
SBPL_SUFFIXES = (".sb",)


@dataclass(frozen=True)
class LintResult:
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(default_factory=dict)  # display name -> text, for snippets
    diffs: dict[str, str] = field(default_factory=dict)  # golden drift: bundle file -> unified diff
    fixed: tuple[str, ...] = ()  # files rewritten by --fix

    @property
    def input_errors(self) -> bool:
        from aw_policy.lint.registry import is_input_error

        return any(is_input_error(d.code) for d in self.diagnostics)

    def exit_code(self, fail_level: str = "error") -> int:
        """0 nothing at or above ``fail_level``, 1 findings, 2 input errors."""
        from aw_policy.diagnostics import Severity

        if self.input_errors:
            return 2
        threshold = Severity(fail_level).rank
        return 1 if any(d.severity.rank >= threshold for d in self.diagnostics) else 0


# --------------------------------------------------------------------------- files


def discover(paths: Sequence[str]) -> tuple[list[Path], list[Diagnostic]]:
    files: list[Path] = []
    errors: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*")
                            if p.is_file() and p.name.endswith(POLICY_SUFFIXES + SBPL_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            errors.append(Diagnostic("AWP007", "file not found", Span(raw, 1, 1), hint="check the path"))
    return list(dict.fromkeys(files)), errors


def top_level(files: Sequence[Path]) -> list[Path]:
    """The files not included by another file of the list (those are linted through their includer).

    A list where every file is included by another (a cycle) keeps its first file."""
    import re

    included: set[Path] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for target in re.findall(r'^\s*include\s*:?\s*"([^"\n]+)"', text, flags=re.MULTILINE):
            candidate = (path.parent / target).resolve()
            if candidate != path.resolve():
                included.add(candidate)
    top = [p for p in files if p.resolve() not in included]
    return top or list(files[:1])


def policy_groups(files: Sequence[Path]) -> list[list[Path]]:
    """Policy files by folder: each folder's files are the layers of one policy."""
    groups: dict[Path, list[Path]] = {}
    for path in files:
        if path.name.endswith(POLICY_SUFFIXES):
            groups.setdefault(path.parent, []).append(path)
    return [top_level(group) for _, group in sorted(groups.items())]


# --------------------------------------------------------------------------- checks


def _enabled_checks(config: Config, stage: str):
    from aw_policy.lint.registry import RULES

    return [spec for spec in RULES.values() if spec.stage == stage and config.enabled(spec.code)]


def lint_policy_group(files: Sequence[Path], config: Config) -> tuple[list[Diagnostic], dict[str, str], list]:
    """Diagnostics for policy files merged as layers of one policy; also their texts and
    suppressions (empty when the input could not be read: nothing else ran)."""
    from aw_policy import ir
    from aw_policy.lint import suppress
    from aw_policy.lint.context import PolicySet
    from aw_policy.merge import compile_sources

    try:
        merged = compile_sources(files, default_scope="project")
    except PolicyError as exc:
        return list(exc.diagnostics), _texts(files), []
    texts = {s.display: s.text for s in merged.sources if not s.real.startswith("preset:")}
    reals = {str(p.resolve()) for p in files}
    top = tuple(s for s in merged.sources if s.real in reals) or merged.sources[:1]
    try:
        bound = ir.bind(merged.policy, config.params)
    except ValueError as exc:  # a parameter without a value in the reference binding
        return [Diagnostic("AWP020", f"reference binding: {exc}", Span(top[0].display, 1, 1),
                           hint="give it a default, or a value under [tool.awpolicy.params]")], texts, []
    pset = PolicySet(merged, top, bound, config)
    found: list[Diagnostic] = []
    for spec in _enabled_checks(config, "policy"):
        found += spec.check(pset)
    found = _apply_preset_suppressions(found, pset)
    suppressions, problems = [], []
    for display, text in texts.items():
        s, p = suppress.parse(text, display, "#")
        suppressions += s
        problems += p
    return list(dict.fromkeys(found)) + problems, texts, suppressions  # e.g. one finding per preset include


def _apply_preset_suppressions(found: list[Diagnostic], pset) -> list[Diagnostic]:
    """Drop findings about a preset's rules that the preset itself suppresses, with a reason,
    on the rule's line (a preset author's reviewed decision travels with the preset)."""
    from dataclasses import replace

    from aw_policy.lint import suppress

    if not pset.preset_origins:
        return found
    suppressions = []
    for source in pset.merged.sources:
        if source.real.startswith("preset:"):
            suppressions += suppress.parse(source.text, source.display, "#")[0]
    kept = []
    for d in found:
        origin = pset.preset_origins.get(d)
        if origin is None or suppress.apply([replace(d, span=Span(origin.file, origin.line, origin.col))],
                                            suppressions):
            kept.append(d)
    return kept


def _texts(files: Sequence[Path]) -> dict[str, str]:
    out = {}
    for path in files:
        try:
            out[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    return out


def lint_sbpl_file(path: Path) -> tuple[list[Diagnostic], dict[str, str], list]:
    from aw_policy.lang.load import decode_source
    from aw_policy.lint import suppress

    display = str(path)
    try:
        text = decode_source(path.read_bytes(), display)
    except PolicyError as exc:
        return list(exc.diagnostics), {}, []
    except OSError as exc:
        return [Diagnostic("AWP007", f"cannot read file: {exc.strerror}", Span(display, 1, 1))], {}, []
    try:
        from aw_policy.sbpl.lint import lint_sbpl
    except ImportError:
        return [Diagnostic("AWP007", "this awpolicy has no SBPL checker", Span(display, 1, 1),
                           hint="install the full awpolicy package")], {}, []
    found = list(lint_sbpl(text, display))
    if any(d.code == "AWP501" for d in found):
        return found, {display: text}, []
    suppressions, problems = suppress.parse(text, display, ";")
    return found + problems, {display: text}, suppressions


def lint_paths(paths: Sequence[str], config: Config | None = None, *, fix: bool = False,
               golden: bool = False) -> LintResult:
    """Lint files and folders (or, with ``golden``, the golden examples under them)."""
    from aw_policy.lint import registry, suppress

    config = config or Config()
    if golden:
        return _lint_golden(paths, config)
    files, diagnostics = discover(paths)
    fixed = _fix(files) if fix else ()
    texts: dict[str, str] = {}
    suppressions = []
    for group in policy_groups(files):
        found, t, s = lint_policy_group(group, config)
        diagnostics += found
        texts.update(t)
        suppressions += s
    for path in files:
        if path.name.endswith(SBPL_SUFFIXES):
            found, t, s = lint_sbpl_file(path)
            diagnostics += found
            texts.update(t)
            suppressions += s

    def shown(d: Diagnostic) -> bool:
        return registry.is_input_error(d.code) or config.enabled(d.code)

    kept = suppress.apply([d for d in diagnostics if shown(d)], suppressions)

    def ran(code: str) -> bool:
        spec = registry.get(code)
        return spec is not None and spec.stage in ("policy", "sbpl") and config.enabled(code)

    if config.enabled("AWP031"):
        kept += suppress.unused(suppressions, ran)
    ordered = sorted(kept, key=lambda d: (d.span.file, d.span.line, d.span.col, d.code))
    return LintResult(tuple(str(f) for f in files), tuple(ordered), texts, {}, fixed)


def _lint_golden(paths: Sequence[str], config: Config) -> LintResult:
    from aw_policy.lint.rules.golden.golden_drift import check, find_goldens

    goldens = find_goldens(paths or ["golden"])
    diagnostics: list[Diagnostic] = []
    diffs: dict[str, str] = {}
    if config.enabled("AWP401"):
        for folder in goldens:
            found, d = check(folder, config)
            diagnostics += found
            diffs.update(d)
    return LintResult(tuple(str(g) for g in goldens), tuple(diagnostics), {}, diffs)


# --------------------------------------------------------------------------- --fix


def _fix(files: Sequence[Path]) -> tuple[str, ...]:
    """Apply the safe mechanical fixes in place (atomically); the files that changed."""
    changed = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # reported by the lint itself
        new = _fixed_text(path, text)
        if new is not None and new != text:
            _write_atomic(path, new)
            changed.append(str(path))
    return tuple(changed)


def _fixed_text(path: Path, text: str) -> str | None:
    if path.name.endswith(SBPL_SUFFIXES):
        fix_sbpl = _sbpl_fixer()
        return fix_sbpl(text, str(path)) if fix_sbpl else None
    from aw_policy.lang.load import is_yaml, parse_text
    from aw_policy.lint.rules.syntax.non_canonical_path import apply_edits, edits

    try:
        parsed = parse_text(text, str(path), is_yaml(path.name))
    except PolicyError:
        return None
    return apply_edits(text, edits(text, parsed))


def _sbpl_fixer():
    """The SBPL linter's ``fix_sbpl(text, filename) -> text``, wherever it lives."""
    import importlib

    for module in ("aw_policy.sbpl.lint", "aw_policy.sbpl.fix"):
        try:
            fixer = getattr(importlib.import_module(module), "fix_sbpl", None)
        except ImportError:
            continue
        if fixer is not None:
            return fixer
    return None


def _write_atomic(path: Path, text: str) -> None:
    """Replace a fixed file in one step, keeping its permissions."""
    from aw_runtime.atomic import write_atomic

    write_atomic(path, text.encode("utf-8"), path.stat().st_mode & 0o7777)
