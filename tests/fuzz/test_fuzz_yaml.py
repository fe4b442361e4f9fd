"""Fuzz the YAML front end (parse_yaml): arbitrary text, policy-shaped documents, mutated golden
sources, alias bombs, deep nesting, huge strings. No traceback, no hang, every rejection located."""

from __future__ import annotations

import yaml
from fuzz_helpers import check_rejection, fuzz_settings, mutate_text, time_bound
from helpers import GOLDEN
from hypothesis import given
from hypothesis import strategies as st

from aw_policy.diagnostics import PolicyError
from aw_policy.lang.yaml_loader import parse_yaml

NAME = "fuzz.awp.yaml"
GOLDEN_YAML = (GOLDEN / "src" / "user.awp.yaml").read_text()

KEYS = ["scope", "fs", "exec", "net", "signal", "mach", "branch", "env", "include", "params", "default",
        "allow", "deny", "prompt", "enforce", "audit", "paths", "literal", "glob", "hosts", "base", "cow",
        "hide", "readonly", "on_exit", "parent", "set", "pass"]
WORDS = ["org", "project", "user", "session", "read", "write", "exec", "read,write", "connect", "bind",
         "~/.ssh", "${HOME}", "${NOPE}", "/", "**", "localhost:*", "keep", "same-sandbox", "", "\x00", "\u202e"]
TOKENS = [*(k + ":" for k in KEYS), *WORDS, "\n", "\n  ", "- ", "&a ", "*a", "<<: ", "!!python/object:os.system",
          "!!binary ", "? ", "[", "]", "{", "}", ",", "'", '"', "|", ">", "---\n", "...\n", "%YAML 1.1\n", "\t"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.sampled_from(WORDS), st.text(max_size=20))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner,
                                            max_size=5)),
    max_leaves=40,
)


def parse_or_reject(text: str) -> None:
    with time_bound(f"parse_yaml on {len(text)} chars"):
        try:
            parse_yaml(text, NAME)
        except PolicyError as error:
            check_rejection(error, NAME, text)


@fuzz_settings(200)
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    parse_or_reject(text)


@fuzz_settings(200)
@given(documents)
def test_policy_shaped_documents(doc):
    parse_or_reject(yaml.safe_dump(doc, allow_unicode=True))


@fuzz_settings(200)
@given(st.dictionaries(st.sampled_from(KEYS), documents, min_size=1, max_size=6))
def test_documents_with_policy_keys(doc):
    parse_or_reject(yaml.safe_dump(doc, allow_unicode=True))


@fuzz_settings(200)
@given(st.data())
def test_mutated_golden_source(data):
    parse_or_reject(mutate_text(data, GOLDEN_YAML, TOKENS))


def alias_bomb(levels: int, fanout: int) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    lines.append(f"fs: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_pathological_documents():
    cases = [
        alias_bomb(10, 10),   # a billion laughs: 10^10 leaves if expanded
        alias_bomb(30, 2),
        "fs: " + "[" * 5_000 + "]" * 5_000,
        "fs: " + "{a: " * 2_000 + "b" + "}" * 2_000,
        "fs:\n" + "".join("  " * i + "- \n" for i in range(2_000)),
        "scope: user\nfs:\n  - allow: read\n    paths: ['" + "x" * 3_000_000 + "']\n",
        "scope: '" + "'" * 1_000_000,
        "a: &a [*a]\nfs: *a\n",  # a recursive alias
        "<<: " * 1_000 + "{}",
        "fs: !!python/object/apply:os.system ['echo pwned']\n",
        "---\nscope: user\n---\nscope: org\n",
        "? [a, b]\n: c\n",
        "scope: user\nscope: org\n",
        "\ufeffscope: user\n",
        "- " * 10_000,
        # found by the fuzzer: scalars whose tag PyYAML cannot construct
        "=", "a: !!int abc", "a: !!python/name:os.system", "a: !!timestamp 2020-13-45", "a: !foo bar",
        "scope: !!float x",
    ]
    for text in cases:
        parse_or_reject(text)
