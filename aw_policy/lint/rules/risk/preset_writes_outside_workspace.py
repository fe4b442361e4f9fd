"""A preset grants writes outside the workspace.

What it does
------------
Reports ``allow write`` rules that come from a preset (included by name, or a
file of a preset directory linted directly) whose path, bound under the
reference binding, lies outside ``${WORKSPACE}``, ``${TMPDIR}``,
``${GIT_COMMON_DIR}`` and ``/dev``. A preset may justify a grant with a
reasoned ``# awpolicy: ignore[AWP206] ...`` on the rule's line; that
suppression holds wherever the preset is included. The check itself lives in
``aw_policy/lint/rules_presets.py``, beside the presets' own tests.

Why is this bad?
----------------
A preset is included by name and rarely read; a write grant it carries is easy
to miss, and one outside the workspace lets the agent change what outlives the
session (shell start-up files, other tools' configuration, caches other
programs trust).

Example
-------
    # file: presets/leaky.awp
    fs { allow read,write "~/.cache/pip" }
    # file: policy.awp
    scope project
    include "leaky"

Use instead
-----------
    # file: presets/tidy.awp
    fs { allow read,write "${WORKSPACE}/.awpolicy/cache/pip" }
    env { PIP_CACHE_DIR = "${WORKSPACE}/.awpolicy/cache/pip" }
    # file: policy.awp
    scope project
    include "tidy"
"""

from __future__ import annotations

from dataclasses import replace

from aw_policy import ir
from aw_policy.lint.context import PolicySet
from aw_policy.lint.rules_presets import check as preset_writes


def check(pset: PolicySet):
    for found in preset_writes(pset.policy, pset.params):
        origin = ir.Origin(found.span.file, found.span.line, found.span.col, "project")
        diagnostic = replace(found, span=pset.span_of(origin))
        if origin.file.startswith("preset:"):
            pset.preset_origins[diagnostic] = origin
        yield diagnostic
