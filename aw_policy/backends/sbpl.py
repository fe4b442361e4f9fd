"""SBPL backend: ``profile.sb`` and ``profile.supervised.sb`` for macOS Seatbelt.

The two profiles differ only in ``prompt``: deny in ``profile.sb`` (no one to
ask), allow in ``profile.supervised.sb`` (the runtime picks it only once the
supervisor answers; the ES table gates those operations). Both start with
``(version 1)`` and ``(deny default)``.

How Seatbelt's evaluation is made to yield :func:`aw_policy.ir.decide`
----------------------------------------------------------------------
Seatbelt takes, per operation, the *last matching filtered rule*; decide()
takes the matching rule with the highest precedence key. So every IR rule
becomes one filtered SBPL rule, emitted in ascending precedence under the
reference binding (``ir.precedence_order``, the ``order`` recorded in
``manifest.json``): whenever two rules match one request, the one decide()
prefers comes later. Specificity depends on bound parameter values, so the
order is only valid for bindings that give the same order; the runtime
recomputes it at launch and re-renders with this module when it differs
(DESIGN.md "Semantics"). Class defaults are lowest in that order, so the
winning one becomes an *unfiltered* rule (the operation's fallback), or
nothing when it is deny (``(deny default)`` already says so).

Operations: read -> ``file-read*``, write -> ``file-write*``, exec ->
``process-exec``, connect -> ``network-outbound`` with ``(remote ip
"host:port")``, bind -> ``network-bind`` with ``(local ip ...)``, signal ->
``signal`` with ``(target ...)``, mach -> ``mach-lookup`` with
``global-name`` (or ``global-name-prefix`` for ``name.*``), debug ->
``mach-priv-task-port`` with ``(target same-sandbox)``.

Read means every ``file-read*`` operation: data, directory listing,
metadata (stat) and extended attributes are one permission, as in decide().
We do not grant ``file-read-metadata`` on the ancestors of allowed roots
behind the policy's back (their names depend on parameter values, and a
silent grant would differ from decide()); a policy that needs ``stat`` on
ancestors says so with ``allow read literal``, as ``macos-base`` does for
``/``.

Paths and strings
-----------------
Paths are emitted resolved for macOS (``/tmp``, ``/var``, ``/etc`` ->
``/private/...``, via :mod:`aw_policy.backends.macos_paths`); parameters stay
symbolic as ``(param "NAME")`` and :func:`launch_params` gives the launcher
the values to pass with ``sandbox-exec -D`` (canonicalized the same way).
Subtrees become ``(subpath ...)`` and never end with ``/``; globs become
anchored regexes with every ERE metacharacter quoted. Every string goes
through :func:`aw_policy.sbpl.parser.quote_sbpl_string`; comments are
escaped to one line of ASCII, so no path, parameter value or name can close
a string or start a form.

Case-insensitive file systems
-----------------------------
APFS is case-insensitive by default; Seatbelt's path matching is not. So
every rule whose SBPL effect is *deny* (deny, and prompt in ``profile.sb``)
matches case-insensitively: its path becomes an anchored regex where each
letter is a class (``~/.ssh`` -> ``/\\.[sS][sS][hH](/|$)``), and parameter
values enter through their case-folded regex form ``(param "AWP_CI_RE_HOME")``.
Allow rules stay exact, so a case variant of an allowed path is not allowed
by that rule (it falls to whatever else matches, at worst the default deny).
This fails closed: if the profile allows a path, decide() allows it too, and
no deny can be dodged by changing case. Letters whose other case is more than
one character (``ß`` / ``SS``) keep their own spelling only: APFS's folding
of those is not something we could verify. APFS also treats the composed and
decomposed Unicode spellings of a name as one (normalization-insensitive), so
the same regexes match both: ``é`` becomes ``(é|É|e\u0301|E\u0301)``, a group
rather than a bracket because how Seatbelt's classes treat multi-byte UTF-8
is not documented.

Hosts
-----
Seatbelt accepts only ``*`` and ``localhost`` as hosts. A rule naming any
other host (``api.example.com:443``, ``169.254.169.254:*``) is left out of the
profile and enforced by the filtering proxy; each profile lists such rules in
a comment and ``sbpl-notes.json`` names them. Leaving out a deny must not
open what it closed: an allow on ``*`` that such a deny would beat for some
host is narrowed to ``localhost`` (recorded as ``localhost_only``), so the
profile never allows a connection decide() denies.

Signals
-------
Seatbelt always lets a process signal itself (an implicit rule), whatever the
policy says. decide()'s ``others`` target means "none of the named ones", so
it is emitted as ``others`` minus ``children``, ``pgrp`` and ``same-sandbox``.

Debug mode
----------
A debugger on macOS attaches through the target's task control port
(``task_for_pid``), which Seatbelt gates as ``mach-priv-task-port``: a
target-filtered operation in libsandbox's operation table (macOS 14.4.1, see
:mod:`aw_policy.sbpl.catalog`), written ``(allow mach-priv-task-port (target
same-sandbox))`` by public profiles derived from Chromium's. ``(deny default)``
covers it, so without an allow no process in the sandbox gets another's task
port. Process inspection (``process-info*``) is already limited to the sandbox
by the base block. Seatbelt only stops refusing: macOS itself still asks the
debugger for its entitlement and the target for ``get-task-allow``.

Base block (not expressible in the policy language)
----------------------------------------------------
The DSL has no words for forking, sysctls, terminal ioctls or process
inspection, yet nothing starts without the first three. The template emits a
fixed, versioned base block: ``process-fork``; ``sysctl-read`` of the
``hw.``, ``kern.`` and a few ``machdep.``/``vm.``/``sysctl.`` names that libc
and language runtimes query at start; ``file-ioctl`` on ``/dev/null``,
``/dev/tty``, ``/dev/ptmx`` and ``/dev/ttys*``; and ``process-info*`` and
``nvram*``, which ``(deny default)`` does not cover, restricted to the
process's own sandbox and denied respectively.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from aw_policy import ir, paths
from aw_policy.backends import macos_paths
from aw_policy.bundle import Artifact, dumps
from aw_policy.diagnostics import Diagnostic, PolicyError, Span

PROFILE = "profile.sb"
SUPERVISED = "profile.supervised.sb"
NOTES = "sbpl-notes.json"
NOTES_FORMAT = "awpolicy.sbpl-notes/1"
TEMPLATE = "profile.sb.j2"
#: Version of the base block in the template (bump when it changes).
BASE_VERSION = 1

OPERATION = {
    "read": "file-read*",
    "write": "file-write*",
    "exec": "process-exec",
    "connect": "network-outbound",
    "bind": "network-bind",
    "signal": "signal",
    "mach": "mach-lookup",
    "debug": "mach-priv-task-port",
}
SBPL_HOSTS = ("*", "localhost")
SIGNAL_TARGETS = ("self", "pgrp", "children", "same-sandbox", "others")
#: Prefixes of the parameters :func:`launch_params` derives for regex use (identifiers, so
#: every launcher can pass them with -D; a policy parameter of that name is refused).
RE_PREFIX = "AWP_RE_"
CI_RE_PREFIX = "AWP_CI_RE_"
#: Characters special in a POSIX ERE outside brackets; each is quoted with a backslash.
#: ``]`` and ``}`` are ordinary there, and POSIX leaves a backslash before an ordinary
#: character undefined, so they are written as they are.
ERE_SPECIAL = frozenset(".[\\()*+?{|^$")


# --------------------------------------------------------------------------- values for the template


@dataclass(frozen=True)
class Piece:
    """One part of a string expression: ``text`` (a plain string), ``regex`` (regex text) or ``param``."""

    kind: str
    value: str


@dataclass(frozen=True)
class Filter:
    """One SBPL filter: ``kind`` names the template macro, ``pieces`` its string argument."""

    kind: str  # literal subpath regex remote local target others global-name global-name-prefix
    pieces: tuple[Piece, ...] = ()
    word: str = ""  # target name, or the address "host:port"


@dataclass(frozen=True)
class SbplRule:
    effect: str  # allow | deny
    operation: str
    filters: tuple[Filter, ...]  # empty: unfiltered (sets the operation's fallback)
    report: bool
    note: str  # comment: where the rule came from


# --------------------------------------------------------------------------- regex and parameters


_ERE_ESCAPES = {ord(c): "\\" + c for c in ERE_SPECIAL}


#: The last code point with a decomposition (U+2FA1D, in CJK Compatibility Ideographs Supplement):
#: the scan stops there (tests/sbpl_backend/test_backend.py checks it for this Python's Unicode).
LAST_DECOMPOSABLE = 0x2FA1D


@functools.lru_cache(maxsize=1)
def _singletons() -> dict[str, tuple[str, ...]]:
    """Characters that normalization replaces by one other character (U+212A KELVIN SIGN -> K,
    U+212B ANGSTROM SIGN -> \u00c5, the CJK compatibility ideographs), keyed by what they become.
    NFC has already replaced them in a pattern, but a process may open a path spelt with them,
    and APFS takes it for the same name."""
    out: dict[str, list[str]] = {}
    for cp in range(0x80, LAST_DECOMPOSABLE + 1):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and " " not in decomposition and not decomposition.startswith("<"):
            out.setdefault(unicodedata.normalize("NFC", chr(cp)), []).append(chr(cp))
    return {target: tuple(sources) for target, sources in out.items()}


def _fold(c: str) -> str:
    """Every spelling APFS takes for the character ``c``: both cases, composed and decomposed,
    and the characters normalization turns into one of those."""
    cases = [v for v in (c.lower(), c.upper()) if len(v) == 1] or [c]
    if c not in cases:
        cases.append(c)
    cases += [s for v in cases for s in _singletons().get(v, ())]
    spellings = list(dict.fromkeys(cases + [unicodedata.normalize("NFD", v) for v in cases]))
    if len(spellings) == 1:
        return c
    if all(len(v) == 1 and v.isascii() for v in spellings):
        return "[" + "".join(spellings) + "]"
    # Alternation, not a bracket: whether Seatbelt's regex classes see characters or
    # UTF-8 bytes is not documented, and a group of byte strings is right either way.
    return "(" + "|".join(spellings) + ")"


def ere_quote(text: str, case_insensitive: bool = False) -> str:
    """``text`` as a POSIX ERE matching exactly it; with ``case_insensitive``, matching every
    spelling APFS treats as the same name: each cased letter becomes a class (``s`` ->
    ``[sS]``) and each composed letter also matches its decomposed form (``é`` -> ``(e\u0301|é|...)``)."""
    if not case_insensitive:
        return text.translate(_ERE_ESCAPES)
    composed = unicodedata.normalize("NFC", text)
    folded = "".join(_fold(c) for c in composed.translate(_ERE_ESCAPES))
    if composed == text:
        return folded
    # Normalizing regrouped characters (U+0344 -> U+0308 U+0301): also match the text as written.
    return f"({folded}|{''.join(_fold(c) for c in text.translate(_ERE_ESCAPES))})"


def launch_params(values: dict[str, str]) -> dict[str, str]:
    """The ``-D NAME=value`` pairs ``sandbox-exec`` needs for these parameter values.

    Each parameter is resolved and canonicalized for macOS (``/tmp`` ->
    ``/private/tmp``), and gets two derived forms used inside regexes:
    ``AWP_RE_NAME`` (quoted) and ``AWP_CI_RE_NAME`` (quoted, case-insensitive).
    Refused with ValueError: the root ``/`` as a value (rules append
    ``/child`` to values, which would give ``//child``) and a policy parameter
    whose name is one of the derived ones.
    """
    resolved = macos_paths.canonical_params(paths.resolve_params(values))
    out: dict[str, str] = {}
    for name, value in sorted(resolved.items()):
        if name.startswith((RE_PREFIX, CI_RE_PREFIX)):
            raise ValueError(f"parameter name {name} is reserved for awpolicy's regex forms; rename it")
        if value == "/":
            raise ValueError(f"parameter {name} is '/': give a directory below the root")
        out[name] = value
        out[RE_PREFIX + name] = ere_quote(value)
        out[CI_RE_PREFIX + name] = ere_quote(value, case_insensitive=True)
    return out


def _split_params(pattern: str) -> list[tuple[str, str]]:
    """``"${HOME}/a"`` -> [("param", "HOME"), ("text", "/a")]."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in paths.PARAM_RE.finditer(pattern):
        if m.start() > pos:
            parts.append(("text", pattern[pos:m.start()]))
        parts.append(("param", m.group(1)))
        pos = m.end()
    if pos < len(pattern):
        parts.append(("text", pattern[pos:]))
    return parts


def _exact_pieces(pattern: str) -> tuple[Piece, ...]:
    return tuple(Piece(kind, value) for kind, value in _split_params(pattern))


def _glob_regex(text: str, case_insensitive: bool) -> str:
    """Regex for glob text between parameters (``*`` one component's characters, ``?`` one
    character, ``**`` as a whole component any number of components)."""
    out = []
    for i, comp in enumerate(text.split("/")):
        if i > 0:
            if comp == "**":
                out.append("(/[^/]+)*")
                continue
            out.append("/")
        for c in comp:
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else ere_quote(c, case_insensitive))
    return "".join(out)


