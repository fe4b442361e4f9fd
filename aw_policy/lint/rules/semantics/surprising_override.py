"""An inner scope loosens a deny (or prompt) of an outer scope that is not enforced.

What it does
------------
Reports a rule of an inner scope (user over project, project over org...) that
wins over a stricter rule of an outer scope on the same requests, when the
outer rule is not marked ``enforce``. Defaults are meant to be overridden and
are not reported.

Why is this bad?
----------------
The outer policy's author most likely meant the deny to hold; without
``enforce`` any inner layer can quietly undo it.

Example
-------
    # file: org.awp
    scope org
    fs { deny read "~/Documents" }
    # file: user.awp
    scope user
    fs { allow read "~/Documents" }

Use instead
-----------
    # file: org.awp
    scope org
    fs {
      deny read "~/Documents"
      allow read "~/Documents/shared"
    }
    # file: user.awp
    scope user
    fs { allow read "~/Music" }
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.lint.context import PolicySet, is_loosening


def check(pset: PolicySet):
    for rule in pset.rules(defaults=True):
        if not pset.editable(rule):
            continue
        reported: set[str] = set()
        for decision in pset.contests[rule.id]:
            if decision.rule != rule:
                continue
            for outer in decision.beaten:
                if (outer.id in reported or outer.enforce or outer.scope == "builtin"
                        or ir.SCOPE_RANK[outer.scope] >= ir.SCOPE_RANK[rule.scope]
                        or not is_loosening(rule, outer)
                        or (outer.kind == "default" and rule.kind != "default")):
                    continue
                reported.add(outer.id)
                yield pset.finding(
                    "AWP102",
                    f"'{rule.describe()}' ({rule.scope}) overrides '{outer.describe()}' of the "
                    f"{outer.scope} policy on {decision.request.object}",
                    rule,
                    hint=f"if the {outer.scope} deny must hold, mark it 'enforce'; if this exception "
                         f"is intended, make it in the {outer.scope} policy or suppress with a reason",
                    related=[(f"the {outer.scope} rule it loosens", outer)],
                )
