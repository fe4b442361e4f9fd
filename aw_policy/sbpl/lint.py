"""Checks of a Seatbelt profile read as text: ``lint_sbpl(text, filename)``.

The checks read the parsed forms without running them (params are unknown at
lint time), so they look at what is written: ``allow``/``deny`` forms wherever
they appear (top level or inside a ``define``), their operation names, their
filters and the string literals given to those filters.

:data:`SBPL_RULES` is the rule table (code, name, severity, summary, a bad and
a good example); ``awpolicy rules`` imports it. Codes never change meaning.

=======  ===========================  ========  ================================================
code     name                         severity  finds
=======  ===========================  ========  ================================================
AWP501   sbpl-syntax-error            error     text the SBPL reader cannot read
AWP502   sbpl-unknown-operation       error     an operation name not in the catalog
AWP503   sbpl-unknown-filter          error     a filter name not in the catalog
AWP504   sbpl-allow-default           error     ``(allow default)``
AWP505   sbpl-subpath-trailing-slash  warning   ``(subpath "/a/")`` (fixable)
AWP506   sbpl-unresolved-path         warning   ``/tmp``, ``/var``, ``/etc`` in a path filter (fixable)
AWP507   sbpl-unsupported-host        error     a host other than ``*``/``localhost``
AWP508   sbpl-missing-version         error     no ``(version 1)`` (fixable)
AWP509   sbpl-allow-after-deny        warning   an unfiltered allow that cannot undo a filtered deny
AWP510   sbpl-unanchored-regex        warning   a regex not starting with ``^``
AWP511   sbpl-load-error              error     a profile that reads but would not load
=======  ===========================  ========  ================================================

AWP511 comes from running the profile in :mod:`aw_policy.sbpl.evaluator` with
a placeholder for every param (lint does not know their values, so only one
branch of a test on a param is run). A profile that imports another is not run:
what it imports is not known here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aw_policy.backends.macos_paths import ALIASES
from aw_policy.diagnostics import Diagnostic, PolicyError, Severity, Span, did_you_mean
from aw_policy.sbpl import catalog
from aw_policy.sbpl.parser import (
    Profile,
    SList,
    Str,
    Symbol,
    form_head,
    iter_nodes,
    parse_sbpl,
    quote_sbpl_string,
)

__all__ = ["SBPL_RULES", "Edit", "SbplRule", "findings", "lint_profile", "lint_sbpl"]

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True)
class SbplRule:
    code: str
    name: str
    severity: Severity
    summary: str
    bad: str
    good: str
    fixable: bool = False
    category: str = "sbpl"


SBPL_RULES: tuple[SbplRule, ...] = (
    SbplRule("AWP501", "sbpl-syntax-error", E,
             "The profile cannot be read: unbalanced parentheses, an unterminated string, a NUL or bad UTF-8.",
             '(allow file-read* (subpath "/usr/lib")', '(allow file-read* (subpath "/usr/lib"))'),
    SbplRule("AWP502", "sbpl-unknown-operation", E,
             "An operation name that no macOS version in our catalog knows: the profile fails to load.",
             '(allow file-raed* (subpath "/usr/lib"))', '(allow file-read* (subpath "/usr/lib"))'),
    SbplRule("AWP503", "sbpl-unknown-filter", E,
             "A filter name that no macOS version in our catalog knows: the profile fails to load.",
             '(allow file-read* (sub-path "/usr/lib"))', '(allow file-read* (subpath "/usr/lib"))'),
    SbplRule("AWP504", "sbpl-allow-default", E,
             "(allow default) makes every operation no rule names allowed: a sandbox that denies almost nothing.",
             "(version 1)\n(allow default)", "(version 1)\n(deny default)"),
    SbplRule("AWP505", "sbpl-subpath-trailing-slash", W,
             "A subpath ending with '/' matches neither the directory itself nor, as paths are resolved, "
             "anything below it.",
             '(allow file-read* (subpath "/usr/lib/"))', '(allow file-read* (subpath "/usr/lib"))', True),
    SbplRule("AWP506", "sbpl-unresolved-path", W,
             "Seatbelt sees resolved paths: /tmp, /var and /etc are /private/tmp, /private/var and "
             "/private/etc, so a rule on /tmp never matches.",
             '(allow file-write* (subpath "/tmp"))', '(allow file-write* (subpath "/private/tmp"))', True),
    SbplRule("AWP507", "sbpl-unsupported-host", E,
             "local/remote filters accept only the hosts * and localhost; any other host fails the load.",
             '(allow network-outbound (remote tcp "10.0.0.1:443"))',
             '(allow network-outbound (remote tcp "*:443"))'),
    SbplRule("AWP508", "sbpl-missing-version", E,
             "A profile must start with (version 1).",
             "(deny default)", "(version 1)\n(deny default)", True),
    SbplRule("AWP509", "sbpl-allow-after-deny", W,
             "An unfiltered allow written after a filtered deny does not override it: a matching filtered "
             "rule always beats an unfiltered one, wherever it is written.",
             '(deny file-read* (subpath "/secret"))\n(allow file-read*)',
             '(deny file-read* (subpath "/secret"))\n(allow file-read* (literal "/secret/public"))'),
    SbplRule("AWP510", "sbpl-unanchored-regex", W,
             "A regex is searched anywhere in the path: without a leading ^ it also matches inside other paths.",
             '(deny file-read* (regex #"/\\.ssh/"))', '(deny file-read* (regex #"^/Users/[^/]+/\\.ssh/"))'),
    SbplRule("AWP511", "sbpl-load-error", E,
             "The profile reads but would not load: an unknown modifier, a wrong argument, a regex that is "
             "not POSIX, a call to something never defined.",
             '(deny file-write* (subpath "/Users") (with shout))',
             '(deny file-write* (subpath "/Users") (with report))'),
)

RULES_BY_CODE = {rule.code: rule for rule in SBPL_RULES}

PATH_FILTERS = frozenset({"literal", "path", "path-literal", "subpath", "prefix", "regex"})
REGEX_FILTERS = frozenset(name for name in catalog.FILTERS if name == "regex" or name.endswith("-regex"))
_BUILTIN_CALLS = frozenset(catalog.SPECIAL_FORMS | catalog.PROCEDURES | {"param", "param-true?", "with"})


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with ``text`` (a mechanical fix)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Finding:
    diagnostic: Diagnostic
    edits: tuple[Edit, ...] = ()


def _diag(profile: Profile, code: str, node, message: str, hint: str, related=()) -> Diagnostic:
    return Diagnostic(code, message, profile.span(node), RULES_BY_CODE[code].severity, hint, tuple(related))


def lint_sbpl(text: str | bytes, filename: str = "<sbpl>") -> list[Diagnostic]:
    """Every finding in an SBPL profile, in document order; a syntax error stops at AWP501."""
    try:
        profile = parse_sbpl(text, filename)
    except PolicyError as exc:
        return list(exc.diagnostics)
    return lint_profile(profile)


def lint_profile(profile: Profile) -> list[Diagnostic]:
    return [f.diagnostic for f in findings(profile)]


def findings(profile: Profile) -> list[Finding]:
    """Diagnostics with the edits that fix them (for :func:`aw_policy.sbpl.fix.fix_sbpl`)."""
    out: list[Finding] = []
    out += _missing_version(profile)
    defined = _defined_names(profile)
    for form in _rule_forms(profile):
        out += _check_rule(profile, form, defined)
    out += _allow_after_deny(profile, defined)
    out += _load_errors(profile)
    return sorted(out, key=lambda f: (f.diagnostic.span.line, f.diagnostic.span.col, f.diagnostic.code))


# --------------------------------------------------------------------------- walking


def _rule_forms(profile: Profile) -> Iterator[SList]:
    """``(allow ...)`` and ``(deny ...)`` calls in document order; quoted data is not code."""
    stack = list(reversed(profile.forms))
    while stack:
        node = stack.pop()
        if not isinstance(node, SList):
            continue
        if form_head(node) in ("allow", "deny"):
            yield node
        stack.extend(reversed(node.items))


def _defined_names(profile: Profile) -> frozenset[str]:
    """Every name the profile binds (define, lambda and let parameters): never 'unknown'."""
    names: set[str] = set()
    for node in iter_nodes(profile):
        head = form_head(node)
        if head == "define" and len(node.items) > 1:
            target = node.items[1]
            if isinstance(target, Symbol):
                names.add(target.name)
            elif isinstance(target, SList):
                names.update(item.name for item in target.items if isinstance(item, Symbol))
        elif head == "lambda" and len(node.items) > 1:
            spec = node.items[1]
            if isinstance(spec, Symbol):
                names.add(spec.name)
            elif isinstance(spec, SList):
                names.update(item.name for item in spec.items if isinstance(item, Symbol))
        elif head in ("let", "let*", "letrec") and len(node.items) > 1 and isinstance(node.items[1], SList):
            for binding in node.items[1].items:
                if isinstance(binding, SList) and binding.items and isinstance(binding.items[0], Symbol):
                    names.add(binding.items[0].name)
    return frozenset(names)


def _filter_calls(args) -> Iterator[SList]:
    """The filter calls among a rule's arguments, descending into require-any/all/not."""
    stack = [a for a in reversed(args) if isinstance(a, SList)]
    while stack:
        node = stack.pop()
        yield node
        if form_head(node) in catalog.METAFILTERS:
            stack.extend(a for a in reversed(node.items[1:]) if isinstance(a, SList))


