"""Append-only JSONL audit log with size rotation, safe for many writer processes.

Guarantees (for writers that all use this class on the same path):

- **no torn line**: a line is one ``write()`` of the whole encoded record on a
  descriptor opened with ``O_APPEND``, so the kernel places it at the end in one
  piece; records are single-line JSON (newlines inside strings are escaped).
  When the disk fills up (or a file size limit is hit) in the middle of a line,
  the writer takes the lock exclusively and takes its piece back: truncates it
  when it is still the end of the file, else overwrites it with spaces (JSON
  allows leading whitespace, so the next writer's line still parses), then
  raises the error naming the log;
- **no lost line**: writers hold a *shared* ``flock`` on ``PATH.lock`` while
  they check that their descriptor still names ``PATH`` (same device and inode;
  otherwise they reopen) and append; rotation takes the lock *exclusively*,
  re-checks the size and renames ``PATH`` to ``PATH.N`` (N one above the
  highest existing). So no writer can append to a file that has already been
  rotated away, and every line ends up in ``PATH`` or one ``PATH.N``;
- retention: with ``keep`` > 0, rotation deletes the oldest ``PATH.N`` beyond
  ``keep`` files (that is the only way a line leaves the log); ``keep=0``
  keeps them all.

Stdlib only; POSIX (``fcntl.flock``).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Self

from aw_runtime.atomic import fsync_dir as _fsync_dir

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_KEEP = 16


def encode(record: dict) -> bytes:
    """One record as one line: compact JSON, sorted keys, UTF-8, LF."""
    return (json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


class AuditLog:
    def __init__(self, path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.max_bytes = max_bytes
        self.keep = keep
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()  # flock is per open file description: serialize our threads
        self.lines_written = 0
        self.rotations = 0

    # ----------------------------------------------------------------- public

    def write(self, record: dict) -> None:
        self.write_line(encode(record))

    def write_line(self, line: bytes) -> None:
        if not line.endswith(b"\n") or b"\n" in line[:-1]:
            raise ValueError("an audit record must be exactly one line")
        with self._mutex:
            lock = self._lock()
            fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                fd = self._current()
                self._append(fd, line)
                size = os.fstat(fd).st_size
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            self.lines_written += 1
            if self.max_bytes and size >= self.max_bytes:
                self._rotate()

    def files(self) -> list[Path]:
        """Every file of the log, oldest first (rotated ones, then the current one)."""
        rotated = sorted(self._rotated(), key=lambda nf: nf[0])
        out = [self.path.with_name(name) for _, name in rotated]
        if self.path.exists():
            out.append(self.path)
        return out

    def close(self) -> None:
        with self._mutex:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _lock(self) -> int:
        if self._lock_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                if not self.lock_path.exists():
                    raise
                # flock needs no write access; the error worth reporting is then the log's own
                self._lock_fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        return self._lock_fd

    def _current(self) -> int:
        """A descriptor on the file now at ``path`` (reopened after a rotation)."""
        if self._fd is not None:
            try:
                st = os.stat(self.path)
                own = os.fstat(self._fd)
                if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                    return self._fd
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def _append(self, fd: int, line: bytes) -> None:
        """Append the whole ``line`` or, when the write fails part way, none of it."""
        written = 0
        try:
            while written < len(line):  # short only on a full disk, a size limit or a signal
                written += os.write(fd, line[written:])
        except BaseException as exc:
            if written:
                self._take_back(fd, written)
            if isinstance(exc, OSError):
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
            raise

    def _take_back(self, fd: int, count: int) -> None:
        """Remove the ``count`` bytes of a torn line this descriptor just appended."""
        try:
            end = os.lseek(fd, 0, os.SEEK_CUR)  # O_APPEND: just past our bytes
            # Exclusive: no other writer appends between the check and the repair.
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - count)
                return
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_APPEND)  # pwrite on O_APPEND appends
            try:
                os.pwrite(fd, b" " * count, end - count)
            finally:
                fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        except OSError:
            pass  # the original error is what the caller needs to see

    def _rotated(self) -> list[tuple[int, str]]:
        prefix = self.path.name + "."
        out = []
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return []
        for name in names:
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                out.append((int(name[len(prefix):]), name))
        return out

    def _rotate(self) -> None:
        lock = self._lock()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                if os.stat(self.path).st_size < self.max_bytes:
                    return  # another writer rotated first
            except FileNotFoundError:
                return
            rotated = sorted(self._rotated())
            number = rotated[-1][0] + 1 if rotated else 1
            os.rename(self.path, self.path.with_name(f"{self.path.name}.{number}"))
            self.rotations += 1
            rotated.append((number, f"{self.path.name}.{number}"))
            if self.keep > 0:
                for _, name in rotated[: max(0, len(rotated) - self.keep)]:
                    try:
                        os.unlink(self.path.with_name(name))
                    except FileNotFoundError:
                        pass
            _fsync_dir(self.path.parent)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


