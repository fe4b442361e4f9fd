"""The SBPL reader: every construct, real-world sizes, and hostile input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sbpl.vendor_like import vendor_like_profile

from aw_policy.diagnostics import PolicyError
from aw_policy.sbpl.parser import (
    MAX_DEPTH,
    Bool,
    Int,
    Quote,
    SList,
    Str,
    Symbol,
    form_head,
    iter_nodes,
    parse_sbpl,
    quote_sbpl_string,
)

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "300"))


def only(text: str):
    forms = parse_sbpl(text, "t.sb").forms
    assert len(forms) == 1
    return forms[0]


def syntax_error(text, filename="bad.sb"):
    with pytest.raises(PolicyError) as info:
        parse_sbpl(text, filename)
    (diag,) = info.value.diagnostics
    assert diag.code == "AWP501" and diag.span.file == filename and diag.hint
    return diag


# ----------------------------------------------------------------------------- constructs


def test_line_comments_and_block_comments_are_skipped_and_positions_stay_right():
    text = '; one\n#| two (\n "x |#\n  (version 1) ; three\n'
    (form,) = parse_sbpl(text, "t.sb").forms
    assert form_head(form) == "version"
    assert (form.line, form.col, form.end_line, form.end_col) == (4, 3, 4, 14)
    assert parse_sbpl(text).source(form) == "(version 1)"


@pytest.mark.parametrize(
    ("source", "value"),
    [
        (r'"plain"', "plain"),
        (r'"a\"b"', 'a"b'),
        (r'"back\\slash"', "back\\slash"),
        (r'"line\nbreak\ttab\rcr"', "line\nbreak\ttab\rcr"),
        (r'"\x41\x62"', "Ab"),
        (r'"\xc3\xa9"', "é"),  # two \x bytes that spell UTF-8
        (r'"\q\."', "q."),  # any other escaped character stands for itself
        ('"multi\nline"', "multi\nline"),
        ('"ünï ☃"', "ünï ☃"),
    ],
)
def test_string_escapes_decode_as_tinyscheme_does(source, value):
    node = only(source)
    assert isinstance(node, Str) and node.value == value and not node.raw


def test_raw_strings_keep_backslashes_verbatim():
    node = only(r'#"^/Users/[^/]+/\.ssh(/|$)"')
    assert isinstance(node, Str) and node.raw and node.value == r"^/Users/[^/]+/\.ssh(/|$)"


def test_atoms_numbers_booleans_and_quotes():
    form = only("(f file-read* -12 +3 #t #f #x1F #o755 #b101 #d9 'a '(b c) /)")
    kinds = [type(n) for n in form.items]
    assert kinds == [Symbol, Symbol, Int, Int, Bool, Bool, Int, Int, Int, Int, Quote, Quote, Symbol]
    assert [n.value for n in form.items[2:10]] == [-12, 3, True, False, 31, 493, 5, 9]
    assert form.items[10].kind == "quote" and form.items[10].datum.name == "a"
    assert isinstance(form.items[11].datum, SList)


@pytest.mark.parametrize(
    ("source", "head"),
    [
        ('(define (home-subpath p) (subpath (string-append (param "HOME") p)))', "define"),
        ('(let ((a "x") (b (param "B"))) (allow file-read* (literal a)))', "let"),
        ('(if (param "X") (allow network*) (deny network*))', "if"),
        ('(import "system.sb")', "import"),
        ('(deny file-write* (subpath "/a") (with report))', "deny"),
        ('(deny file-write* (subpath "/a") (with no-log))', "deny"),
        ('(deny signal (target others) (with send-signal SIGKILL))', "deny"),
        ('(allow file-read* (require-all (subpath "/a") (require-not (literal "/a/b"))))', "allow"),
        ('(allow file-read* (require-any (literal "/a") (regex #"^/b$")))', "allow"),
    ],
)
def test_every_form_shape_parses(source, head):
    form = only(source)
    assert form_head(form) == head
    assert parse_sbpl(source).source(form) == source


def test_the_constructs_fixture_parses_with_every_construct():
    profile = parse_sbpl((FIXTURES / "constructs.sb").read_text(encoding="utf-8"), "constructs.sb")
    heads = {form_head(n) for n in iter_nodes(profile)}
    assert {"version", "define", "let", "let*", "if", "when", "unless", "cond", "param", "string-append",
            "import", "with", "require-any", "require-all", "require-not", "lambda", "for-each", "apply",
            "regex", "subpath", "literal", "prefix", "remote", "local", "target", "global-name",
            "local-name", "sysctl-name"} <= heads
    raw = [n for n in iter_nodes(profile) if isinstance(n, Str) and n.raw]
    assert raw and all("\\." in n.value for n in raw)


def test_a_vendor_sized_profile_parses_completely():
    text = vendor_like_profile()
    assert text.count("\n") > 4000
    profile = parse_sbpl(text, "vendor.sb")
    rules = [n for n in iter_nodes(profile) if form_head(n) in ("allow", "deny")]
    assert len(rules) > 2000
    # the last form ends where the text ends (nothing skipped)
    assert profile.forms[-1].end == len(text.rstrip())


def test_nesting_up_to_the_limit_is_accepted():
    depth = MAX_DEPTH
    node = only("(" * depth + ")" * depth)
    assert node.depth == depth


# ----------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ('(version 1)\n(allow file-read* (subpath "/a")', 2, 33, "close the '(' at 2:1"),
        ("(version 1))", 1, 12, "closes no '('"),
        ('(allow file-read* (literal "/a))', 1, 28, "unterminated string"),
        ('(regex #"^/a)', 1, 8, "unterminated raw string"),
        ("#| never closed", 1, 1, "unterminated block comment"),
        ("(a #q)", 1, 4, "'#'"),
        ("(version 1)\n(a\x00b)", 2, 3, "NUL"),
        ('"\\x4"', 1, 2, "two hex digits"),
        ('"\\x00"', 1, 2, "NUL"),
        ('"\\xff"', 1, 2, "UTF-8"),
        ("\ufeff(version 1)", 1, 1, "byte-order mark"),
        ("(a \ud800)", 1, 4, "surrogate"),
        ("(" * (MAX_DEPTH + 1) + ")" * (MAX_DEPTH + 1), 1, 1, "nested more than"),
    ],
)
def test_malformed_input_gives_awp501_at_the_place(text, line, col, words):
    diag = syntax_error(text)
    assert (diag.span.line, diag.span.col) == (line, col)
    assert words in diag.message


def test_invalid_utf8_bytes_are_located():
    diag = syntax_error(b"(version 1)\n(allow \xff)")
    assert (diag.span.line, diag.span.col) == (2, 8) and "0xff" in diag.message


def test_very_deep_nesting_does_not_recurse():
    diag = syntax_error("(" * 200_000 + ")" * 200_000)
    assert "nested more than" in diag.message
    diag = syntax_error("(" * 200_000)
    assert "expected ')'" in diag.message


# ----------------------------------------------------------------------------- properties


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text())
def test_any_text_parses_or_fails_with_a_located_policy_error(text):
    try:
        parse_sbpl(text, "f.sb")
    except PolicyError as exc:
        (diag,) = exc.diagnostics
        assert diag.code == "AWP501" and diag.span.line >= 1 and diag.span.col >= 1


_SBPL_ALPHABET = st.sampled_from(list('()"#|;\\\'`,@ \n\tx1-*^$.') + ["#|", "|#", '#"', "\\x4", "\\\""])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(_SBPL_ALPHABET, max_size=60).map("".join))
def test_sbpl_shaped_noise_parses_or_fails_with_a_policy_error(text):
    try:
        parse_sbpl(text, "f.sb")
    except PolicyError as exc:
        assert exc.diagnostics[0].code == "AWP501"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_fail_with_a_policy_error(data):
    try:
        parse_sbpl(data, "f.sb")
    except PolicyError as exc:
        assert exc.diagnostics[0].code == "AWP501"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_quote_sbpl_string_reads_back_exactly(value):
    literal = quote_sbpl_string(value)
    node = only(f"(literal {literal})").items[1]
    assert isinstance(node, Str) and node.value == value


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"])
def test_quote_sbpl_string_refuses_what_sbpl_cannot_hold(value):
    with pytest.raises(ValueError):
        quote_sbpl_string(value)