def _regex_pieces(kind: str, pattern: str, case_insensitive: bool) -> tuple[Piece, ...]:
    """An anchored regex (as pieces) matching what ``ir`` matches for this path pattern."""
    prefix = CI_RE_PREFIX if case_insensitive else RE_PREFIX
    pieces = [Piece("regex", "^")]
    parts = _split_params(pattern)
    if kind == "glob" and pattern == "/":
        parts = [("text", "")]
    for part_kind, value in parts:
        if part_kind == "param":
            pieces.append(Piece("param", prefix + value))
        elif kind == "glob":
            pieces.append(Piece("regex", _glob_regex(value, case_insensitive)))
        else:
            pieces.append(Piece("regex", ere_quote(value, case_insensitive)))
    if kind == "glob" and pattern == "/":
        pieces.append(Piece("regex", "/"))
    pieces.append(Piece("regex", "$" if kind in ("literal", "glob") else "(/|$)"))
    merged: list[Piece] = []
    for piece in pieces:  # join adjacent regex text: one string per run
        if merged and piece.kind == "regex" and merged[-1].kind == "regex":
            merged[-1] = Piece("regex", merged[-1].value + piece.value)
        else:
            merged.append(piece)
    return tuple(merged)


def _has_case(text: str) -> bool:
    return any(c.lower() != c.upper() for c in text)


