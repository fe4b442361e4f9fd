"""Worktree sessions: create, reuse, record, list/show, clean (never a dirty worktree unless forced)."""

from __future__ import annotations

import json
import os

import pytest
from agent_helpers import git, needs_sandbox, run_in
from helpers import run_cli

from aw_policy import sessions, worktree

POLICY = 'include "linux-base"\ninclude "git-worktree"\nfs { allow read,write "${WORKSPACE}" }\n'


def test_create_then_reuse(repo):
    first = worktree.ensure("feat", start=repo)
    assert first.created and first.path == (repo / ".awpolicy/worktrees/feat").resolve()
    assert first.branch == "awpolicy/feat"
    assert first.params() == {"WORKSPACE": str(first.path), "GIT_COMMON_DIR": str((repo / ".git").resolve())}
    assert (first.path / "README").read_text() == "hello\n"
    (first.path / "scratch").write_text("wip\n")
    again = worktree.ensure("feat", start=first.path)  # from inside the worktree too
    assert not again.created and again.path == first.path and again.repo == first.repo
    assert (again.path / "scratch").read_text() == "wip\n"
    # .awpolicy/ is ignored both in the repository and in the worktree (redirected homes, caches)
    assert git("status", "--porcelain", cwd=repo) == ""
    (first.path / ".awpolicy" / "cache").mkdir(parents=True)
    (first.path / ".awpolicy" / "cache" / "blob").write_text("x")
    assert worktree.changes(first.path) == ["?? scratch"]


def test_base_ref_and_bad_names(repo):
    git("commit", "-q", "--allow-empty", "-m", "second", cwd=repo)
    tree = worktree.ensure("old", start=repo, base="HEAD~1")
    assert git("log", "--format=%s", "-1", cwd=tree.path).strip() == "init"
    worktree.remove(repo, tree.path)
    with pytest.raises(worktree.WorktreeError, match="already exists"):  # its branch does; --base would be ignored
        worktree.ensure("old", start=repo, base="main")
    assert worktree.ensure("old", start=repo).branch == "awpolicy/old"  # reused without --base
    for bad in ("../x", "-rf", "", "a/b", "x.lock", "." * 3):
        with pytest.raises(worktree.WorktreeError, match="must be"):
            worktree.ensure(bad, start=repo)


def test_outside_a_repository(tmp_path):
    with pytest.raises(worktree.WorktreeError, match="not inside a git repository"):
        worktree.ensure("x", start=tmp_path)


def test_remove_refuses_uncommitted_changes_unless_forced(repo):
    tree = worktree.ensure("dirty", start=repo)
    (tree.path / "README").write_text("changed\n")
    with pytest.raises(worktree.WorktreeError, match="uncommitted change"):
        worktree.remove(repo, tree.path)
    assert (tree.path / "README").read_text() == "changed\n"
    worktree.remove(repo, tree.path, force=True)
    assert not tree.path.exists()
    assert "awpolicy/dirty" in git("branch", "--list", "awpolicy/dirty", cwd=repo)  # the branch stays


def test_records_are_written_atomically_and_round_trip(tmp_path):
    d = tmp_path / "records"
    s = sessions.start(name="n", repo="/r", worktree="/r/w", branch="awpolicy/n", bundle=str(tmp_path / "missing"),
                       params={"WORKSPACE": "/r/w"}, flags={"network": None}, command=["true"], directory=d)
    assert [p.name for p in d.iterdir()] == [f"{s.id}.json"]
    done = sessions.finish(s, 3, directory=d)
    assert [p.name for p in d.iterdir()] == [f"{s.id}.json"]  # replaced in place, no temporary left
    (d / "junk.json").write_text("{not json")
    found, bad = sessions.load_all(d)
    assert found == [done] and bad == ["junk.json"]
    assert done.exit_status == 3 and done.ended >= done.started and not done.running


