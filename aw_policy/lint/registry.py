"""The rule catalog: one table from stable codes ``AWP###`` to every rule.

Each row names the rule, its category (a folder under ``aw_policy/lint/rules/``),
its default severity and the stage it runs at. The table is plain data: no rule
module is imported until a rule's docs or check are asked for, so ``awpolicy
lint`` pays only for the checks it runs (see ``benchmarks/bench_lint.py``).

A rule's documentation is its module's docstring, in the sections *What it
does*, *Why is this bad?*, *Example* and *Use instead*; ``awpolicy rules CODE``
prints it, and the tests lint the examples (the *Example* must trigger the rule,
the *Use instead* must not). Stages:

``input``
    emitted by the front end (``aw_policy/lang/``, ``aw_policy/merge.py``, the
    SBPL parser): the input could not be read or compiled, nothing else ran on
    it, and the exit code is 2. The module carries the docs only.
``policy``
    ``check(policy_set)`` over a merged policy (:class:`~aw_policy.lint.context.PolicySet`).
``golden``
    ``check(bundle_dir, config)`` over a committed bundle.
``sbpl``
    a check of a Seatbelt profile, in ``aw_policy/sbpl/lint.py`` (``lint_sbpl``
    runs them all). These rows and their docs come from that module's
    ``SBPL_RULES`` table, imported only when a listing or an ``.sb`` file needs it.
``meta``
    emitted by the linter itself (suppression comments).

Codes never change meaning once published; a retired code is never reused.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from aw_policy.diagnostics import Severity, did_you_mean

CATEGORIES: tuple[str, ...] = ("syntax", "semantics", "risk", "portability", "golden", "sbpl")
STAGES: tuple[str, ...] = ("input", "policy", "golden", "sbpl", "meta")
DOC_SECTIONS: tuple[str, ...] = ("What it does", "Why is this bad?", "Example", "Use instead")

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class RuleSpec:
    code: str
    name: str
    category: str
    severity: Severity
    stage: str
    fixable: bool = False
    table_docs: str | None = None  # SBPL rules: docs built from aw_policy.sbpl.lint.SBPL_RULES

    @property
    def module_name(self) -> str:
        return f"aw_policy.lint.rules.{self.category}.{self.name.replace('-', '_')}"

    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    @property
    def docs(self) -> str:
        """The rule's documentation (its module docstring), dedented."""
        import inspect

        if self.table_docs is not None:
            return self.table_docs
        return inspect.cleandoc(self.module().__doc__ or "")

    @property
    def summary(self) -> str:
        """The first line of the docs: one sentence saying what the rule finds."""
        return self.docs.splitlines()[0] if self.docs else self.name

    def section(self, title: str) -> str:
        """The text of one docs section (without its title and underline)."""
        lines = self.docs.splitlines()
        out: list[str] = []
        inside = False
        for i, line in enumerate(lines):
            underline = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
            if underline and line.strip() in DOC_SECTIONS:
                inside = line.strip() == title
                continue
            if inside and set(line.strip()) != {"-"}:
                out.append(line)
        return "\n".join(out).strip("\n")

    def examples(self, which: str) -> dict[str, str]:
        """The files of the docs' *Example* ("bad") or *Use instead* ("good") section.

        Code blocks are indented by four spaces; a ``# file: NAME`` line starts a
        new file (default ``policy.awp``). Tests lint these, so docs cannot drift."""
        text = self.section("Example" if which == "bad" else "Use instead")
        block = [line[4:] if line.startswith("    ") else None for line in text.splitlines()]
        files: dict[str, list[str]] = {}
        name = "profile.sb" if self.category == "sbpl" else "policy.awp"
        for line in block:
            if line is None:
                continue
            stripped = line.strip()
            if stripped.startswith(("# file:", "; file:")):
                name = stripped.split(":", 1)[1].strip()
                files.setdefault(name, [])
                continue
            files.setdefault(name, []).append(line)
        return {n: "\n".join(body).strip("\n") + "\n" for n, body in files.items() if any(body)}

    @property
    def check(self):
        """The check function, or None for rules the front end or the linter itself emits."""
        if self.stage in ("input", "meta", "sbpl"):
            return None
        return self.module().check

    @property
    def is_input(self) -> bool:
        return self.stage == "input"


