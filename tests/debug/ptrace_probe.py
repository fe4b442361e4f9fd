"""A debugger-like probe, run inside the sandbox as ``python3 -I -S -c SOURCE TARGET...``.

It prints one JSON object: for each TARGET what a debugger gets when it tries
to attach. Targets:

* ``child``: a child it forks (sleeping): PTRACE_ATTACH, wait for the stop,
  PTRACE_PEEKDATA of a word the parent knows, PTRACE_DETACH; then
  process_vm_readv of the same bytes;
* ``pid:N``: PTRACE_SEIZE of process N as the sandbox numbers it (a raw pid),
  and whether ``/proc/N`` is there to find it by.

Each answer is ``ok`` or the errno name (``EPERM``, ``ESRCH``...).
Stdlib only (ctypes), so the system interpreter runs it with ``-I -S``.
"""

import ctypes
import errno
import json
import os
import signal
import sys
import time

PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 2, 16, 17, 0x4206

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.process_vm_readv.restype = ctypes.c_ssize_t
libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong,
                                  ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def errname() -> str:
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def ptrace(request: int, pid: int, addr=0, data=0):
    ctypes.set_errno(0)
    value = libc.ptrace(request, pid, addr, data)
    return value, ctypes.get_errno()


def probe_child() -> dict:
    secret = ctypes.create_string_buffer(b"awpolicy-debug!!", 16)  # same address in the child after fork
    address = ctypes.addressof(secret)
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    out = {}
    try:
        _, err = ptrace(PTRACE_ATTACH, pid)
        if err:
            out["attach"] = errno.errorcode.get(err, str(err))
        else:
            os.waitpid(pid, 0)  # the SIGSTOP that PTRACE_ATTACH sends
            word, err = ptrace(PTRACE_PEEKDATA, pid, address)
            want = int.from_bytes(secret.raw[:ctypes.sizeof(ctypes.c_long)], sys.byteorder, signed=True)
            out["attach"] = "ok"
            out["peek"] = errno.errorcode.get(err, str(err)) if err else ("ok" if word == want else "wrong bytes")
            ptrace(PTRACE_DETACH, pid)
        copy = ctypes.create_string_buffer(16)
        local, remote = IoVec(ctypes.addressof(copy), 16), IoVec(address, 16)
        ctypes.set_errno(0)
        got = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        out["vm_readv"] = errname() if got < 0 else ("ok" if copy.raw == secret.raw else "wrong bytes")
    finally:
        os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return out


def probe_pid(pid: int) -> dict:
    _, err = ptrace(PTRACE_SEIZE, pid)
    if not err:
        ptrace(PTRACE_DETACH, pid)
    return {"seize": errno.errorcode.get(err, str(err)) if err else "ok",
            "in_proc": os.path.exists(f"/proc/{pid}")}


answers = {}
for target in sys.argv[1:]:
    answers[target] = probe_child() if target == "child" else probe_pid(int(target.split(":", 1)[1]))
print(json.dumps(answers, sort_keys=True))
