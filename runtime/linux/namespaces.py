"""Namespaces and mounts: everything the sandbox's PID 1 sets up before the
workload applies Landlock.

* ``unshare_session``: user (when not root, with a one-to-one uid/gid map of
  the caller) + PID namespace, done by the session keeper, so its next child
  is PID 1 of a fresh PID namespace.
* ``setup``: run by that PID 1: mount/IPC(/network) namespaces, private
  mount propagation, the branch overlay, masks, read-only binds, a fresh
  /proc, and ``lo`` up for loopback mode.

Deny carve-outs come from a small scratch tmpfs that PID 1 mounts for a
moment: it holds an empty mode-000 directory and file (bound over hidden
directories and files, then the tmpfs is made read-only, so even their owner
cannot chmod them back) and the whiteout layer of the branch. The scratch is
detached once everything is mounted: no file is ever created on the host.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import stat
import struct

from . import _libc
from .errors import LaunchError
from .plan import LinuxPlan

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4

SCRATCH = "/proc"   # mount point borrowed by the scratch tmpfs before /proc is remounted

# /proc and /sys entries made read-only when the workload runs as real root
# (uid 0 keeps owner rights on root-owned files even without capabilities).
ROOT_READONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/sys")


def _fail(stage: str, e: OSError) -> LaunchError:
    msg = e.strerror or str(e)
    if e.filename is not None:
        msg = f"{msg}: {os.fsdecode(e.filename)}"
    return LaunchError(stage, msg)


# -- session keeper ---------------------------------------------------------

def unshare_session(user_ns: bool, uid: int, gid: int) -> None:
    """New PID namespace for our children; with ``user_ns``, first a user
    namespace mapping ``uid``/``gid`` to themselves (unprivileged launch)."""
    try:
        if user_ns:
            _libc.unshare(CLONE_NEWUSER | CLONE_NEWPID)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
            _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
        else:
            _libc.unshare(CLONE_NEWPID)
    except OSError as e:
        raise _fail("namespaces", e) from None


def _write(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    except OSError as e:
        raise OSError(e.errno, f"write {path}: {os.strerror(e.errno)}") from None
    finally:
        os.close(fd)


# -- helpers ------------------------------------------------------------------

class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _statvfs_flags(path: str) -> int:
    f = os.statvfs(path).f_flag
    out = 0
    for st_flag, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                        (getattr(os, "ST_NOATIME", 1024), 1024), (getattr(os, "ST_NODIRATIME", 2048), 2048),
                        (getattr(os, "ST_RELATIME", 4096), 1 << 21)):
        if f & st_flag:
            out |= ms
    return out


def bind_readonly(path: str, attrs: int = MOUNT_ATTR_RDONLY) -> None:
    """Recursive bind of ``path`` over itself with mount ``attrs`` (read-only by default)."""
    _libc.mount(path, path, None, MS_BIND | MS_REC)
    if not attrs:
        return
    attr = _MountAttr(attrs, 0, 0, 0)
    ret = _libc._syscall(ctypes.c_long(_libc.NR_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD),
                         os.fsencode(path), ctypes.c_uint(AT_RECURSIVE), ctypes.byref(attr),
                         ctypes.c_size_t(ctypes.sizeof(attr)))
    if ret == 0:
        return
    if ctypes.get_errno() != errno.ENOSYS:
        e = ctypes.get_errno()
        raise OSError(e, f"mount_setattr {path}: {os.strerror(e)}")
    # Before 5.12: remount the top mount only, keeping its locked flags.
    flags = (MS_RDONLY if attrs & MOUNT_ATTR_RDONLY else 0) | (MS_NOEXEC if attrs & MOUNT_ATTR_NOEXEC else 0)
    _libc.mount(None, path, None, MS_BIND | MS_REMOUNT | flags | _statvfs_flags(path))


def _fsconfig(fd: int, cmd: int, key, value) -> None:
    ret = _libc._syscall(ctypes.c_long(_libc.NR_FSCONFIG), ctypes.c_int(fd), ctypes.c_uint(cmd),
                         None if key is None else os.fsencode(key),
                         None if value is None else os.fsencode(value), ctypes.c_int(0))
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fsconfig {key or 'create'}: {os.strerror(e)}")


def _fs_log(fd: int) -> str:
    msgs = []
    for _ in range(16):
        try:
            m = os.read(fd, 1024)
        except OSError:
            break
        if not m:
            break
        msgs.append(m.decode(errors="replace").strip())
    return "; ".join(msgs)


def _legacy_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def mount_overlay(target: str, lowers: list, upper: str, work: str, userxattr: bool) -> None:
    """Mount overlayfs over ``target``; ``lowers`` top-most first."""
    fsfd = _libc._syscall(ctypes.c_long(_libc.NR_FSOPEN), b"overlay", ctypes.c_uint(FSOPEN_CLOEXEC))
    if fsfd < 0:
        if ctypes.get_errno() != errno.ENOSYS:
            e = ctypes.get_errno()
            raise OSError(e, f"fsopen overlay: {os.strerror(e)}")
        opts = "lowerdir=" + ":".join(_legacy_escape(p) for p in lowers)
        opts += f",upperdir={_legacy_escape(upper)},workdir={_legacy_escape(work)}"
        if userxattr:
            opts += ",userxattr"
        _libc.mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts)
        return
    try:
        try:
            try:
                for p in lowers:
                    _fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", p)
            except OSError as e:
                if e.errno != errno.EINVAL or len(lowers) == 0:
                    raise
                # kernels before 6.8 have no "lowerdir+": one escaped string.
                _fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", ":".join(
                    p.replace("\\", "\\\\").replace(":", "\\:") for p in lowers))
            _fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper)
            _fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work)
            if userxattr:
                _fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", None)
            _fsconfig(fsfd, FSCONFIG_CMD_CREATE, None, None)
        except OSError as e:
            log = _fs_log(fsfd)
            raise OSError(e.errno, f"{e.strerror}" + (f" ({log})" if log else "")) from None
        mfd = _libc.syscall(_libc.NR_FSMOUNT, ctypes.c_int(fsfd), ctypes.c_uint(FSMOUNT_CLOEXEC),
                            ctypes.c_uint(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), label="fsmount overlay")
        try:
            _libc.syscall(_libc.NR_MOVE_MOUNT, ctypes.c_int(mfd), b"", ctypes.c_int(AT_FDCWD),
                          os.fsencode(target), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
                          label=f"move_mount overlay to {target}")
        finally:
            os.close(mfd)
    finally:
        os.close(fsfd)


def loopback_up() -> None:
    """ifconfig lo up, through ioctl(SIOCSIFFLAGS) (no socket module import)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    libc = _libc.libc
    fd = libc.socket(2, 2 | 0o2000000, 0)  # AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"socket: {os.strerror(e)}")
    try:
        ifr = ctypes.create_string_buffer(struct.pack("16sh22x", b"lo", 0), 40)
        if libc.ioctl(fd, SIOCGIFFLAGS, ifr) < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"SIOCGIFFLAGS lo: {os.strerror(e)}")
        flags = struct.unpack_from("h", ifr.raw, 16)[0] | IFF_UP
        struct.pack_into("h", ifr, 16, flags)
        if libc.ioctl(fd, SIOCSIFFLAGS, ifr) < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"SIOCSIFFLAGS lo: {os.strerror(e)}")
    finally:
        os.close(fd)