def _rules(*rows: tuple) -> dict[str, RuleSpec]:
    table: dict[str, RuleSpec] = {}
    for row in rows:
        spec = RuleSpec(*row)
        assert spec.code not in table, spec.code
        assert spec.category in CATEGORIES and spec.stage in STAGES, spec
        table[spec.code] = spec
    return table


#: code -> rule. Sorted by code; see ``awpolicy rules``.
RULES: dict[str, RuleSpec] = _rules(
    # -- syntax and schema: emitted by the front end (exit 2) -----------------------
    ("AWP001", "syntax-error", "syntax", E, "input"),
    ("AWP002", "unterminated-string", "syntax", E, "input"),
    ("AWP003", "unknown-keyword", "syntax", E, "input"),
    ("AWP004", "invalid-encoding", "syntax", E, "input"),
    ("AWP005", "empty-file", "syntax", E, "input"),
    ("AWP006", "file-too-large", "syntax", E, "input"),
    ("AWP007", "unreadable-file", "syntax", E, "input"),
    ("AWP010", "yaml-syntax-error", "syntax", E, "input"),
    ("AWP011", "schema-violation", "syntax", E, "input"),
    ("AWP012", "yaml-too-complex", "syntax", E, "input"),
    ("AWP020", "undefined-param", "semantics", E, "input"),
    ("AWP021", "include-cycle", "semantics", E, "input"),
    ("AWP022", "unknown-include", "syntax", E, "input"),
    ("AWP023", "enforce-outside-org-project", "semantics", E, "input"),
    ("AWP024", "scope-declaration", "syntax", E, "input"),
    ("AWP025", "invalid-path", "syntax", E, "input"),
    ("AWP026", "invalid-target", "syntax", E, "input"),
    ("AWP027", "param-redeclared", "semantics", E, "input"),
    ("AWP028", "invalid-branch", "semantics", E, "input"),
    # -- the linter's own comments ------------------------------------------------
    ("AWP030", "suppression-without-reason", "syntax", W, "meta"),
    ("AWP031", "unused-suppression", "syntax", W, "meta"),
    ("AWP032", "non-canonical-path", "syntax", I, "policy", True),
    # -- semantics ------------------------------------------------------------------
    ("AWP101", "shadowed-rule", "semantics", W, "policy"),
    ("AWP102", "surprising-override", "semantics", W, "policy"),
    ("AWP103", "ineffective-override", "semantics", E, "policy"),
    ("AWP104", "unused-param", "semantics", W, "policy"),
    ("AWP105", "duplicate-rule", "semantics", W, "policy"),
    # -- risk -------------------------------------------------------------------------
    ("AWP201", "secret-readable", "risk", E, "policy"),
    ("AWP202", "dangerous-write", "risk", E, "policy"),
    ("AWP203", "exec-from-writable", "risk", E, "policy"),
    ("AWP204", "network-with-secrets", "risk", E, "policy"),
    ("AWP205", "unanswerable-prompt", "risk", W, "policy"),
    ("AWP206", "preset-writes-outside-workspace", "risk", W, "policy"),
    ("AWP207", "debug-always-on", "risk", W, "policy"),
    # -- portability ----------------------------------------------------------------
    ("AWP301", "glob-best-effort-linux", "portability", W, "policy"),
    ("AWP302", "domain-needs-proxy", "portability", W, "policy"),
    ("AWP303", "landlock-abi", "portability", I, "policy"),
    # -- golden drift ---------------------------------------------------------------
    ("AWP401", "golden-drift", "golden", E, "golden"),
)


