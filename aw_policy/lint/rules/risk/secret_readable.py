"""Credentials or other secrets under HOME are readable.

What it does
------------
Asks the policy whether the agent may read ``~/.ssh``, ``~/.aws``, ``~/.gnupg``,
``~/.config/gh``, ``~/.netrc``, ``~/.docker/config.json``, keychains and browser
profiles (among others), and reports the rule that allows it.

Why is this bad?
----------------
An agent that can read keys and tokens can use them, or leak them into a
prompt, a log or a web request.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "~" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "~/projects" "~/.cache" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet
from aw_policy.lint.rules.risk import by_rule, readable_secrets


def check(pset: PolicySet):
    for rule, secrets in by_rule(readable_secrets(pset)).items():
        yield pset.finding(
            "AWP201", f"'{rule.describe()}' lets the agent read secrets: {', '.join(secrets)}", rule,
            hint=f'narrow the rule, or deny them: deny read "{secrets[0]}" (enforce it in the org policy)',
        )