def _depth(p: str) -> int:
    return p.rstrip("/").count("/")


def _mount_points() -> set[bytes]:
    with open("/proc/self/mountinfo", "rb") as f:
        lines = f.read().splitlines()
    # field 5 is the mount point, with space, tab, newline and backslash written as \ooo
    points = {line.split(b" ")[4] for line in lines}
    if not any(b"\\" in p for p in points):  # the usual case: no regular expression to compile
        return points
    return {re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), p) for p in points}


def check_landed(targets: list[str]) -> None:
    """Each mount must sit on the plan's path itself. The plan's paths were resolved when it was
    bound, so a mount that landed elsewhere followed a symlink put in the path since: refuse."""
    if not targets:
        return
    points = _mount_points()
    for t in targets:
        if os.fsencode(t) not in points:
            raise OSError(errno.ELOOP, f"{t} no longer leads to where the plan was bound (a symlink was put in "
                          "its path since); refusing to launch")


# -- PID 1 ----------------------------------------------------------------------

def setup(plan: LinuxPlan, *, user_ns: bool, work: str | None) -> None:
    """All mount/network setup, run as PID 1 of the sandbox. Raises LaunchError."""
    stage = "namespaces"
    try:
        flags = CLONE_NEWNS | CLONE_NEWIPC
        if plan.network.mode != "host":
            flags |= CLONE_NEWNET
        _libc.unshare(flags)
        stage = "mounts"
        _libc.mount(None, "/", None, MS_REC | MS_PRIVATE)

        b = plan.branch
        mounted = []  # the plan's paths we mount on, checked once /proc can tell where they landed
        hides = [m.path for m in plan.masks if m.mode == "hide" and (m.placeholder or os.path.lexists(m.path))]
        whiteouts = []
        if b is not None:
            whiteouts = [os.path.relpath(os.path.normpath(p), b.base) for p in b.hide
                         if os.path.lexists(p)]
        scratch = bool(hides or whiteouts)
        if scratch:
            stage = "scratch tmpfs"
            _libc.mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                        "mode=0755,size=16k,nr_inodes=4096")
            os.mkdir(f"{SCRATCH}/d", 0)
            os.close(os.open(f"{SCRATCH}/f", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0))
            os.chmod(f"{SCRATCH}/d", 0)
            os.chmod(f"{SCRATCH}/f", 0)
            if whiteouts:
                os.mkdir(f"{SCRATCH}/wh", 0o755)
                for rel in whiteouts:
                    dst = os.path.join(f"{SCRATCH}/wh", rel)
                    os.makedirs(os.path.dirname(dst), 0o755, exist_ok=True)
                    os.mknod(dst, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            _libc.mount(None, SCRATCH, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

        if b is not None:
            stage = "branch overlay"
            lowers = ([f"{SCRATCH}/wh"] if whiteouts else []) + [b.base]
            mount_overlay(b.base, lowers, b.upper, work, userxattr=user_ns)
            mounted.append(b.base)

        stage = "placeholders"
        for m in plan.masks:
            if m.placeholder and not os.path.lexists(m.path):
                os.makedirs(m.path, 0o755)  # lands in the branch's upper layer

        stage = "masks"
        # pins first (shallow to deep), so the masks below them are part of nothing renamable
        for m in sorted(plan.masks, key=lambda m: (m.mode != "pin", _depth(m.path))):
            if not os.path.lexists(m.path):
                continue  # nothing there to hide or protect
            mounted.append(m.path)
            if m.mode == "pin":
                try:
                    bind_readonly(m.path, 0)
                except OSError as e:
                    raise OSError(e.errno, f"pin {m.path}: {os.strerror(e.errno)}") from None
            elif m.mode == "noexec":
                try:
                    bind_readonly(m.path, MOUNT_ATTR_NOEXEC)
                except OSError as e:
                    raise OSError(e.errno, f"no-exec {m.path}: {os.strerror(e.errno)}") from None
            elif m.mode == "hide":
                src = f"{SCRATCH}/d" if os.path.isdir(m.path) else f"{SCRATCH}/f"
                try:
                    _libc.mount(src, m.path, None, MS_BIND)
                except OSError as e:
                    raise OSError(e.errno, f"hide {m.path}: {os.strerror(e.errno)}") from None
            else:
                try:
                    bind_readonly(m.path)
                except OSError as e:
                    raise OSError(e.errno, f"read-only {m.path}: {os.strerror(e.errno)}") from None

        if b is not None:
            stage = "branch read-only paths"
            for p in b.readonly:
                if os.path.lexists(p):
                    bind_readonly(p)
                    mounted.append(p)

        stage = "/proc"
        if scratch:
            _libc.umount2(SCRATCH, MNT_DETACH)
        _libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        stage = "mount check"
        check_landed(mounted)
        if not user_ns and os.geteuid() == 0:
            for p in ROOT_READONLY:
                if os.path.exists(p):
                    bind_readonly(p)

        if plan.network.mode == "loopback":
            stage = "loopback"
            loopback_up()
    except OSError as e:
        raise _fail(stage, e) from None
