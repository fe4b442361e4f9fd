"""A declared parameter is never used.

What it does
------------
Reports ``param`` declarations whose ``${NAME}`` appears in no rule, branch,
environment value or other parameter's default.

Why is this bad?
----------------
It is either left over from an edit or misspelt where it was meant to be used
(and the rule then names another path than intended).

Example
-------
    # file: policy.awp
    scope project
    param CACHE = "/var/cache/build"
    fs { allow read,write "${WORKSPACE}" }

Use instead
-----------
    # file: policy.awp
    scope project
    param CACHE = "/var/cache/build"
    fs { allow read,write "${WORKSPACE}" "${CACHE}" }
"""

from __future__ import annotations

from aw_policy import paths
from aw_policy.lint.context import PolicySet


def check(pset: PolicySet):
    policy = pset.policy
    texts = [r.pattern for r in policy.rules]
    for b in policy.branches:
        texts += [b.base, *b.hide, *b.readonly]
    texts += [value for _, value in policy.env_set]
    texts += [p.default for p in policy.params if p.default]
    used = {name for text in texts for name in paths.params_in(text)}
    for param in policy.params:
        if param.origin is None or param.name in used or param.origin.file.startswith("preset:"):
            continue
        yield pset.finding(
            "AWP104", f"parameter {param.name} is declared but never used", param.origin,
            hint=f"use it as ${{{param.name}}} in a path, or remove the declaration",
        )