@needs_sandbox
def test_run_records_sessions_and_clean_respects_uncommitted_work(repo, bundle, data_home):
    b = bundle(POLICY)
    first = run_in(repo, "run", str(b), "--worktree", "a", "--", "sh", "-c", "echo one > one.txt; exit 3")
    assert first.returncode == 3, first.stderr
    assert "(new worktree)" in first.stderr
    second = run_in(repo, "run", str(b), "--worktree", "a", "--", "sh", "-c", "cat one.txt")
    assert second.returncode == 0 and second.stdout == "one\n" and "(reused)" in second.stderr
    clean_tree = run_in(repo, "run", str(b), "--worktree", "b", "--", "true")
    assert clean_tree.returncode == 0, clean_tree.stderr

    listed = run_cli("sessions", "list", "--format", "json")
    records = json.loads(listed.stdout)
    assert [(r["name"], r["exit_status"]) for r in records] == [("a", 3), ("a", 0), ("b", 0)]
    manifest = (b / "manifest.json").read_bytes()
    import hashlib

    for r in records:
        assert r["repo"] == str(repo.resolve())
        assert r["params"]["WORKSPACE"] == r["worktree"] == str((repo / ".awpolicy/worktrees" / r["name"]).resolve())
        assert r["params"]["GIT_COMMON_DIR"] == str((repo / ".git").resolve())
        assert r["bundle_sha256"] == hashlib.sha256(manifest).hexdigest()
        assert r["ended"] >= r["started"]
    shown = run_cli("sessions", "show", records[0]["id"])
    assert json.loads(shown.stdout)["command"] == ["sh", "-c", "echo one > one.txt; exit 3"]
    assert run_cli("sessions", "show", "nope").returncode == 2

    refused = run_cli("sessions", "clean")
    assert refused.returncode == 1
    assert "uncommitted" in refused.stderr and "one.txt" in refused.stderr
    assert (repo / ".awpolicy/worktrees/a/one.txt").exists()
    assert not (repo / ".awpolicy/worktrees/b").exists()  # the clean one went
    remaining = json.loads(run_cli("sessions", "list", "--format", "json").stdout)
    assert [r["name"] for r in remaining] == ["a", "a"]

    forced = run_cli("sessions", "clean", "a", "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (repo / ".awpolicy/worktrees/a").exists()
    assert json.loads(run_cli("sessions", "list", "--format", "json").stdout) == []
    assert git("branch", "--list", "awpolicy/*", cwd=repo).split() == ["awpolicy/a", "awpolicy/b"]


@needs_sandbox
def test_worktree_and_workspace_param_clash(repo, bundle, data_home):
    result = run_in(repo, "run", str(bundle(POLICY)), "--worktree", "x", "--param", f"WORKSPACE={repo}", "--", "true")
    assert result.returncode == 2 and "--worktree binds WORKSPACE" in result.stderr
    assert not os.path.exists(repo / ".awpolicy/worktrees/x")


def test_clean_forgets_sessions_whose_repository_is_gone(tmp_path, data_home):
    gone = tmp_path / "vanished"
    sessions.start(name="old", repo=str(gone), worktree=str(gone / ".awpolicy/worktrees/old"), branch="awpolicy/old",
                   bundle=str(tmp_path), params={}, flags={}, command=["true"])
    record = sessions.load_all()[0][0]
    sessions.finish(record, 0)
    result = run_cli("sessions", "clean")
    assert result.returncode == 0, result.stderr
    assert sessions.load_all() == ([], [])


def test_tampered_records_cannot_steer_clean(tmp_path, data_home, repo):
    victim = repo / "precious"
    victim.mkdir()
    d = sessions.sessions_dir()
    d.mkdir(parents=True)
    good = {"format": sessions.RECORD_FORMAT, "id": "x1", "name": "n", "repo": str(repo), "worktree": str(victim),
            "branch": "b", "bundle": "", "bundle_sha256": "", "params": {}, "flags": {}, "command": [],
            "started": 1.0, "pid": 1, "ended": 2.0, "exit_status": 0}
    (d / "x1.json").write_text(json.dumps(good))
    (d / "x2.json").write_text(json.dumps(good | {"id": "../../escape"}))
    assert [s.id for s in sessions.load_all()[0]] == ["x1"] and sessions.load_all()[1] == ["x2.json"]
    result = run_cli("sessions", "clean")
    assert result.returncode == 1 and "is not" in result.stderr
    assert victim.is_dir()
