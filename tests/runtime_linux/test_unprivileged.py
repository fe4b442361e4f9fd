"""A subset of the enforcement tests as an unprivileged user (nobody), where the sandbox
needs a user namespace for its mounts, overlay and PID namespace."""

from __future__ import annotations

import os
import time

import pytest
from runtime_linux.sandboxing import (
    BASE,
    NOBODY,
    alive,
    give_to,
    landlock_abi,
    needs_landlock,
    sigkill_leaves_nothing,
    unprivileged_userns,
    wait_gone,
)

WHY_NOT = unprivileged_userns()
pytestmark = [needs_landlock, pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))]

POLICY = BASE + '''
fs {
  allow read,write "${WORKSPACE}"
  deny read "${WORKSPACE}/secret"
  deny write "${WORKSPACE}/frozen"
}
branch "agent" { base "${WORKSPACE}"; cow; hide "${WORKSPACE}/.env"; on-exit discard }
'''


@pytest.fixture
def world(sandbox):
    (sandbox.ws / "secret").mkdir()
    (sandbox.ws / "secret" / "key").write_text("k")
    (sandbox.ws / "frozen").mkdir()
    (sandbox.ws / "frozen" / "f").write_text("f")
    (sandbox.ws / ".env").write_text("T=1")
    (sandbox.ws / "open.txt").write_text("o")
    (sandbox.home / "notes").write_text("n")
    give_to(sandbox.root, NOBODY)
    return sandbox


def test_filesystem_and_branch_as_nobody(world):
    ws = world.ws
    answers = world.probe(
        world.plan(POLICY),
        ["read", f"{ws}/open.txt"], ["read", f"{ws}/secret/key"], ["write", f"{ws}/open.txt"],
        ["write", f"{ws}/frozen/f"], ["exists", f"{ws}/.env"], ["write", f"{world.home}/notes"],
        user=NOBODY).answers()
    assert answers == ["ok", "EACCES", "ok", "EROFS", "no", "EACCES"]
    assert (ws / "open.txt").read_text() == "o"  # the write went to the discarded branch
    assert (ws / ".env").read_text() == "T=1"


@pytest.mark.skipif(landlock_abi() < 6, reason="the signal scope needs Landlock ABI 6")
def test_ptrace_and_outside_signals_fail_as_nobody(world):
    answers = world.probe(world.plan(POLICY), ["ptrace"], ["kill", 1, 0], user=NOBODY).answers()
    assert answers == ["EPERM", "EPERM"]


def test_daemon_dies_with_the_session_as_nobody(world):
    token = f"awp-nobody-daemon-{os.getpid()}-{time.monotonic_ns()}"
    assert world.probe(world.plan(POLICY), ["daemon", token], user=NOBODY).answers() == ["ok"]
    assert wait_gone(token) == [] and alive(token) == []


def test_sigkill_of_the_launcher_leaves_nothing_as_nobody(world):
    assert sigkill_leaves_nothing(world, world.plan(POLICY), user=NOBODY) == []
