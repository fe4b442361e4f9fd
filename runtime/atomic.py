"""Atomic file replacement: a reader sees the old file or the new one, never a torn one."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644, *, exclusive: bool = False) -> None:
    """Write ``data`` to a temporary sibling, fsync it, move it to ``path``, fsync the directory.

    ``exclusive``: link instead of rename, so an existing ``path`` is never replaced
    (FileExistsError) — for keys, which must not be overwritten by accident.
    """
    path = Path(path).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    fsync_dir(path.parent)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a directory's entries durable (best effort where directories cannot be fsynced)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def os_error_text(exc: OSError) -> str:
    """What went wrong, for a message: the system's text and the errno's name ("Permission denied (EACCES)")."""
    name = errno.errorcode.get(exc.errno) if exc.errno is not None else None
    text = exc.strerror or str(exc)
    return f"{text} ({name})" if name else text