def _operations(form: SList) -> list[Symbol]:
    return [a for a in form.items[1:] if isinstance(a, Symbol)]


def _is_filtered(form: SList) -> bool:
    """A rule with any argument besides operation names and (with ...) modifiers."""
    for arg in form.items[1:]:
        if isinstance(arg, Symbol):
            continue
        if form_head(arg) == "with":
            continue
        return True
    return False


# --------------------------------------------------------------------------- checks


def _missing_version(profile: Profile) -> list[Finding]:
    for form in profile.forms:
        if form_head(form) == "version":
            return []
    start = Span(profile.filename, 1, 1, 1, 2)
    diag = Diagnostic("AWP508", "the profile has no (version 1)", start, RULES_BY_CODE["AWP508"].severity,
                      "start the profile with (version 1)")
    return [Finding(diag, (Edit(0, 0, "(version 1)\n"),))]


def _check_rule(profile: Profile, form: SList, defined: frozenset[str]) -> list[Finding]:
    out: list[Finding] = []
    effect = form_head(form)
    for sym in _operations(form):
        name = sym.name
        if name == "default" and effect == "allow":
            out.append(Finding(_diag(profile, "AWP504", form, "(allow default) allows every operation no rule names",
                                     "start from (deny default) and allow what the program needs")))
        elif not catalog.is_operation(name) and name not in defined:
            hint = did_you_mean(name, catalog.operation_names()) or "see the operation catalog in aw_policy/sbpl/catalog.py"
            out.append(Finding(_diag(profile, "AWP502", sym, f"unknown operation {name!r}", hint)))
    for call in _filter_calls(form.items[1:]):
        out += _check_filter(profile, call, defined)
    return out