def path_filter(kind: str, pattern: str, case_insensitive: bool) -> Filter:
    """The filter for a (canonicalized, symbolic) path pattern."""
    needs_ci = case_insensitive and (_has_case(pattern) or bool(paths.params_in(pattern))) and pattern != "/"
    if kind == "glob" or needs_ci:
        return Filter("regex", _regex_pieces(kind, pattern, needs_ci))
    return Filter("subpath" if kind == "subtree" else "literal", _exact_pieces(pattern))


# --------------------------------------------------------------------------- planning


def _sbpl_effect(effect: str, supervised: bool) -> str:
    if effect == "prompt":
        return "allow" if supervised else "deny"
    return effect


def _note(rule: ir.Rule) -> str:
    return f"{rule.id} {rule.scope} {rule.origin.file}:{rule.origin.line}:{rule.origin.col}: {rule.describe()}"


def _ports_overlap(a: str, b: str) -> bool:
    return a == "*" or b == "*" or a == b


def _host_filter(rule: ir.Rule, host: str, port: str) -> Filter:
    return Filter("remote" if rule.op == "connect" else "local", word=f"{host}:{port}")


def _check_writable(rule: ir.Rule) -> None:
    """SBPL strings are C strings of UTF-8: a NUL or a lone surrogate cannot be written."""
    text = rule.pattern
    bad = "\x00" in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        bad = True
    if bad:
        o = rule.origin
        raise PolicyError(Diagnostic(
            "AWP520", f"{rule.describe()}: contains a character a Seatbelt profile cannot hold (NUL or a lone surrogate)",
            Span(o.file, o.line, o.col), hint="remove the character from the pattern",
        ))


