"""The golden example's two profiles: raw .sb snapshots (reviewed by reading them), and lint.

The sources are compiled in a temporary copy laid out like golden/agent-worktree
(so provenance comments name the same relative files as the committed bundle);
the committed bundle itself is never read or written here.
"""

from __future__ import annotations

import shutil

import pytest
from helpers import GOLDEN, GOLDEN_SOURCES
from syrupy.extensions.single_file import SingleFileSnapshotExtension

from aw_policy import bundle
from aw_policy.backends import sbpl
from aw_policy.merge import compile_sources, display_relative_to
from aw_policy.sbpl import evaluator


class SbplSnapshot(SingleFileSnapshotExtension):
    file_extension = "sb"


@pytest.fixture(scope="module")
def golden_files(tmp_path_factory):
    work = tmp_path_factory.mktemp("golden") / "agent-worktree"
    shutil.copytree(GOLDEN / "src", work / "src")
    sources = [work / "src" / p.name for p in GOLDEN_SOURCES]
    policy = compile_sources(sources, display_for=display_relative_to(work / "bundle")).policy
    return bundle.build(policy, {})


@pytest.mark.parametrize("name", [sbpl.PROFILE, sbpl.SUPERVISED])
def test_golden_profile_snapshot(golden_files, snapshot, name):
    assert golden_files[name] == snapshot(extension_class=SbplSnapshot)


@pytest.mark.parametrize("name", [sbpl.PROFILE, sbpl.SUPERVISED])
def test_golden_profile_loads_with_the_launch_values(golden_files, name):
    manifest = __import__("json").loads(golden_files["manifest.json"])
    loaded = evaluator.load_profile(golden_files[name].decode(), sbpl.launch_params(manifest["params"]), name)
    home = sbpl.launch_params(manifest["params"])["HOME"]
    deny = evaluator.evaluate(loaded, evaluator.Request("file-read-data", path=home + "/.SSH/id_rsa"))
    assert not deny.allowed and deny.rule is not None  # denied by the org rule, not by accident
    assert evaluator.evaluate(loaded, evaluator.Request("file-read-data", path="/usr/lib/libSystem.B.dylib")).allowed
    assert evaluator.evaluate(loaded, evaluator.Request("mach-lookup", name="com.apple.system.logger")).allowed


@pytest.mark.parametrize("name", [sbpl.PROFILE, sbpl.SUPERVISED])
def test_golden_profile_lints_clean(golden_files, name):
    lint = pytest.importorskip("aw_policy.sbpl.lint", reason="the SBPL linter (issue 4, part A) is not in yet")
    findings = lint.lint_sbpl(golden_files[name].decode(), name)
    assert [f"{d.code} {d.span.line}:{d.span.col} {d.message}" for d in findings] == []
