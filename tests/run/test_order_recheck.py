"""The rule order rechecked under the bound parameters (DESIGN.md "Semantics").

Unchanged order: the compiled linux.json is applied as is. Changed order: the
plan is re-rendered from policy.json with the backend's own code. Both paths
must give the plan the backend gives for the bound values.
"""

from __future__ import annotations

import json

import pytest
from aw_runtime.launcher import RunRequest, prepare

REFERENCE = {"HOME": "/home/agent", "WORKSPACE": "/home/agent/workspace", "TMPDIR": "/tmp",
             "GIT_COMMON_DIR": "/home/agent/workspace/.git"}
# same depths as the reference, nothing nested differently: the compiled plan holds as is
SAME_SHAPE = {"HOME": "/home/dev", "WORKSPACE": "/home/dev/src", "TMPDIR": "/scratch",
              "GIT_COMMON_DIR": "/home/dev/src/.git"}
# same order, but TMPDIR=/var now contains a path the policy grants (/var/run/resolv.conf)
NESTED = {**SAME_SHAPE, "TMPDIR": "/var"}
# deeper workspace: specificities change, and with them the order
OTHER_SHAPE = {"HOME": "/u/dev", "WORKSPACE": "/u/dev/work/projects/app", "TMPDIR": "/var/tmp/x",
               "GIT_COMMON_DIR": "/u/dev/work/projects/app/.git"}


def _prepare(bundle, params):
    req = RunRequest(bundle=str(bundle), argv=("true",), params=params)
    return prepare(req, environ={"PATH": "/usr/bin"}, cwd="/", platform="linux")


def _bound(doc, params):
    from aw_runtime.linux import bind_plan

    return bind_plan(doc, params, env={}, cwd="/")


@pytest.mark.parametrize("params, why", [(REFERENCE, None), (SAME_SHAPE, None), (OTHER_SHAPE, "order"),
                                         (NESTED, "nest")])
def test_recheck_detects_a_changed_order_or_nesting(golden_bundle, params, why):
    from aw_policy import ir

    prep = _prepare(golden_bundle, params)
    assert prep.reordered is (why is not None)
    notes = [n for n in prep.notes if "re-rendering" in n]
    assert len(notes) == (why is not None)
    if why:
        assert why in notes[0]
    same_order = ir.precedence_order(ir.bind(prep.policy, prep.params)) == \
        json.loads((golden_bundle / "manifest.json").read_text())["order"]
    assert same_order is (why != "order")


@pytest.mark.parametrize("params", [REFERENCE, SAME_SHAPE, OTHER_SHAPE, NESTED])
def test_the_plan_used_is_the_backend_plan_for_the_bound_values(golden_bundle, params):
    from aw_policy.backends.linux import plan_document

    prep = _prepare(golden_bundle, params)
    expected = _bound(plan_document(prep.policy, prep.params), prep.params)
    assert _bound(prep.plan_doc, prep.params) == expected
    if not prep.reordered:  # the as-is path really used the compiled file
        assert prep.plan_doc == json.loads((golden_bundle / "linux.json").read_text())


def test_reordered_run_enforces_the_bound_policy(machine, tmp_path_factory):
    """A deny that only overlaps the workspace under the real binding still holds."""
    from helpers import run_cli

    base = tmp_path_factory.mktemp("recheck")
    (machine.ws / "private").mkdir()
    (machine.ws / "private" / "key").write_text("k\n")
    layer = base / "policy.awp"
    layer.write_text('scope project\ninclude "linux-base"\n'
                     'fs { allow read,write "${WORKSPACE}"\n'
                     f'     deny read,write "{machine.ws}/private" }}\n', encoding="utf-8")
    bundle = base / "bundle"
    assert run_cli("compile", str(layer), "-o", str(bundle)).returncode == 0
    result = machine.run(bundle, "/bin/sh", "-c", "cat README && cat private/key", opts=("-v",))
    assert "re-rendering" in result.stderr
    assert "hello from the workspace" in result.stdout
    assert "Permission denied" in result.stderr and "k\n" not in result.stdout
    assert result.returncode == 1