def _filters(rule: ir.Rule, effect: str) -> tuple[Filter, ...]:
    if rule.kind in ("subtree", "literal", "glob"):
        return (path_filter(rule.kind, macos_paths.canonical(rule.pattern), case_insensitive=effect == "deny"),)
    if rule.kind == "host":
        host, port = ir.split_host_port(rule.pattern)
        return (_host_filter(rule, host, port),)
    if rule.kind == "debug":
        return (Filter("target", word=rule.pattern),)  # same-sandbox: merge refuses every other word
    if rule.kind == "signal":
        if rule.pattern == "any":
            return tuple(Filter("target", word=t) for t in SIGNAL_TARGETS)
        return (Filter("others" if rule.pattern == "others" else "target", word=rule.pattern),)
    if rule.pattern.endswith("*"):
        return (Filter("global-name-prefix", (Piece("text", rule.pattern[:-1]),)),)
    return (Filter("global-name", (Piece("text", rule.pattern),)),)


@dataclass(frozen=True)
class Plan:
    rules: tuple[SbplRule, ...]
    proxy_enforced: tuple[ir.Rule, ...]  # hosts Seatbelt cannot name: left to the proxy
    localhost_only: tuple[ir.Rule, ...]  # '*' allows narrowed so an omitted deny stays closed


def reference_order(policy: ir.Policy, reference: dict[str, str]) -> list[str]:
    """Rule ids in ascending precedence under the reference binding (what manifest.json records)."""
    for rule in policy.rules:
        _check_writable(rule)
    values = policy.param_defaults()
    values.update(reference)
    return ir.precedence_order(ir.BoundPolicy(policy, paths.resolve_params(values)))


