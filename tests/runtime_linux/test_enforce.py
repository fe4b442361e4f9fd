"""Real processes under real Landlock, namespaces, mounts and seccomp, from plans the
backend renders out of small policies."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from runtime_linux.sandboxing import (
    BASE,
    landlock_abi,
    needs_landlock,
    sigkill_leaves_nothing,
    wait_gone,
)

pytestmark = [needs_landlock,
              pytest.mark.skipif(os.geteuid() != 0, reason="these run as root (the unprivileged ones switch uid)")]

WORKSPACE_RW = BASE + '''
fs {
  allow read,write "${WORKSPACE}"
  deny read "${WORKSPACE}/secret"
  prompt read "${WORKSPACE}/asked"
  deny write "${WORKSPACE}/frozen"
}
'''


def test_reads_and_writes_follow_decide(sandbox):
    (sandbox.ws / "secret").mkdir()
    (sandbox.ws / "secret" / "key").write_text("k")
    (sandbox.ws / "asked").write_text("a")
    (sandbox.ws / "frozen").mkdir()
    (sandbox.ws / "frozen" / "f").write_text("f")
    (sandbox.ws / "open.txt").write_text("o")
    (sandbox.home / "notes").write_text("n")
    plan = sandbox.plan(WORKSPACE_RW)
    ws, home = sandbox.ws, sandbox.home
    answers = sandbox.probe(
        plan,
        ["read", f"{ws}/open.txt"],          # allowed
        ["read", f"{ws}/secret/key"],        # deny inside an allowed tree (hidden)
        ["read", f"{ws}/asked"],             # prompt with no supervisor: deny
        ["write", f"{ws}/new.txt"],          # write inside the allowed tree
        ["write", f"{home}/notes"],          # outside every grant
        ["write", f"{sandbox.root}/top.txt"],
        ["read", f"{ws}/frozen/f"],          # read-only carve-out: readable
        ["write", f"{ws}/frozen/f"],         # ... not writable
        ["rename", f"{ws}/frozen", f"{ws}/thawed"],  # nor can a carve-out be renamed away
    ).answers()
    assert answers == ["ok", "EACCES", "EACCES", "ok", "EACCES", "EACCES", "ok", "EROFS", "EBUSY"]
    assert (ws / "new.txt").read_text() == "x"
    assert (ws / "frozen" / "f").read_text() == "f" and not (ws / "thawed").exists()


def test_denied_path_that_does_not_exist_cannot_be_created(sandbox):
    (sandbox.ws / "src").mkdir()
    plan = sandbox.plan(WORKSPACE_RW + 'fs { deny read,write "${WORKSPACE}/absent" }\n')
    ws = sandbox.ws
    answers = sandbox.probe(plan, ["mkdir", f"{ws}/absent"], ["write", f"{ws}/absent"],
                            ["write", f"{ws}/src/new.txt"], ["read", f"{ws}/src"],
                            ["write", f"{ws}/new.txt"]).answers()
    # Nothing can be mounted over a path that does not exist: the workspace grant is split
    # over its existing entries, so the path cannot be made, nor (stricter) any new top-level entry.
    assert answers == ["EACCES", "EACCES", "ok", "ok", "EACCES"]
    assert not (ws / "absent").exists()


def test_hidden_branch_entry_is_absent_and_readonly_entry_not_writable(sandbox):
    (sandbox.ws / ".env").write_text("TOKEN=1")
    (sandbox.ws / "hooks").mkdir()
    (sandbox.ws / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    policy = WORKSPACE_RW + '''
branch "agent" { base "${WORKSPACE}"; cow; hide "${WORKSPACE}/.env"; readonly "${WORKSPACE}/hooks"; on-exit discard }
'''
    answers = sandbox.probe(sandbox.plan(policy),
                            ["exists", f"{sandbox.ws}/.env"],
                            ["write", f"{sandbox.ws}/hooks/pre-commit"],
                            ["read", f"{sandbox.ws}/hooks/pre-commit"]).answers()
    assert answers == ["no", "EROFS", "ok"]
    assert (sandbox.ws / ".env").read_text() == "TOKEN=1"


@pytest.mark.parametrize("on_exit", ["discard", "keep"])
def test_copy_on_write_branch(sandbox, on_exit):
    (sandbox.ws / "base.txt").write_text("base")
    policy = WORKSPACE_RW + 'branch "agent" { base "${WORKSPACE}"; cow; on-exit discard }\n'
    plan = sandbox.plan(policy, on_exit=on_exit)
    answers = sandbox.probe(plan, ["write", f"{sandbox.ws}/base.txt"], ["write", f"{sandbox.ws}/made.txt"],
                            ["mkdir", f"{sandbox.ws}/dir"],
                            # denied paths that do not exist get a placeholder inside the branch
                            ["read", f"{sandbox.ws}/secret"], ["write", f"{sandbox.ws}/secret/x"]).answers()
    assert answers == ["ok", "ok", "ok", "EACCES", "EACCES"]
    assert (sandbox.ws / "base.txt").read_text() == "base"  # the base is never written
    assert sorted(os.listdir(sandbox.ws)) == ["base.txt"]
    store = sandbox.home / ".local" / "state" / "awpolicy" / "branches"
    if on_exit == "keep":
        (upper,) = store.iterdir()
        assert sorted(os.listdir(upper)) == ["base.txt", "dir", "made.txt"]  # no placeholder left
        assert (upper / "base.txt").read_text() == "basex"
        assert (upper / "made.txt").read_text() == "x" and (upper / "dir").is_dir()
    else:
        assert not store.exists()
        leftovers = [p for p in os.listdir(plan_tmp()) if p.startswith(("awpolicy-branch-", ".awpolicy-branch-"))]
        assert leftovers == []


def plan_tmp() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_exec_outside_allowed_exec_paths_fails(sandbox):
    shutil.copy("/bin/true", sandbox.ws / "mytrue")
    os.chmod(sandbox.ws / "mytrue", 0o755)
    answers = sandbox.probe(sandbox.plan(WORKSPACE_RW), ["exec", "/bin/true"],
                            ["exec", f"{sandbox.ws}/mytrue"], ["read", f"{sandbox.ws}/mytrue"]).answers()
    assert answers == ["exit 0", "EACCES", "ok"]


def test_exec_denied_inside_an_exec_tree_fails(sandbox):
    shutil.copy("/bin/true", sandbox.ws / "t1")
    (sandbox.ws / "tools").mkdir()
    shutil.copy("/bin/true", sandbox.ws / "tools" / "t2")
    policy = WORKSPACE_RW + 'exec { allow "${WORKSPACE}"; deny "${WORKSPACE}/tools" }\n'
    answers = sandbox.probe(sandbox.plan(policy), ["exec", f"{sandbox.ws}/t1"],
                            ["exec", f"{sandbox.ws}/tools/t2"]).answers()
    assert answers == ["exit 0", "EACCES"]


@pytest.mark.skipif(landlock_abi() < 4, reason="TCP port rules need Landlock ABI 4")
def test_tcp_connect_only_to_allowed_loopback_port(sandbox):
    allowed, other = 47211, 47212
    policy = WORKSPACE_RW + f'net {{ allow bind "localhost:*"; allow connect "localhost:{allowed}" }}\n'
    answers = sandbox.probe(sandbox.plan(policy),
                            ["listen", allowed], ["listen", other],
                            ["connect", "127.0.0.1", allowed],
                            ["connect", "127.0.0.1", other],
                            ["connect", "192.0.2.1", 443],          # not loopback: no route out
                            ).answers()
    assert answers[:4] == ["ok", "ok", "ok", "EACCES"]
    assert answers[4] in ("ENETUNREACH", "EACCES", "EHOSTUNREACH")


def test_no_network_rule_means_no_network(sandbox):
    answers = sandbox.probe(sandbox.plan(WORKSPACE_RW), ["listen", 47213], ["connect", "127.0.0.1", 47213],
                            ["connect", "192.0.2.1", 443]).answers()
    assert answers[0] in ("EADDRNOTAVAIL", "EACCES")  # lo is down in its own namespace
    assert answers[1] != "ok" and answers[2] != "ok"


@pytest.mark.skipif(landlock_abi() < 6, reason="the signal scope needs Landlock ABI 6")
def test_signals_outside_the_sandbox_fail(sandbox):
    # PID 1 of the sandbox's PID namespace is the runtime's init, outside the Landlock domain.
    plan = sandbox.plan(WORKSPACE_RW)
    assert plan.scopes == {"signal"}
    answers = sandbox.probe(plan, ["kill", 1, 0], ["kill", 0, 0]).answers()
    assert answers == ["EPERM", "ok"]  # kill(0) still reaches the sandbox's own group members
    assert sandbox.probe(plan.replace(scopes=frozenset()), ["kill", 1, 0]).answers() == ["ok"]


def test_ptrace_and_new_namespaces_fail(sandbox):
    plan = sandbox.plan(WORKSPACE_RW)
    assert sandbox.probe(plan, ["ptrace"], ["unshare"]).answers() == ["EPERM", "EPERM"]
    # the system call filter is what refuses them: without it both go through
    assert sandbox.probe(plan.replace(seccomp_deny=()), ["ptrace"], ["unshare"]).answers() == ["ok", "ok"]


def test_forked_daemon_does_not_outlive_the_session(sandbox):
    token = f"awp-daemon-{os.getpid()}-{time.monotonic_ns()}"
    assert sandbox.probe(sandbox.plan(WORKSPACE_RW), ["daemon", token]).answers() == ["ok"]
    assert wait_gone(token) == []


def test_sigkill_of_the_launcher_leaves_no_sandboxed_process(sandbox):
    assert sigkill_leaves_nothing(sandbox, sandbox.plan(WORKSPACE_RW)) == []


def test_exit_status_and_signal_propagate(sandbox):
    plan = sandbox.plan(WORKSPACE_RW)
    assert sandbox.run(plan, ["/bin/sh", "-c", "exit 7"]).returncode == 7
    assert sandbox.run(plan, ["/bin/sh", "-c", "kill -TERM $$"]).returncode == 128 + signal.SIGTERM


@pytest.mark.skipif(landlock_abi() < 6, reason="simulating ABI 5 below a signal-scope policy needs ABI 6")
def test_older_abi_is_refused_and_best_effort_names_the_rule(sandbox):
    plan = sandbox.plan(WORKSPACE_RW)
    refused = sandbox.run(plan, ["/bin/sh", "-c", "echo RAN"], abi=5)
    assert refused.returncode != 0 and "RAN" not in refused.stdout
    assert "signal scope needs Landlock ABI 6, kernel has 5" in refused.stderr
    scope_rule = plan.needs["signal_scope"][0]
    assert scope_rule in refused.stderr  # the rule (id and origin) behind the feature
    lenient = sandbox.plan(WORKSPACE_RW, best_effort=True)
    ran = sandbox.run(lenient, ["/bin/sh", "-c", "echo RAN"], abi=5)
    assert ran.returncode == 0 and ran.stdout.strip() == "RAN"
    assert scope_rule.startswith("rule ") and " at " in scope_rule
    assert f"not enforced: signal scope needs Landlock ABI 6, kernel has 5 ({scope_rule})" in ran.stderr


def test_missing_host_features_are_refused_naming_what_needs_them(sandbox):
    from aw_runtime.linux import Unenforceable, host_unenforceable, run

    plan = sandbox.plan(WORKSPACE_RW + 'branch "agent" { base "${WORKSPACE}"; cow }\n')
    assert host_unenforceable(plan) == []  # this host has them all
    (reason,) = host_unenforceable(plan, overlay=False)
    assert "needs overlayfs" in reason and "branch agent at project0.awp:" in reason
    with pytest.raises(Unenforceable) as info:
        run(plan, ["/bin/true"], _host={"overlay": False})
    assert info.value.reasons == [reason]
    assert "user namespaces" in host_unenforceable(plan, root=False, userns=False)[0]


def test_unenforceable_rule_is_refused_unless_best_effort(sandbox):
    policy = WORKSPACE_RW + 'fs { deny write glob "${WORKSPACE}/**/.env" }\n'
    (sandbox.ws / "app").mkdir()
    (sandbox.ws / "app" / ".env").write_text("A=1")
    refused = sandbox.run(sandbox.plan(policy), ["/bin/sh", "-c", "echo RAN"])
    assert refused.returncode != 0 and "RAN" not in refused.stdout
    assert "cannot enforce: rule r" in refused.stderr and "**/.env" in refused.stderr
    lenient = sandbox.plan(policy, best_effort=True)
    answers = sandbox.probe(lenient, ["write", f"{sandbox.ws}/app/.env"], ["write", f"{sandbox.ws}/app/x"])
    assert "not enforced: rule r" in answers.stderr and "**/.env" in answers.stderr
    assert answers.answers() == ["EROFS", "ok"]  # matches that exist at launch are carved out
