"""Drop every capability of the calling thread, for good.

Order: lock the securebits (no root privilege fix-ups, no ambient raise;
needs CAP_SETPCAP), drop the whole bounding set (needs CAP_SETPCAP), clear the
ambient set, then capset(2) effective/permitted/inheritable to zero.
"""

from __future__ import annotations

import ctypes
import errno

from . import _libc

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
SECUREBITS = (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP
              | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED
              | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63  # the loop below stops at the first EINVAL anyway


def drop_all() -> None:
    _libc.prctl(_libc.PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0, label="prctl(PR_SET_SECUREBITS)")
    for cap in range(last_cap() + 1):
        try:
            _libc.prctl(_libc.PR_CAPBSET_DROP, cap, 0, 0, 0, label=f"prctl(PR_CAPBSET_DROP, {cap})")
        except OSError as e:
            if e.errno == errno.EINVAL:  # beyond the kernel's last capability
                break
            raise
    _libc.prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0,
                label="prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    _libc.syscall(_libc.nr("capset"), ctypes.byref(hdr), ctypes.byref(data), label="capset")