def _check_filter(profile: Profile, call: SList, defined: frozenset[str]) -> list[Finding]:
    head = form_head(call)
    if head is None:
        return []
    known = head in catalog.filter_names() or head in _BUILTIN_CALLS or head in defined
    if not known:
        hint = did_you_mean(head, catalog.filter_names()) or "see the filter catalog in aw_policy/sbpl/catalog.py"
        return [Finding(_diag(profile, "AWP503", call.items[0], f"unknown filter {head!r}", hint))]
    out: list[Finding] = []
    arg = _literal_arg(call)
    if head in PATH_FILTERS and arg is not None:
        out += _unresolved_path(profile, head, arg)
        if head == "subpath":
            out += _trailing_slash(profile, arg)
    if head in REGEX_FILTERS and arg is not None and not arg.value.startswith("^"):
        out.append(Finding(_diag(
            profile, "AWP510", arg, f"regex {arg.value!r} is not anchored with '^'",
            "a regex matches anywhere in the path (no directory boundary); start it with ^ "
            "and end it with $ unless a prefix match is meant")))
    if head in ("local", "remote"):
        out += _host(profile, call)
    return out


def _literal_arg(call: SList) -> Str | None:
    """The string literal a filter reads: its argument, or the first piece of a string-append."""
    if len(call.items) != 2:
        return None
    arg = call.items[1]
    if isinstance(arg, Str):
        return arg
    if form_head(arg) == "string-append" and len(arg.items) > 1 and isinstance(arg.items[1], Str):
        return arg.items[1]
    return None


