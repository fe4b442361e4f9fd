"""A directory is both writable and executable.

What it does
------------
Reports places where the agent may both write a file and execute it, naming the
rule that allows the write and the one that allows the exec.

Why is this bad?
----------------
Exec rules are what keep the agent to known tools; if it can drop a new binary
somewhere it can run, every exec rule is moot.

Example
-------
    # file: policy.awp
    scope project
    fs {
      allow read,write,exec "${WORKSPACE}"
      deny write "${WORKSPACE}/.git/hooks"
    }

Use instead
-----------
    # file: policy.awp
    scope project
    fs {
      allow read,write "${WORKSPACE}"
      deny write "${WORKSPACE}/.git/hooks"
    }
    exec { allow "/usr/bin" }
"""

from __future__ import annotations

from aw_policy.lint.context import PolicySet, where


def check(pset: PolicySet):
    seen: set[tuple[str, str]] = set()
    for rule in pset.rules(cls="fs", defaults=True):
        if rule.effect != "allow" or rule.op not in ("write", "exec", "*"):
            continue
        for obj in pset.witnesses(rule):
            write, run = pset.decide("write", obj), pset.decide("exec", obj)
            if write.effect != "allow" or run.effect != "allow" or (write.rule.id, run.rule.id) in seen:
                continue
            seen.add((write.rule.id, run.rule.id))
            yield pset.finding(
                "AWP203",
                f"{obj} is writable ('{write.rule.describe()}', {where(write.rule)}) and executable "
                f"('{run.rule.describe()}')",
                run.rule,
                hint="allow exec only from directories the agent cannot write",
                related=[("the write is allowed here", write.rule)],
            )
