"""Landlock through raw syscalls (ctypes): ABI detection, rulesets, enforcement.

ABI steps (kernel uapi): 1 filesystem; 2 REFER; 3 TRUNCATE; 4 TCP bind/connect
by port; 5 IOCTL_DEV; 6 scopes (abstract unix sockets, signals); 7 audit
logging flags on restrict_self. The syscall numbers 444/445/446 are the same
on x86_64 and aarch64 (the table is unified from 424 on).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct

from . import _libc
from .plan import LinuxPlan

# filesystem rights
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13       # ABI 2
TRUNCATE = 1 << 14    # ABI 3
IOCTL_DEV = 1 << 15   # ABI 5
# network rights (ABI 4)
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
# scopes (ABI 6)
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1
# create_ruleset / restrict_self flags
CREATE_RULESET_VERSION = 1 << 0
RESTRICT_SELF_LOG_SAME_EXEC_OFF = 1 << 0   # ABI 7
RESTRICT_SELF_LOG_NEW_EXEC_ON = 1 << 1     # ABI 7
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

_FS_ABI1 = (1 << 13) - 1
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_WRITE_ABI1 = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG
               | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM)
_SCOPES = {"abstract_unix_socket": SCOPE_ABSTRACT_UNIX_SOCKET, "signal": SCOPE_SIGNAL}

# Highest ABI whose semantics this module knows. A newer kernel is driven as
# this ABI (handling more rights than we know would be wrong).
KNOWN_ABI = 7


def kernel_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    ret = _libc._syscall(ctypes.c_long(_libc.NR_LANDLOCK_CREATE_RULESET), None,
                         ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    if ret < 0:
        return 0  # ENOSYS (not built) or EOPNOTSUPP (disabled at boot)
    return int(ret)


def effective_abi(requested: int | None = None) -> int:
    """ABI we drive: the kernel's (capped at KNOWN_ABI), or ``requested`` to
    simulate an older kernel (it may not exceed the real one)."""
    real = min(kernel_abi(), KNOWN_ABI)
    if requested is None:
        return real
    if requested > real:
        raise ValueError(f"cannot simulate Landlock ABI {requested}: kernel has {real}")
    return max(0, requested)


def handled_fs(abi: int) -> int:
    if abi < 1:
        return 0
    rights = _FS_ABI1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def fs_rights(access, abi: int, is_dir: bool) -> int:
    """Landlock rights for a grant's access names under ``abi``."""
    rights = 0
    if "read" in access:
        rights |= READ_FILE | READ_DIR
    if "write" in access:
        rights |= _WRITE_ABI1 | REFER | TRUNCATE | IOCTL_DEV
    if "exec" in access:
        rights |= EXECUTE
    rights &= handled_fs(abi)
    if not is_dir:
        rights &= _FILE_ONLY
    return rights


def unenforceable(plan: LinuxPlan, abi: int) -> list[str]:
    """What of ``plan`` a kernel with Landlock ABI ``abi`` cannot enforce (naming the rules behind it)."""
    def by(feature: str) -> str:
        rules = plan.needs.get(feature, ())
        return f" ({', '.join(rules)})" if rules else ""

    out = []
    if abi < 1:
        out.append("filesystem rules need Landlock, which this kernel does not provide")
    elif abi < 3:
        out.append(f"truncate(2) of files outside write grants: Landlock ABI 3 needed, kernel has {abi}")
    n = plan.network
    if (n.tcp_connect_ports is not None or n.tcp_bind_ports is not None) and abi < 4:
        out.append(f"TCP port rules need Landlock ABI 4, kernel has {abi}{by('tcp_ports')}")
    for s in sorted(plan.scopes):
        if abi < 6:
            what, feature = ("signal", "signal_scope") if s == "signal" else ("abstract unix socket", "")
            out.append(f"{what} scope needs Landlock ABI 6, kernel has {abi}{by(feature)}")
    if plan.audit and abi < 7:
        out.append(f"audit logging of denials needs Landlock ABI 7, kernel has {abi}{by('audit')}")
    return out