def _unresolved_path(profile: Profile, head: str, arg: Str) -> list[Finding]:
    value = arg.value
    anchor = "^" if head == "regex" else ""
    if not value.startswith(anchor):
        return []
    rest = value[len(anchor):]
    for alias, resolved in ALIASES.items():
        if rest == alias or rest.startswith(alias + "/") or (anchor and rest.startswith(alias + "$")):
            at = arg.start + (2 if arg.raw else 1) + len(anchor)  # where the alias starts in the text
            edits = ()
            if profile.text[at : at + len(alias)] == alias:  # the bytes spell the alias plainly: safe to edit
                edits = (Edit(at, at + len(alias), resolved),)
            return [Finding(_diag(
                profile, "AWP506", arg, f"{alias} is a symlink on macOS: Seatbelt only sees {resolved}",
                f"write {quote_sbpl_string(anchor + resolved + rest[len(alias):])}"), edits)]
    return []


def _trailing_slash(profile: Profile, arg: Str) -> list[Finding]:
    value = arg.value
    if len(value) < 2 or not value.endswith("/"):
        return []
    stripped = value.rstrip("/") or "/"
    extra = len(value) - len(stripped)
    body_end = arg.end - 1  # the closing quote
    edits = ()
    if profile.text[body_end - extra : body_end] == "/" * extra:
        edits = (Edit(body_end - extra, body_end, ""),)
    return [Finding(_diag(
        profile, "AWP505", arg, f"subpath {value!r} ends with '/'",
        f"write (subpath {quote_sbpl_string(stripped)}): a subpath covers the directory and everything below it"), edits)]


def _host(profile: Profile, call: SList) -> list[Finding]:
    if len(call.items) < 3 or not isinstance(call.items[2], Str):
        return []
    arg = call.items[2]
    address = arg.value
    host, sep, _port = address.rpartition(":")
    if sep and host in ("*", "localhost"):
        return []
    shown = host if sep else address
    return [Finding(_diag(
        profile, "AWP507", arg, f"host {shown!r} in {address!r}: Seatbelt accepts only * or localhost",
        'write "*:PORT" or "localhost:PORT"; a numeric address or a name fails to load, '
        "so limit hosts with a proxy instead"))]


def _allow_after_deny(profile: Profile, defined: frozenset[str]) -> list[Finding]:
    """An unfiltered allow that overlaps an earlier filtered deny (document order)."""
    out: list[Finding] = []
    denies: list[tuple[SList, list[str]]] = []
    for form in _rule_forms(profile):
        ops = [s.name for s in _operations(form) if catalog.is_operation(s.name) and s.name != "default"]
        if not ops:
            continue
        filtered = _is_filtered(form)
        if form_head(form) == "deny" and filtered:
            denies.append((form, ops))
            continue
        if form_head(form) != "allow" or filtered:
            continue
        for deny, deny_ops in denies:
            shared = [a for a in ops if any(catalog.covers(a, d) or catalog.covers(d, a) for d in deny_ops)]
            if shared:
                span = profile.span(deny)
                out.append(Finding(_diag(
                    profile, "AWP509", form,
                    f"this unfiltered (allow {shared[0]}) does not override the filtered deny at "
                    f"{span.line}:{span.col}",
                    "in Seatbelt an unfiltered rule only sets the fallback of its operations; a matching "
                    "filtered rule always wins over it, wherever it is written. To let something through "
                    "that the deny covers, write a filtered allow after the deny (the last matching "
                    "filtered rule wins), or narrow the deny",
                    related=(("the filtered deny", span),))))
                break
    return out


class _AnyParam(dict):
    """Params as lint sees them: every name is given, with a placeholder path."""

    PLACEHOLDER = "/awpolicy-lint-param"

    def __contains__(self, name) -> bool:
        return True

    def __getitem__(self, name) -> str:
        return self.PLACEHOLDER

    def get(self, name, default=None) -> str:
        return self.PLACEHOLDER


def _load_errors(profile: Profile) -> list[Finding]:
    """AWP511: run the profile; its other load errors are the static checks' findings already."""
    from aw_policy.sbpl.evaluator import EVAL_CODE, load_profile

    if any(form_head(node) == "import" for node in iter_nodes(profile)):
        return []
    try:
        load_profile(profile, _AnyParam(), profile.filename)
    except PolicyError as exc:
        return [Finding(d) for d in exc.diagnostics if d.code == EVAL_CODE]
    return []
