"""Fuzz the DSL front end (parse_dsl) and, behind it, the whole compile: no traceback, no hang,
every rejection a diagnostic with a code and a location."""

from __future__ import annotations

from fuzz_helpers import check_rejection, fuzz_settings, mutate_text, time_bound
from helpers import GOLDEN
from hypothesis import given
from hypothesis import strategies as st

from aw_policy.diagnostics import PolicyError
from aw_policy.lang.dsl import parse_dsl

NAME = "fuzz.awp"
GOLDEN_DSL = [(GOLDEN / "src" / n).read_text() for n in ("org.awp", "project.awp")]

TOKENS = [
    "scope", "org", "project", "user", "session", "default", "include", "param", "fs", "exec", "net", "signal",
    "mach", "branch", "env", "allow", "deny", "prompt", "enforce", "audit", "read", "write", "exec", "connect",
    "bind", "subtree", "literal", "glob", "base", "cow", "hide", "readonly", "on-exit", "keep", "discard",
    "pass", "same-sandbox", "{", "}", ";", ",", "=", "\n", " ", "#", '"', '"\\"', '"\\u0000"', '"${HOME}"',
    '"${', '"~/.ssh"', '"**/*.key"', '"/"', '"//a/../b"', '"localhost:*"', '"*:443"', '"[::1]:80"',
    "\t", "\r\n", "\u00a0", "\ufeff", "\u202e", "é", "\U0001f600", "\\", "${WORKSPACE}",
]


def parse_or_reject(text: str) -> None:
    with time_bound(f"parse_dsl on {len(text)} chars"):
        try:
            parse_dsl(text, NAME)
        except PolicyError as error:
            check_rejection(error, NAME, text)


@fuzz_settings(300)
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    parse_or_reject(text)


@fuzz_settings(300)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_token_soup(text):
    parse_or_reject(text)


@fuzz_settings(200)
@given(st.sampled_from(GOLDEN_DSL), st.data())
def test_mutated_golden_sources(text, data):
    parse_or_reject(mutate_text(data, text, TOKENS))


@fuzz_settings(60)
@given(st.sampled_from(GOLDEN_DSL), st.data())
def test_mutated_sources_through_the_whole_compile(tmp_path_factory, text, data):
    """Merge, path binding, precedence and every backend must reject what the parser lets through."""
    from aw_policy.bundle import build
    from aw_policy.merge import compile_sources

    source = tmp_path_factory.mktemp("dsl") / NAME
    source.write_text(mutate_text(data, text, TOKENS), encoding="utf-8", errors="surrogatepass")
    with time_bound("compile of a mutated source"):
        try:
            build(compile_sources([source]).policy, {})
        except PolicyError as error:
            check_rejection(error, None)


def test_pathological_shapes():
    """Deep nesting, a huge string, a huge line, many rules, unterminated constructs: bounded and diagnosed."""
    cases = [
        "fs {" * 20_000,
        "}" * 20_000,
        "{" * 20_000 + "}" * 20_000,
        'fs { allow read "' + "a" * 2_000_000 + '" }',
        'fs { allow read "' + "\\\\" * 200_000,
        "scope org\n" + "fs { allow read \"/x\" }\n" * 20_000,
        "# " + "x" * 1_000_000,
        '"' * 100_000,
        "param " + "A" * 100_000 + ' = "' + "${A}" * 10_000 + '"',
        'fs { allow read "' + "${" * 50_000 + '" }',
    ]
    for text in cases:
        parse_or_reject(text)
