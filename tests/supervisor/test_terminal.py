"""The question on the launcher's terminal: a person types the answer."""

from __future__ import annotations

import os
import pty
import select
import sys
import time


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_a_question_on_the_terminal_is_answered_by_typing(machine, bundle_with):
    env = {**machine.env, "AWPOLICY_PROMPT_SOCKET": "", "AWPOLICY_PROMPT_DEADLINE": "10"}
    plan = machine.home / "Documents" / "plan.txt"
    argv = [sys.executable, "-m", "aw_policy", "run", "--best-effort", "--discard-branch", str(bundle_with()), "--",
            "/usr/bin/python3", "-I", "-S", "-c", "import sys; print('READ:' + open(sys.argv[1]).read())", str(plan)]
    pid, fd = pty.fork()
    if pid == 0:  # the launcher, on a terminal of its own (stdin, stdout, stderr and /dev/tty)
        os.chdir(machine.ws)
        os.execve(argv[0], argv, env)
    try:
        asked = _read_until(fd, b"then denied: ", 30)
        assert b"asks to read " + str(plan).encode() in asked, asked
        assert b"rule r150" in asked
        os.write(fd, b"y\n")
        rest = _read_until(fd, b"READ:the plan", 30)
        assert b"READ:the plan" in rest, rest
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