def _create_ruleset(fs: int, net: int, scoped: int) -> int:
    attr = struct.pack("=QQQ", fs, net, scoped)
    buf = ctypes.create_string_buffer(attr, len(attr))
    # The ruleset_attr grew with ABI 4 (net) and 6 (scoped); pass only the size
    # the fields in use need, so older kernels accept it.
    size = 24 if scoped else (16 if net else 8)
    return _libc.syscall(_libc.NR_LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(size),
                         ctypes.c_uint32(0), label="landlock_create_ruleset")


def _add_path_rule(ruleset: int, fd: int, rights: int) -> None:
    attr = struct.pack("=Qi", rights, fd)  # packed: 12 bytes
    buf = ctypes.create_string_buffer(attr, len(attr))
    _libc.syscall(_libc.NR_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                  buf, ctypes.c_uint32(0), label="landlock_add_rule")


def _add_port_rule(ruleset: int, port: int, rights: int) -> None:
    attr = struct.pack("=QQ", rights, port)
    buf = ctypes.create_string_buffer(attr, len(attr))
    _libc.syscall(_libc.NR_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_NET_PORT),
                  buf, ctypes.c_uint32(0), label=f"landlock_add_rule(port {port})")


def restrict_self(plan: LinuxPlan, abi: int) -> None:
    """Build the plan's ruleset and enforce it on the calling thread.

    Must run after the mounts (rules attach to what the paths show then) and
    after no_new_privs (or with CAP_SYS_ADMIN). Grants whose path does not
    exist are skipped: an allow on nothing allows nothing. Parts the ABI
    cannot express are left out (the caller has already refused or warned).
    """
    if abi < 1:
        return
    fs = handled_fs(abi)
    n = plan.network
    net = 0
    if abi >= 4:
        if n.tcp_connect_ports is not None:
            net |= NET_CONNECT_TCP
        if n.tcp_bind_ports is not None:
            net |= NET_BIND_TCP
    scoped = 0
    if abi >= 6:
        for s in plan.scopes:
            scoped |= _SCOPES[s]
    rs = _create_ruleset(fs, net, scoped)
    try:
        for g in plan.fs:
            try:
                fd = os.open(g.path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise OSError(e.errno, f"open {g.path} for a Landlock rule: {os.strerror(e.errno)}") from None
            try:
                _check_opened(fd, g.path)
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                rights = fs_rights(g.access, abi, is_dir)
                if rights:
                    _add_path_rule(rs, fd, rights)
            finally:
                os.close(fd)
        if net:
            ports = {}
            for p in n.tcp_connect_ports or ():
                ports[p] = ports.get(p, 0) | NET_CONNECT_TCP
            for p in n.tcp_bind_ports or ():
                ports[p] = ports.get(p, 0) | NET_BIND_TCP
            for p, r in sorted(ports.items()):
                _add_port_rule(rs, p, r & net)
        flags = 0
        if plan.audit and abi >= 7:
            flags |= RESTRICT_SELF_LOG_NEW_EXEC_ON
        _libc.syscall(_libc.NR_LANDLOCK_RESTRICT_SELF, ctypes.c_int(rs), ctypes.c_uint32(flags),
                      label="landlock_restrict_self")
    finally:
        os.close(rs)


def _check_opened(fd: int, path: str) -> None:
    """The rule must attach to the plan's path itself. The plan's paths were resolved when it was
    bound, so opening something else now means a symlink was put in the path since: refuse."""
    actual = os.readlink(f"/proc/self/fd/{fd}")
    if actual != path:
        raise OSError(errno.ELOOP, f"{path} now leads to {actual} (a symlink was put in its path after the "
                      "plan was bound); refusing to launch")


__all__ = [
    "KNOWN_ABI",
    "effective_abi",
    "fs_rights",
    "handled_fs",
    "kernel_abi",
    "restrict_self",
    "unenforceable",
]