_SBPL_CODE_INPUT = ("AWP501",)  # an SBPL file that does not parse: nothing else could run on it


def sbpl_rules() -> dict[str, RuleSpec]:
    """The SBPL-file rules, from the SBPL linter's own table (imported only when asked for)."""
    try:
        from aw_policy.sbpl.lint import SBPL_RULES
    except ImportError:
        return {}
    table: dict[str, RuleSpec] = {}
    for row in SBPL_RULES:
        get_ = _row_getter(row)
        code = get_("code")
        docs = "\n".join([
            get_("summary"), "", "What it does", "------------", get_("summary"), "",
            "Example", "-------", *("    " + line for line in get_("bad").strip("\n").splitlines()), "",
            "Use instead", "-----------", *("    " + line for line in get_("good").strip("\n").splitlines()),
        ])
        severity = Severity(str(getattr(get_("severity"), "value", get_("severity"))))
        table[code] = RuleSpec(code, get_("name"), "sbpl", severity,
                               "input" if code in _SBPL_CODE_INPUT else "sbpl",
                               bool(_field(row, "fixable", False)), docs)
    return table


_SBPL_FIELDS = ("code", "name", "category", "severity", "summary", "bad", "good")


def _row_getter(row):
    """SBPL_RULES rows may be mappings, objects with attributes or plain tuples in _SBPL_FIELDS order."""
    if isinstance(row, dict):
        return row.__getitem__
    if hasattr(row, "code"):
        return lambda key: getattr(row, key)
    return lambda key: row[_SBPL_FIELDS.index(key)]


def _field(row, key: str, default=None):
    try:
        return _row_getter(row)(key)
    except (KeyError, AttributeError, ValueError, IndexError):
        return default


def catalog() -> dict[str, RuleSpec]:
    """Every rule, the SBPL ones included, sorted by code."""
    return dict(sorted({**RULES, **sbpl_rules()}.items()))


def get(code: str) -> RuleSpec | None:
    code = code.upper()
    if code in RULES:
        return RULES[code]
    return sbpl_rules().get(code) if code.startswith("AWP5") else None


def by_name(name: str) -> RuleSpec | None:
    for spec in catalog().values():
        if spec.name == name:
            return spec
    return None


def lookup(word: str) -> RuleSpec:
    """A rule by code or name; KeyError carries a did-you-mean message."""
    spec = get(word) or by_name(word)
    if spec is not None:
        return spec
    every = catalog()
    hint = did_you_mean(word.upper(), every) or did_you_mean(word, [s.name for s in every.values()])
    raise KeyError(f"unknown rule {word!r}" + (f"; {hint}" if hint else "; `awpolicy rules` lists them"))


def is_input_error(code: str) -> bool:
    """True for codes that mean the input could not be read (exit 2)."""
    spec = RULES.get(code)
    if spec is not None:
        return spec.is_input
    if code.startswith("AWP5"):
        return code in _SBPL_CODE_INPUT
    # Codes emitted elsewhere (bundle 6xx, and any 0xx not yet catalogued).
    return code < "AWP100" or code >= "AWP600"


def severity_of(code: str) -> Severity:
    spec = RULES.get(code)
    return spec.severity if spec else Severity.ERROR


def category_of(code: str) -> str | None:
    spec = RULES.get(code)
    if spec is not None:
        return spec.category
    return "sbpl" if code.startswith("AWP5") else None


def matches(code: str, patterns) -> bool:
    """Whether ``code`` is named by any of ``patterns``: a code, a code prefix
    (``AWP2``), a category (``risk``) or a rule name."""
    spec = RULES.get(code)
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        upper = pattern.upper()
        if upper == "ALL" or code.startswith(upper):
            return True
        if pattern == category_of(code) or (spec is not None and pattern == spec.name):
            return True
    return False
