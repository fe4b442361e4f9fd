"""Thin ctypes access to the few libc/syscall entry points the runtime needs.

Stdlib only. Every wrapper raises ``OSError`` (with errno and a short label)
on failure, so callers can turn it into a clear message.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os

libc = ctypes.CDLL(None, use_errno=True)

_syscall = libc.syscall
_syscall.restype = ctypes.c_long

_prctl = libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

_mount = libc.mount
_mount.restype = ctypes.c_int
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

_umount2 = libc.umount2
_umount2.restype = ctypes.c_int
_umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

_unshare = libc.unshare
_unshare.restype = ctypes.c_int
_unshare.argtypes = [ctypes.c_int]

MACHINE = os.uname().machine
if MACHINE in ("x86_64", "amd64"):
    ARCH = "x86_64"
elif MACHINE in ("aarch64", "arm64"):
    ARCH = "aarch64"
else:  # pragma: no cover - only the two 64-bit targets are supported
    ARCH = MACHINE

# Syscalls used directly (not wrapped by glibc or not reliably so). Numbers from
# the kernel's uapi tables; 424 and above are shared by all architectures.
_NR = {
    "x86_64": {"capset": 126, "seccomp": 317},
    "aarch64": {"capset": 91, "seccomp": 277},
}
NR_LANDLOCK_CREATE_RULESET = 444
NR_LANDLOCK_ADD_RULE = 445
NR_LANDLOCK_RESTRICT_SELF = 446
NR_OPEN_TREE = 428
NR_MOVE_MOUNT = 429
NR_FSOPEN = 430
NR_FSCONFIG = 431
NR_FSMOUNT = 432
NR_MOUNT_SETATTR = 442


def nr(name: str) -> int:
    try:
        return _NR[ARCH][name]
    except KeyError:
        raise OSError(_errno.ENOSYS, f"syscall {name} unknown on {ARCH}") from None


def _err(label: str) -> OSError:
    e = ctypes.get_errno()
    return OSError(e, f"{label}: {os.strerror(e)}")


def syscall(number: int, *args, label: str = "syscall") -> int:
    ret = _syscall(ctypes.c_long(number), *args)
    if ret < 0:
        raise _err(label)
    return ret


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0, *, label: str = "prctl") -> int:
    ret = _prctl(option, a2, a3, a4, a5)
    if ret < 0:
        raise _err(label)
    return ret


def _b(s):
    if s is None:
        return None
    return os.fsencode(s)


def mount(source, target, fstype, flags: int, data=None) -> None:
    if _mount(_b(source), _b(target), _b(fstype), flags, _b(data)) != 0:
        raise _err(f"mount {fstype or ''} on {target}".replace("  ", " "))


def umount2(target, flags: int) -> None:
    if _umount2(_b(target), flags) != 0:
        raise _err(f"umount {target}")


def unshare(flags: int) -> None:
    if _unshare(flags) != 0:
        raise _err("unshare")


# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_CHILD_SUBREAPER = 36


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, label="prctl(PR_SET_NO_NEW_PRIVS)")


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0, label="prctl(PR_SET_PDEATHSIG)")
