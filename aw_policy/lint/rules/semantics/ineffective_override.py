"""An inner rule tries to loosen an enforced outer rule, and has no effect.

What it does
------------
Reports a rule that would grant more than an ``enforce`` rule of the org or
project scope on the same requests. Enforced rules win before specificity and
scope are even compared, so the inner rule loses every time.

Why is this bad?
----------------
Its author expects access that will always be refused; the rule only misleads
whoever reads the policy next.

Example
-------
    # file: org.awp
    scope org
    fs { enforce deny read "~/.ssh" }
    # file: user.awp
    scope user
    fs { allow read "~/.ssh/known_hosts" }

Use instead
-----------
    # file: org.awp
    scope org
    fs { enforce deny read "~/.ssh" }
    # file: user.awp
    scope user
    fs { allow read "~/.config/myapp" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet, is_loosening, where


def check(pset: PolicySet):
    for rule in pset.rules(defaults=True):
        if not pset.editable(rule):
            continue
        for decision in pset.contests[rule.id]:
            winner = decision.rule
            if winner != rule and winner.tier > rule.tier and is_loosening(rule, winner):
                yield pset.finding(
                    "AWP103",
                    f"'{rule.describe()}' has no effect on {decision.request.object}: "
                    f"'{winner.describe()}' ({where(winner)}) is enforced and always wins",
                    rule,
                    hint="remove the rule; if the access is really needed, ask for an exception "
                         f"in the {winner.scope} policy",
                    related=[("the enforced rule", winner)],
                )
                break
