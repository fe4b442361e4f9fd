"""A rule needs a newer Landlock ABI than the oldest Linux kernel you run (target: linux).

What it does
------------
Compares what the policy uses with ``landlock-abi`` in the configuration (the
oldest ABI on your Linux machines; default 4): TCP port rules need ABI 4 (Linux
6.7), signal rules need the signal scope of ABI 6 (Linux 6.12).

Why is this bad?
----------------
On an older kernel the runtime refuses the policy, or with ``--best-effort``
runs without that part of it.

Example
-------
    # file: .awpolicy.toml
    landlock-abi = 3
    # file: policy.awp
    scope project
    net { allow connect "localhost:5432" }

Use instead
-----------
    # file: .awpolicy.toml
    landlock-abi = 3
    # file: policy.awp
    scope project
    net { allow connect "localhost:*" }
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.lint.context import PolicySet

KERNEL = {4: "6.7", 6: "6.12"}


def needed_abi(rule: ir.Rule) -> tuple[int, str] | None:
    if rule.kind == "host" and ir.split_host_port(rule.pattern)[1] != "*":
        return 4, "a TCP port rule needs"
    if rule.cls == "signal" and rule.kind != "default":
        return 6, "a signal rule needs the signal scope of"
    return None


def check(pset: PolicySet):
    for rule in pset.rules():
        need = needed_abi(rule)
        if need and need[0] > pset.config.landlock_abi:
            abi, what = need
            yield pset.finding(
                "AWP303", f"target linux: {what} Landlock ABI {abi} (Linux {KERNEL[abi]}); "
                          f"landlock-abi is {pset.config.landlock_abi}",
                rule, hint=f"raise landlock-abi if every Linux machine has ABI {abi}, or drop the rule",
            )
