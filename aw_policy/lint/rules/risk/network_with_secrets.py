"""Outbound network is open while secrets are readable.

What it does
------------
Reports rules that allow connecting to hosts other than this machine when the
policy also lets the agent read a secret (see AWP201).

Why is this bad?
----------------
Reading a key is bad; reading it and being able to send it anywhere is how it
leaves the machine.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "~/.aws" }
    net { allow connect "*:443" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { deny read "~/.aws" }
    net { allow connect "*:443" }
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.lint.context import PolicySet
from aw_policy.lint.rules.risk import readable_secrets


def check(pset: PolicySet):
    secrets = readable_secrets(pset)
    if not secrets:
        return
    what, reader = next(iter(secrets.items()))
    for rule in pset.rules(cls="net", defaults=True):
        if rule.effect != "allow" or rule.op not in ("connect", "*"):
            continue
        if rule.kind == "host" and ir.split_host_port(rule.pattern)[0] in ir.LOOPBACK_NAMES:
            continue
        if pset.contests[rule.id] and not any(d.rule == rule for d in pset.contests[rule.id]):
            continue  # the rule never decides anything
        yield pset.finding(
            "AWP204", f"'{rule.describe()}' opens the network while secrets are readable ({', '.join(secrets)})",
            rule, hint="deny reading the secrets, or allow only the hosts the agent needs",
            related=[(f"{what} is readable because of this rule", reader)],
        )
