"""SBPL lint: a failing and a passing profile for every code, and the safe fixes."""

from __future__ import annotations

import os

import pytest
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sbpl.vendor_like import vendor_like_profile

from aw_policy.lint import registry
from aw_policy.sbpl.fix import FIXABLE_CODES, fix_sbpl
from aw_policy.sbpl.lint import SBPL_RULES, lint_sbpl
from aw_policy.sbpl.parser import parse_sbpl, quote_sbpl_string

EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "200"))
HEADER = "(version 1)\n(deny default)\n"


def codes(text: str) -> list[str]:
    return [d.code for d in lint_sbpl(text, "t.sb")]


# (code, bad body, good body, place of the finding in the bad profile as line:col)
CASES = [
    ("AWP501", '(allow file-read* (subpath "/usr/lib")', '(allow file-read* (subpath "/usr/lib"))', (3, 39)),
    ("AWP502", "(allow file-raed*)", "(allow file-read*)", (3, 8)),
    ("AWP502", '(deny proces-exec (literal "/bin/sh"))', '(deny process-exec (literal "/bin/sh"))', (3, 7)),
    ("AWP503", '(allow file-read* (sub-path "/usr"))', '(allow file-read* (subpath "/usr"))', (3, 20)),
    ("AWP503", '(allow file-read* (require-not (literall "/a")))',
     '(allow file-read* (require-not (literal "/a")))', (3, 33)),
    ("AWP504", "(allow default)", "(deny default)", (3, 1)),
    ("AWP505", '(allow file-read* (subpath "/usr/lib/"))', '(allow file-read* (subpath "/usr/lib"))', (3, 28)),
    ("AWP506", '(allow file-write* (subpath "/tmp"))', '(allow file-write* (subpath "/private/tmp"))', (3, 29)),
    ("AWP506", '(allow file-read* (literal "/etc/hosts"))', '(allow file-read* (literal "/private/etc/hosts"))',
     (3, 28)),
    ("AWP506", '(allow file-read* (regex #"^/var/db/x$"))', '(allow file-read* (regex #"^/private/var/db/x$"))',
     (3, 26)),
    ("AWP507", '(allow network-outbound (remote tcp "10.0.0.1:443"))',
     '(allow network-outbound (remote tcp "*:443"))', (3, 37)),
    ("AWP507", '(allow network-bind (local udp "example.com:53"))',
     '(allow network-bind (local udp "localhost:53"))', (3, 32)),
    ("AWP509", '(deny file-read* (subpath "/secret"))\n(allow file-read*)',
     '(deny file-read* (subpath "/secret"))\n(allow file-read* (literal "/secret/ok"))', (4, 1)),
    ("AWP509", '(deny file-read-data (subpath "/s"))\n(allow file*)',
     '(allow file*)\n(deny file-write* (subpath "/s"))\n(allow file-read*)', (4, 1)),
    ("AWP511", '(deny file-write* (subpath "/Users") (with shout))',
     '(deny file-write* (subpath "/Users") (with report))', (3, 44)),
    ("AWP511", '(allow file-read* (regex #"^/a/\\d+$"))', '(allow file-read* (regex #"^/a/[0-9]+$"))', (3, 26)),
    ("AWP511", "(allow-system-libraries)",
     ('(define (allow-system-libraries) (allow file-read* (subpath "/usr/lib")))\n'
      "(allow-system-libraries)"), (3, 1)),
    ("AWP510", '(deny file-read* (regex #"/\\.ssh/"))', '(deny file-read* (regex #"^/Users/[^/]+/\\.ssh/"))', (3, 25)),
    ("AWP510", '(allow mach-lookup (global-name-regex #"com\\.apple"))',
     '(allow mach-lookup (global-name-regex #"^com\\.apple\\."))', (3, 39)),
]


@pytest.mark.parametrize(("code", "bad", "good", "place"), CASES, ids=[c[0] for c in CASES])
def test_each_code_fires_on_the_bad_profile_and_not_on_the_good_one(code, bad, good, place):
    found = [d for d in lint_sbpl(HEADER + bad, "t.sb") if d.code == code]
    assert len(found) == 1
    diag = found[0]
    assert (diag.span.line, diag.span.col) == place and diag.span.file == "t.sb"
    assert diag.message and diag.hint
    assert codes(HEADER + good) == []


def test_missing_version_is_found_and_not_when_present():
    (diag,) = lint_sbpl("(deny default)\n", "t.sb")
    assert diag.code == "AWP508" and (diag.span.line, diag.span.col) == (1, 1)
    assert codes("; comment\n(version 1)\n(deny default)\n") == []


def test_allow_after_deny_points_at_the_deny_and_explains_the_semantics():
    (diag,) = lint_sbpl(HEADER + '(deny file-write* (subpath "/a"))\n(allow file-write*)', "t.sb")
    assert diag.related[0][1].line == 3
    assert "filtered rule always wins" in diag.hint and "last matching" in diag.hint


def test_names_the_profile_defines_are_not_unknown():
    text = HEADER + '(define (home p) (subpath p))\n(define ops 1)\n(allow file-read* (home "/a"))'
    assert codes(text) == []


def test_quoted_data_is_not_checked_as_rules():
    assert codes(HEADER + "(define rules '((allow default) (allow file-raed*)))") == []


