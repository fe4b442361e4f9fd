"""Debug mode is on for every session, not just the ones that need a debugger.

What it does
------------
Reports the rule that allows ``debug same-sandbox`` when it is written in a
lasting policy (org, project or user scope) rather than asked for per session
with ``awpolicy run --debug``.

Why is this bad?
----------------
In debug mode every process in the sandbox may attach to, read and change the
memory of every other one there, the agent included, with the tokens and
prompts it holds. Debugging stays inside the sandbox, but most sessions never
need it.

Example
-------
    # file: policy.awp
    scope project
    debug { allow same-sandbox }

Use instead
-----------
    # file: policy.awp
    scope project
    # debug mode per session: awpolicy run --debug BUNDLE -- gdb -p PID
    fs { allow read "${WORKSPACE}" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet

LASTING_SCOPES = ("org", "project", "user")


def check(pset: PolicySet):
    decision = pset.decide("debug", "same-sandbox")
    rule = decision.rule
    if decision.effect == "allow" and rule.scope in LASTING_SCOPES:
        yield pset.finding(
            "AWP207", f"'{rule.describe()}' turns debug mode on for every session of this {rule.scope} policy",
            rule, hint="drop the rule and pass --debug to `awpolicy run` for the sessions that need a debugger",
        )
