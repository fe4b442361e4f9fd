"""A network rule names a domain, which only the filtering proxy can enforce (targets: linux, macos).

What it does
------------
Reports ``connect`` rules on host names (not ``localhost``, not an IP address,
not ``*``) unless the configuration says agents run with the domain-filtering
proxy (``proxy = true``). Neither Seatbelt nor Landlock see names: on Linux the
sandbox has loopback only and names are reachable only through the proxy; on
macOS Seatbelt filters by address and port.

Why is this bad?
----------------
Without the proxy the rule cannot be enforced: the runtime refuses it (or, with
best effort, the agent gets more or less than the rule says).

Example
-------
    # file: policy.awp
    scope project
    net { allow connect "pypi.org:443" }

Use instead
-----------
    # file: .awpolicy.toml
    proxy = true
    # file: policy.awp
    scope project
    net { allow connect "pypi.org:443" }
"""

from __future__ import annotations

import ipaddress

from aw_policy import ir
from aw_policy.lint.context import PolicySet


def is_domain(host: str) -> bool:
    if host == "*" or host in ir.LOOPBACK_NAMES:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


def check(pset: PolicySet):
    if pset.config.proxy:
        return
    for rule in pset.rules(cls="net"):
        if rule.kind == "host" and rule.effect != "deny" and is_domain(ir.split_host_port(rule.pattern)[0]):
            yield pset.finding(
                "AWP302", f"targets linux, macos: '{rule.pattern}' names a domain, enforceable only "
                          "through the filtering proxy",
                rule, hint="run agents with the proxy and set proxy = true in [tool.awpolicy], "
                           "or allow an address instead of a name",
            )
