"""A `prompt` rule where nobody can answer it.

What it does
------------
When the configuration says agents run without a supervisor
(``interactive = false`` in ``[tool.awpolicy]``: CI, batch agents), reports
every ``prompt`` rule and ``default prompt``.

Why is this bad?
----------------
A prompt that nobody answers is a deny after a timeout (the non-interactive
default); the policy reads as if the access could be granted, and runs slowly
while it waits.

Example
-------
    # file: .awpolicy.toml
    interactive = false
    # file: policy.awp
    scope project
    fs { prompt read "~/Documents" }

Use instead
-----------
    # file: .awpolicy.toml
    interactive = false
    # file: policy.awp
    scope project
    fs { deny read "~/Documents" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet


def check(pset: PolicySet):
    if pset.config.interactive:
        return
    for rule in pset.rules(defaults=True):
        if rule.effect == "prompt":
            yield pset.finding(
                "AWP205", f"'{rule.describe()}' asks, but these agents run with nobody to answer: it always denies",
                rule, hint="write allow or deny; or set interactive = true where a supervisor runs",
            )