def test_the_load_check_gives_every_param_a_value_and_skips_profiles_that_import():
    text = HEADER + ('(allow file-read* (subpath (string-append (param "HOME") "/w")))\n'
                     '(if (equal? (param "MODE") "x") (allow process-fork))')
    assert codes(text) == []
    assert codes(HEADER + '(import "common.sb")\n(allow-things-defined-there)') == []


def test_subpath_root_is_not_a_trailing_slash():
    assert codes(HEADER + '(allow file-read* (subpath "/"))') == []


def test_the_rule_table_examples_behave_as_documented():
    for rule in SBPL_RULES:
        bad = rule.bad if rule.code == "AWP508" else HEADER + rule.bad
        good = rule.good if "(version 1)" in rule.good else HEADER + rule.good
        assert rule.code in codes(bad), rule.code
        assert codes(good) == [], rule.code
        assert rule.category == "sbpl" and rule.summary


def test_the_rule_table_agrees_with_the_lint_registry():
    for rule in SBPL_RULES:
        spec = registry.get(rule.code)
        assert (spec.name, spec.severity, spec.category, spec.fixable) == (
            rule.name, rule.severity, rule.category, rule.fixable)


def test_a_vendor_sized_profile_lints_clean():
    assert codes(vendor_like_profile(30)) == []


# ----------------------------------------------------------------------------- fixes


def test_fix_edits_only_the_bytes_it_must():
    text = ('; keep   this  spacing\n(deny default)\n(allow file-read* (subpath "/tmp/")  ; note\n'
            '  (regex #"^/var/x$") (literal "/etc"))\n')
    fixed = fix_sbpl(text, "t.sb")
    assert fixed == ('(version 1)\n; keep   this  spacing\n(deny default)\n'
                     '(allow file-read* (subpath "/private/tmp")  ; note\n'
                     '  (regex #"^/private/var/x$") (literal "/private/etc"))\n')
    assert codes(fixed) == []


def test_fix_leaves_escaped_spellings_and_unfixable_findings_alone():
    text = HEADER + '(allow file-read* (literal "\\/tmp/x"))\n(allow default)\n'
    assert fix_sbpl(text, "t.sb") == text
    assert fix_sbpl("(unbalanced", "t.sb") == "(unbalanced"


_PATHS = st.sampled_from(["/tmp", "/var", "/etc", "/usr", "/private/tmp", "/tmpx", "/"]).flatmap(
    lambda root: st.lists(st.sampled_from(["a", "b c", '"q', "\\", "é", ""]), max_size=3).map(
        lambda parts: root + "".join("/" + p for p in parts)))
_FILTERS = st.sampled_from(["subpath", "literal", "prefix", "regex"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(_FILTERS, _PATHS, st.booleans()), max_size=6), st.booleans())
def test_fix_is_idempotent_and_clears_what_it_fixes(rules, with_version):
    body = []
    for flt, path, slash in rules:
        value = ("^" + path if flt == "regex" else path) + ("/" if slash else "")
        body.append(f"(allow file-read* ({flt} {quote_sbpl_string(value)}))")
    text = ("(version 1)\n" if with_version else "") + "(deny default)\n" + "\n".join(body) + "\n"
    fixed = fix_sbpl(text, "t.sb")
    assert fix_sbpl(fixed, "t.sb") == fixed
    parse_sbpl(fixed, "t.sb")
    left = {c for c in codes(fixed) if c in FIXABLE_CODES}
    # what stays is only what is spelled with escapes (never edited)
    assert all(c in ("AWP505", "AWP506") for c in left)
    if "\\" not in text:
        assert not left


def test_awpolicy_lint_reports_sbpl_findings_with_exit_1(tmp_path):
    profile = tmp_path / "p.sb"
    profile.write_text(HEADER + '(allow file-write* (subpath "/tmp/"))\n'
                       '(allow network-outbound (remote tcp "10.0.0.1:443"))\n', encoding="utf-8")
    result = run_cli("lint", str(profile))
    assert result.returncode == 1, result.stderr
    for place, code in ((":3:29", "AWP505"), (":3:29", "AWP506"), (":4:37", "AWP507")):
        assert f"{profile}{place}" in result.stdout and code in result.stdout
    profile.write_text(HEADER + "(allow file-read* (subpath \"/usr\")\n", encoding="utf-8")
    result = run_cli("lint", str(profile))
    assert result.returncode == 2 and "AWP501" in result.stdout and "Traceback" not in result.stderr


_NOISE = st.lists(st.sampled_from(
    ["(", ")", "(allow ", "(deny ", "file-read* ", "default ", "(subpath ", "(regex ", "(remote tcp ",
     '"/tmp/"', '"/var"', '"10.0.0.1:80"', '#"/x"', '#"^/etc/"', "(with report)", "(require-not ", "(version 1)",
     "; c\n", "\n", '"\\/tmp"', "(define (f x) ", "x"]), max_size=30).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(_NOISE)
def test_lint_and_fix_never_crash_and_fix_is_idempotent_on_noise(text):
    for diag in lint_sbpl(text, "n.sb"):
        assert diag.code.startswith("AWP5") and diag.span.line >= 1 and diag.hint
    fixed = fix_sbpl(text, "n.sb")
    assert fix_sbpl(fixed, "n.sb") == fixed
