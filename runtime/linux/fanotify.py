"""fanotify permission events through ctypes: the kernel side of the prompt supervisor.

The sandbox's PID 1 creates the group and marks the *mounts* of its own mount
namespace (the copies ``unshare(CLONE_NEWNS)`` made), so only processes that
use those mounts (the sandbox's) raise events; nothing on the host ever waits
for the supervisor. The supervisor reads events, finds out what was opened and
how, and answers allow or deny.

Kernel facts this relies on (measured on this machine, see docs/threat-model.md):

* Landlock is checked before fanotify: the supervisor only sees opens the
  sandbox's grants already allow;
* when the last descriptor of a group is closed, the kernel answers every
  pending permission event **allow** and stops asking; so the launcher keeps a
  descriptor in the session keeper until every sandboxed process is gone, and
  ends the session when the supervisor dies (fail closed);
* a task waiting for an answer can be killed (the wait is killable).

Stdlib only.
"""

from __future__ import annotations

import ctypes
import os
import struct

from . import _libc

FAN_CLOEXEC = 0x1
FAN_CLASS_CONTENT = 0x4
FAN_UNLIMITED_QUEUE = 0x10
FAN_REPORT_TID = 0x100
FAN_MARK_ADD = 0x1
FAN_MARK_MOUNT = 0x10
FAN_OPEN_PERM = 0x10000
FAN_OPEN_EXEC_PERM = 0x40000
FAN_Q_OVERFLOW = 0x4000
FAN_ALLOW = 0x1
FAN_DENY = 0x2
FAN_NOFD = -1
AT_FDCWD = -100

_METADATA = struct.Struct("=IBBHQii")  # event_len vers reserved metadata_len mask fd pid
_RESPONSE = struct.Struct("=iI")
METADATA_VERSION = 3

_init = _libc.libc.fanotify_init
_init.restype = ctypes.c_int
_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_mark = _libc.libc.fanotify_mark
_mark.restype = ctypes.c_int
_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]


def mask_for(accesses) -> int:
    """The permission events that gate ``accesses`` (read/write: open; exec: open for exec)."""
    mask = 0
    if {"read", "write"} & set(accesses):
        mask |= FAN_OPEN_PERM
    if "exec" in accesses:
        mask |= FAN_OPEN_EXEC_PERM
    return mask


def create_group() -> int:
    """A new permission-event group (needs CAP_SYS_ADMIN); events report thread ids."""
    fd = _init(FAN_CLOEXEC | FAN_CLASS_CONTENT | FAN_UNLIMITED_QUEUE | FAN_REPORT_TID,
               os.O_RDONLY | os.O_LARGEFILE | os.O_CLOEXEC)
    if fd < 0:
        raise _libc._err("fanotify_init")
    return fd


def mount_points_under(roots, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Every mount point of this mount namespace at or below one of ``roots``."""
    out = []
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if any(point == r or r == "/" or point.startswith(r.rstrip("/") + "/") for r in roots):
                out.append(point)
    return out


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    if "\\" not in field:
        return field
    return field.encode("latin-1", "surrogateescape").decode("unicode_escape").encode("latin-1").decode(
        "utf-8", "surrogateescape")


def _existing(path: str) -> str:
    while not os.path.lexists(path) and path != "/":
        path = os.path.dirname(path)
    return path


def mark_mounts(group: int, roots, mask: int) -> list[str]:
    """Mark the mount holding each root (or its nearest existing ancestor) and every mount
    below a root, for ``mask``; returns the paths marked. Raises OSError."""
    targets = sorted({_existing(os.path.normpath(r)) for r in roots} | set(mount_points_under(roots)))
    for path in targets:
        if _mark(group, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, os.fsencode(path)) != 0:
            raise _libc._err(f"fanotify_mark {path}")
    return targets


def read_events(group: int, size: int = 65536) -> list[tuple[int, int, int]]:
    """The queued events as (mask, fd, thread id); blocks when none is queued."""
    data = os.read(group, size)
    out, offset = [], 0
    while offset + _METADATA.size <= len(data):
        length, version, _, _, mask, fd, pid = _METADATA.unpack_from(data, offset)
        if version != METADATA_VERSION or length < _METADATA.size:
            raise OSError(0, f"fanotify event metadata version {version}; "
                             f"this runtime reads {METADATA_VERSION}")
        out.append((mask, fd, pid))
        offset += length
    return out


def respond(group: int, fd: int, allow: bool) -> None:
    os.write(group, _RESPONSE.pack(fd, FAN_ALLOW if allow else FAN_DENY))


# Open syscalls by architecture: number -> index of the flags argument (None: flags
# sit in user memory, which another thread could change after the kernel read them).
_OPEN_SYSCALLS = {
    "x86_64": {2: 1, 257: 2, 85: "creat", 437: None, 59: "exec", 322: "exec"},
    "aarch64": {56: 2, 437: None, 221: "exec", 281: "exec"},
}


def open_accesses(tid: int, arch: str = _libc.ARCH) -> frozenset[str] | None:
    """What the blocked thread ``tid`` opens for, from its current system call:
    {"read"}, {"write"}, {"read", "write"}, {"exec"}; None when it cannot be known
    (the caller then assumes the most it could be)."""
    try:
        with open(f"/proc/{tid}/syscall", encoding="ascii") as f:
            fields = f.read().split()
        number = int(fields[0])
    except (OSError, ValueError, IndexError):
        return None
    where = _OPEN_SYSCALLS.get(arch, {}).get(number, None)
    if where == "exec":
        return frozenset({"exec"})
    if where == "creat":
        return frozenset({"write"})
    if not isinstance(where, int):
        return None
    try:
        flags = int(fields[1 + where], 16)
    except (ValueError, IndexError):
        return None
    mode = flags & os.O_ACCMODE
    if mode == os.O_RDONLY:
        return frozenset({"read", "write"}) if flags & os.O_TRUNC else frozenset({"read"})
    if mode == os.O_WRONLY:
        return frozenset({"write"})
    return frozenset({"read", "write"})


def event_path(fd: int) -> str | None:
    """The path of an event's file as the sandbox sees it (its mount namespace has the
    same root), or None when the kernel cannot name it (deleted, unreachable)."""
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    if not path.startswith("/") or path.endswith(" (deleted)"):
        return None
    return path
