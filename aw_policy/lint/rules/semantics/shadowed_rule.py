"""A rule that never decides any request: another rule always wins where it applies.

What it does
------------
Decides, with the same precedence the runtime uses, the requests a rule matches
(its own path and a path below it, its host, its service name) and reports the
rule when another rule wins every one of them, naming that rule. Exact
duplicates (AWP105), inner rules beaten by an enforced outer rule (AWP103) and
outer rules loosened by an inner scope (AWP102) are reported by those rules
instead.

Why is this bad?
----------------
A rule that can never win is dead text: the reader believes it grants or denies
something, and it does not.

Example
-------
    # file: policy.awp
    scope project
    fs {
      deny read "/opt/data"
      allow read "/opt/data"
    }

Use instead
-----------
    # file: policy.awp
    scope project
    fs {
      deny read "/opt/data"
      allow read "/opt/data/public"
    }
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.lint.context import PolicySet, is_loosening, where
from aw_policy.lint.rules.semantics.duplicate_rule import same_rule


def check(pset: PolicySet):
    for rule in pset.rules(defaults=True):
        decisions = pset.contests[rule.id]
        if not pset.editable(rule) or not decisions or any(d.rule == rule for d in decisions):
            continue
        winners = list(dict.fromkeys(d.rule for d in decisions))
        if any(same_rule(pset, w, rule) for w in winners):
            continue  # AWP105
        if any(w.tier > rule.tier and is_loosening(rule, w) for w in winners):
            continue  # AWP103
        if any(ir.SCOPE_RANK.get(w.scope, -1) > ir.SCOPE_RANK.get(rule.scope, -1) and is_loosening(w, rule)
               for w in winners):
            continue  # AWP102, reported at the inner rule
        winner = winners[0]
        yield pset.finding(
            "AWP101",
            f"'{rule.describe()}' never decides a request: '{winner.describe()}' ({where(winner)}) "
            "wins wherever it applies",
            rule,
            hint="remove the rule, or make it more specific than the one that wins",
            related=[("the rule that wins", winner)],
        )
