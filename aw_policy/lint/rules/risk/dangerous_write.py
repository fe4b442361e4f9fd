"""Writes are allowed where they change what runs outside the sandbox.

What it does
------------
Asks the policy whether the agent may create files in ``/`` or directly in
``~``, or write shell start-up files (``~/.bashrc``, ``~/.zshrc``,
``~/.profile``...), ``~/.gitconfig`` or the repository's ``.git/hooks``, and
reports the rule that allows it.

Why is this bad?
----------------
These files run code later, outside the sandbox: the next shell, the next git
command, the next commit hook. Writing them is an escape.

Example
-------
    # file: policy.awp
    scope project
    fs { allow write "~" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs {
      allow write "${WORKSPACE}"
      deny write "${WORKSPACE}/.git/hooks"
    }
"""

from __future__ import annotations

from aw_policy.lint.context import PROBE_NAME, PolicySet
from aw_policy.lint.rules.risk import by_rule, probes

STARTUP_FILES = (
    ".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin",
    ".config/fish/config.fish", ".gitconfig", ".config/git/config",
)


def places(pset: PolicySet) -> list[tuple[str, list[str]]]:
    """(what to call it, concrete paths) for every dangerous place."""
    out = [("/", ["/" + PROBE_NAME]), ("~", [pset.home(PROBE_NAME)])]
    out += [("~/" + rel, probes(pset, rel)) for rel in STARTUP_FILES]
    for name in ("WORKSPACE", "GIT_COMMON_DIR"):
        hooks = pset.params[name].rstrip("/") + ("/.git/hooks" if name == "WORKSPACE" else "/hooks")
        out.append((f"${{{name}}}" + ("/.git/hooks" if name == "WORKSPACE" else "/hooks"),
                    [hooks + "/pre-commit"]))
    return out


def check(pset: PolicySet):
    found: dict[str, object] = {}
    for what, objs in places(pset):
        for obj in objs:
            decision = pset.decide("write", obj)
            if decision.effect == "allow":
                found[what] = decision.rule
                break
    for rule, where in by_rule(found).items():
        yield pset.finding(
            "AWP202", f"'{rule.describe()}' lets the agent write {', '.join(where)}", rule,
            hint=f'narrow the rule or add: deny write "{where[0]}"',
        )