def plan(policy: ir.Policy, order: list[str], supervised: bool) -> Plan:
    """The SBPL rules of one profile, in emission order (see the module docstring)."""
    by_id = {r.id: r for r in policy.rules}
    ordered = [by_id[rid] for rid in order]
    position = {rid: i for i, rid in enumerate(order)}

    unexpressible = [r for r in ordered if r.kind == "host" and ir.split_host_port(r.pattern)[0] not in SBPL_HOSTS]
    left_out = {r.id for r in unexpressible}
    closing = [r for r in unexpressible if _sbpl_effect(r.effect, supervised) == "deny"]

    def undermined(rule: ir.Rule, op: str, port: str) -> bool:
        """Would a left-out deny beat this allow for some host it matches?"""
        return any(d.op == op and position[d.id] > position[rule.id]
                   and _ports_overlap(port, ir.split_host_port(d.pattern)[1]) for d in closing)

    defaults: dict[str, ir.Rule] = {}
    for r in ordered:
        if r.kind == "default":
            defaults[r.cls] = r  # ascending: the last one of a class is the one that holds
    out: list[SbplRule] = []
    narrowed: list[ir.Rule] = []
    for cls, rule in sorted(defaults.items()):
        if _sbpl_effect(rule.effect, supervised) != "allow":
            continue
        for op in (op for op in ir.OPERATIONS if ir.OP_CLASS[op] == cls):
            filters: tuple[Filter, ...] = ()
            if cls == "net" and undermined(rule, op, "*"):
                filters = (Filter("remote" if op == "connect" else "local", word="localhost:*"),)
                narrowed.append(rule)
            out.append(SbplRule("allow", OPERATION[op], filters, rule.audit, _note(rule)))
    for rule in ordered:
        if rule.kind == "default" or rule.id in left_out:
            continue
        effect = _sbpl_effect(rule.effect, supervised)
        filters = _filters(rule, effect)
        if rule.kind == "host" and effect == "allow":
            host, port = ir.split_host_port(rule.pattern)
            if host == "*" and undermined(rule, rule.op, port):
                filters = (_host_filter(rule, "localhost", port),)
                narrowed.append(rule)
        out.append(SbplRule(effect, OPERATION[rule.op], filters, rule.audit, _note(rule)))
    return Plan(tuple(out), tuple(unexpressible), tuple(dict.fromkeys(narrowed)))


# --------------------------------------------------------------------------- rendering


def comment(text: str) -> str:
    """Text for a ``;`` comment: one line of printable ASCII whatever the input."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c < "\x7f" else c.encode("unicode_escape").decode("ascii") for c in str(text))


def regex_literal(text: str) -> str:
    """A regex as ``#"..."`` when the raw form can hold it, else as an escaped string."""
    if '"' in text or any(c < " " or c == "\x7f" for c in text) or text.endswith("\\"):
        from aw_policy.sbpl.parser import quote_sbpl_string

        return quote_sbpl_string(text)
    return f'#"{text}"'


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    from aw_policy.resources import resource_path
    from aw_policy.sbpl.parser import quote_sbpl_string

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_path("templates", TEMPLATE).parent)),
        autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["sbpl_string"] = quote_sbpl_string
    env.filters["sbpl_regex"] = regex_literal
    env.filters["comment"] = comment
    return env


def _params_used(rules: tuple[SbplRule, ...]) -> list[str]:
    return sorted({p.value for r in rules for f in r.filters for p in f.pieces if p.kind == "param"})


def render_profile(policy: ir.Policy, reference: dict[str, str], supervised: bool,
                   order: list[str] | None = None) -> tuple[str, Plan]:
    """One profile's text (and its plan); ``order`` saves recomputing :func:`reference_order`."""
    if order is None:
        order = reference_order(policy, reference)
    profile_plan = plan(policy, order, supervised)
    text = _environment().get_template(TEMPLATE).render(
        supervised=supervised,
        base_version=BASE_VERSION,
        params=_params_used(profile_plan.rules),
        rules=profile_plan.rules,
        proxy_enforced=[_note(r) for r in profile_plan.proxy_enforced],
        localhost_only=[_note(r) for r in profile_plan.localhost_only],
    )
    return text, profile_plan


def render(policy: ir.Policy, reference: dict[str, str]) -> list[Artifact]:
    artifacts = []
    notes = {"format": NOTES_FORMAT}
    order = reference_order(policy, reference)
    for path, kind, supervised in ((PROFILE, "sbpl", False), (SUPERVISED, "sbpl-supervised", True)):
        text, profile_plan = render_profile(policy, reference, supervised, order)
        artifacts.append(Artifact(path, kind, text.encode("utf-8")))
        notes[path] = {
            "params": _params_used(profile_plan.rules),
            "proxy_enforced": [r.id for r in profile_plan.proxy_enforced],
            "localhost_only": [r.id for r in profile_plan.localhost_only],
        }
    artifacts.append(Artifact(NOTES, "sbpl-notes", dumps(notes)))
    return artifacts
