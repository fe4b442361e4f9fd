"""The same rule is written twice in one scope.

What it does
------------
Reports a rule whose operation, effect, kind and bound path (or host, or name)
equal an earlier rule's in the same scope and tier, pointing at the first one.
``~/.cache`` and ``${HOME}/.cache`` are the same path.

Why is this bad?
----------------
The copy can never decide anything; when one of the two is later edited, the
other silently keeps the old meaning.

Example
-------
    # file: policy.awp
    scope project
    fs {
      allow read "~/.cache"
      allow read,write "${HOME}/.cache"
    }

Use instead
-----------
    # file: policy.awp
    scope project
    fs {
      allow read,write "~/.cache"
    }
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.lint.context import PolicySet


def rule_key(pset: PolicySet, rule: ir.Rule) -> tuple:
    return (rule.op, rule.cls, rule.effect, rule.kind, pset.bound_text(rule), rule.scope, rule.enforce)


def same_rule(pset: PolicySet, a: ir.Rule, b: ir.Rule) -> bool:
    return a.id != b.id and rule_key(pset, a) == rule_key(pset, b)


def check(pset: PolicySet):
    first: dict[tuple, ir.Rule] = {}
    for rule in pset.rules(defaults=True):
        key = rule_key(pset, rule)
        if key not in first:
            first[key] = rule
        elif pset.editable(rule):
            earlier = first[key]
            where = earlier.origin.file
            note = f"first granted by {where[len('preset:'):]} (a preset) included here" \
                if where.startswith("preset:") else "first written here"
            yield pset.finding(
                "AWP105", f"'{rule.describe()}' repeats a rule of the same scope", rule,
                hint="remove one of the two", related=[(note, earlier)],
            )
