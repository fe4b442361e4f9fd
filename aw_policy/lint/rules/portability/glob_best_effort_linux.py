"""A glob rule is only best effort on Linux (target: linux).

What it does
------------
Reports ``glob`` path rules. Landlock and mounts act on existing paths, so on
Linux the runtime expands a glob when the sandbox starts: files that match only
later (created by the agent) are not covered. Seatbelt matches globs as regular
expressions and is exact.

Why is this bad?
----------------
A ``deny write glob "**/.env"`` does not stop the agent from creating a new
``.env`` on Linux. Say what you mean with paths the kernel can hold, or accept
the gap knowingly.

Example
-------
    # file: policy.awp
    scope project
    fs { deny write glob "${WORKSPACE}/**/.env" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { deny write literal "${WORKSPACE}/.env" "${WORKSPACE}/app/.env" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet


def check(pset: PolicySet):
    for rule in pset.rules(cls="fs"):
        if rule.kind == "glob":
            yield pset.finding(
                "AWP301", f"target linux: glob '{rule.pattern}' is expanded when the sandbox starts; "
                          "files created later are not covered",
                rule, hint="use literal or subtree paths where the rule must hold for new files too",
            )
