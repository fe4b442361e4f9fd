"""Drive a program through a pseudo-terminal: send lines, wait for output, with timeouts."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time


class PtySession:
    def __init__(self, argv: list[str], *, cwd, env: dict[str, str]):
        self.buffer = b""
        pid, fd = pty.fork()
        if pid == 0:  # the child: its controlling terminal is the pty
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status: int | None = None

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\n")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the other side closed
            return False
        self.buffer += data
        return bool(data)

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """Wait until ``text`` appears; return everything read up to it (and forget it)."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while needle not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.exited()):
                raise AssertionError(f"timed out waiting for {text!r}; got:\n{self.buffer.decode(errors='replace')}")
        before, _, after = self.buffer.partition(needle)
        self.buffer = after
        return before.decode(errors="replace")

    def run(self, command: str, timeout: float = 30.0) -> str:
        """Type ``command`` and return its output: the shell echoes the line, so the end marker is
        computed by the shell ($((...))) and never matches the typed text."""
        self.send(f"{command}; echo __DONE$((40+2))__ $?")
        out = self.expect("__DONE42__", timeout)
        status = self.expect("\n", timeout)
        return out.split("\n", 1)[-1] + f"[status {status.strip()}]"

    def exited(self) -> bool:
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(st)
        return self.status is not None

    def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the session did not exit")
            self._read(0.1)
        while self._read(0.05):
            pass
        return self.status

    def kill(self) -> None:
        if not self.exited():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9

    def close(self) -> None:
        self.kill()
        os.close(self.fd)


def awpolicy_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "aw_policy", *args]
