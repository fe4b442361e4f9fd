"""Launch a command inside the sandbox described by a LinuxPlan.

Process structure (L = the caller, e.g. ``awpolicy run``)::

    L  launcher: validates, refuses or warns, forks K, forwards signals to K,
    |            collects the outcome, removes what it created
    +-- K  session keeper (host PID namespace, no sandbox): parent-death
        |  signal = a real-time signal it handles; unshares the user (when
        |  not root) and PID namespaces, forks I, forwards signals to I,
        |  and when L dies: SIGKILLs I and removes the branch scratch dirs
        +-- I  PID 1 of the new PID namespace (not Landlock-scoped, so its
            |  parent-death SIGKILL is delivered); unshares mount/IPC/net,
            |  mounts overlay, masks, /proc, brings lo up, forks W, reaps
            |  orphans, forwards signals to W, reports W's status and exits
            |  (the kernel then SIGKILLs whatever is left in the namespace)
            +-- W  workload: chdir, close stray fds, no_new_privs, Landlock,
                   drop capabilities, seccomp, restore signal mask, execve

Every sandboxed process dies with the session, even when L is SIGKILLed:
L dies -> K gets its parent-death signal -> K SIGKILLs I -> PID 1 gone ->
the kernel kills the whole namespace. If K itself is SIGKILLed, I gets its
parent-death SIGKILL. Signals sent to L (INT, TERM, HUP, QUIT, USR1, USR2,
WINCH) travel L -> K -> I -> W; signals the terminal sends to the foreground
process group (si_code SI_KERNEL) reach W directly and are not forwarded
again, so W never sees them twice.

Exit status convention of ``launch``: the command's exit code (0-255) if it
exited, ``128 + N`` if it was killed by signal N (as a shell reports it).
``run`` returns an ``Outcome`` with both parts. Setup failures raise
``LaunchError`` (exit_code 126, or 127 when the command is not found).

Call it from the main thread of a process that has no other threads: the
launcher blocks the forwarded signals and SIGCHLD in the calling thread
while the session runs (and restores them after).
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time

from aw_runtime.record import Record

from . import _libc, caps, landlock, namespaces, seccomp
from .errors import LaunchError, PlanError, Unenforceable
from .plan import RELAY_PORT, Branch, LinuxPlan, Mask, validate

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)
KEEPER_PDEATH = signal.SIGRTMIN + 2
HANDSHAKE_S = 10.0  # each step of the supervisor's start (see aw_runtime.supervisor)
SI_KERNEL = 0x80


class Outcome(Record):
    """How the command ended: exactly one of ``exit_code`` / ``signal`` is set.

    ``ended``: why the runtime ended the session itself (the prompt supervisor died), or None."""
    exit_code: int | None
    signal: int | None
    ended: str | None = None

    @property
    def status(self) -> int:
        return 128 + self.signal if self.signal is not None else self.exit_code

    @classmethod
    def from_wait_status(cls, st: int) -> Outcome:
        if os.WIFSIGNALED(st):
            return cls(None, os.WTERMSIG(st))
        if os.WIFEXITED(st):
            return cls(os.WEXITSTATUS(st), None)
        return cls(None, signal.SIGKILL)


class _Ctx:
    """What the keeper, PID 1 and the workload need (inherited through fork)."""

    def __init__(self, plan: LinuxPlan, argv: list, abi: int, seccomp: bytes | None, namespaces: bool,
                 user_ns: bool, work: str | None, remove_upper: bool, report_fd: int, launcher_pid: int,
                 old_mask: set, trace: bool = False, supervisor=None):
        self.plan = plan
        self.argv = argv
        self.abi = abi
        self.seccomp = seccomp
        self.namespaces = namespaces
        self.user_ns = user_ns
        self.work = work
        self.remove_upper = remove_upper
        self.report_fd = report_fd
        self.launcher_pid = launcher_pid
        self.old_mask = old_mask
        self.trace = trace
        self.supervisor = supervisor  # aw_runtime.supervisor.SupervisorSpec: roots, mask, serve(sock)
        self.init_channel = None  # PID 1's end of its socket to the keeper (supervised runs)
        self.keeper_ends: tuple = ()  # the keeper's sockets, closed in PID 1


# -- host features ----------------------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").strip()
    except OSError:
        return None


def userns_available() -> bool:
    """Unprivileged user namespaces allowed on this host (a static check)."""
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return False
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return False
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return False
    return os.path.exists("/proc/self/ns/user")


def overlay_available() -> bool:
    fs = _read("/proc/filesystems") or ""
    if any(line.split()[-1:] == ["overlay"] for line in fs.splitlines()):
        return True
    return os.path.isdir(f"/lib/modules/{os.uname().release}/kernel/fs/overlayfs")


def host_unenforceable(plan: LinuxPlan, *, root: bool | None = None, userns: bool | None = None,
                       overlay: bool | None = None, seccomp: bool | None = None) -> list[str]:
    """What of ``plan`` this host cannot enforce, Landlock aside."""
    from . import seccomp as _seccomp
    out = []
    root = os.geteuid() == 0 if root is None else root
    if not root and not (userns_available() if userns is None else userns):
        out.append("namespaces (masks, branch, network isolation, session lifetime) need unprivileged "
                   "user namespaces, which this host disables")
    if plan.branch is not None and not (overlay_available() if overlay is None else overlay):
        by = plan.needs.get("overlay", ())
        out.append("copy-on-write branch needs overlayfs, which this kernel does not provide "
                   "(base would be written directly; hidden/read-only paths fall back to masks)"
                   + (f" ({', '.join(by)})" if by else ""))
    if plan.seccomp_deny and not (_seccomp.available() if seccomp is None else seccomp):
        out.append("system call filter needs seccomp, which this kernel does not provide")
    if plan.network.proxied and not plan.network.proxy_socket:
        out += [f"{r}: no domain proxy is running for this launch" for r in plan.network.proxied]
    return out


# -- public API ---------------------------------------------------------------------

def launch(plan: LinuxPlan, argv: list[str], *, abi: int | None = None) -> int:
    """Run ``argv`` in the sandbox; return its exit code, or 128+N if killed by signal N.

    ``abi`` simulates an older Landlock ABI (at most the kernel's).
    Raises PlanError, Unenforceable (before launching anything) or LaunchError.
    """
    return run(plan, argv, abi=abi).status


def run(plan: LinuxPlan, argv: list[str], *, abi: int | None = None, trace: list | None = None,
        supervisor=None, _host: dict | None = None) -> Outcome:
    """Like ``launch`` but returns an ``Outcome`` (exit code or signal).

    ``trace``: a list that receives ``(process, step, CLOCK_MONOTONIC ns)``
    tuples for each setup step (used by the benchmark's breakdown).
    ``supervisor``: a :class:`aw_runtime.supervisor.SupervisorSpec`; the keeper runs it
    and the command starts only once it serves (see aw_runtime.supervisor).
    """
    if trace is not None:
        trace.append(("launcher", "start", time.monotonic_ns()))
    validate(plan)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise PlanError("the command must be a non-empty list of strings")
    try:
        abi = landlock.effective_abi(abi)
    except ValueError as e:
        raise PlanError(str(e)) from None
    host = dict(_host or {})
    root = host.get("root", os.geteuid() == 0)
    reasons = list(plan.unenforced) + landlock.unenforceable(plan, abi) + host_unenforceable(plan, **host)
    use_ns = root or (host["userns"] if "userns" in host else userns_available())
    use_overlay = plan.branch is not None and (host["overlay"] if "overlay" in host else overlay_available())
    if reasons:
        if not plan.best_effort:
            raise Unenforceable(reasons)
        for r in reasons:
            print(f"awpolicy: not enforced: {r}", file=sys.stderr, flush=True)
    if plan.branch is not None and not use_overlay:
        plan = _branch_as_masks(plan)

    prog = None
    if plan.seccomp_deny and not any("seccomp" in r for r in reasons):
        prog = seccomp.build_filter(seccomp.deny_list(plan, fenced=abi >= 1 and use_ns))

    work = None
    remove_upper = False
    b = plan.branch if use_ns else None
    if b is not None:
        temporary = b.upper is None
        if temporary:
            b = _temporary_upper(b)
            plan = plan.replace(branch=b)
        try:
            work, remove_upper = _prepare_branch(b)
        except BaseException:
            if temporary:
                _cleanup(None, b.upper)
            raise

    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()  # both O_CLOEXEC
    block = set(FORWARDED) | {signal.SIGCHLD, KEEPER_PDEATH}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    old_chld = signal.getsignal(signal.SIGCHLD)
    if old_chld == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    ctx = _Ctx(plan=plan, argv=list(argv), abi=abi, seccomp=prog, namespaces=use_ns,
               user_ns=use_ns and not root, work=work, remove_upper=remove_upper,
               report_fd=wfd, launcher_pid=os.getpid(), old_mask=old_mask,
               trace=trace is not None, supervisor=supervisor if use_ns else None)
    if trace is not None:
        trace.append(("launcher", "fork keeper", time.monotonic_ns()))
    keeper = -1
    try:
        try:
            keeper = os.fork()
        except OSError as e:
            raise LaunchError("fork", e.strerror) from None
        if keeper == 0:
            _child_main(_keeper, ctx)
        os.close(wfd)
        wfd = -1
        st = _supervise_keeper(keeper)
    finally:
        if wfd >= 0:
            os.close(wfd)
        _drain(block)
        if old_chld == signal.SIG_IGN:
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        report = _read_all(rfd)
        os.close(rfd)
        if b is not None:
            _cleanup(work, b.upper if remove_upper else None)
            if not remove_upper:
                _remove_placeholders(plan, b)
    if trace is not None:
        trace.append(("launcher", "keeper reaped", time.monotonic_ns()))
        for line in report.splitlines():
            if line.startswith("T\t"):
                _, who, step, ns = line.split("\t")
                trace.append((who, step, int(ns)))
        trace.sort(key=lambda t: t[2])
    return _outcome(report, st)


# -- launcher side --------------------------------------------------------------------

def _temporary_upper(b: Branch) -> Branch:
    """A private upper layer in the host's temporary directory (removed after the session).

    That is the directory ``tempfile.gettempdir()`` picks (where `awpolicy clean` looks for
    leftovers): the first of $TMPDIR, $TEMP, $TMP and /tmp, when usable. Then the layer is
    made here, without importing tempfile (4 ms of a launch: it imports shutil and random);
    else tempfile looks further."""
    first = next((os.environ[name] for name in ("TMPDIR", "TEMP", "TMP") if os.environ.get(name)), "/tmp")
    root = os.path.abspath(first)
    try:
        if not (os.path.isdir(root) and os.access(root, os.W_OK | os.X_OK)):
            import tempfile

            return b.replace(upper=tempfile.mkdtemp(prefix="awpolicy-branch-"))
        for _ in range(100):
            upper = os.path.join(root, "awpolicy-branch-" + os.urandom(6).hex())
            try:
                os.mkdir(upper, 0o700)
                return b.replace(upper=upper)
            except FileExistsError:
                continue
    except OSError as e:
        raise LaunchError("branch", f"cannot make a temporary upper layer: {e.strerror}") from None
    raise LaunchError("branch", f"cannot make a temporary upper layer in {root}: every name tried exists")


def _branch_as_masks(plan: LinuxPlan) -> LinuxPlan:
    b = plan.branch
    extra = tuple(Mask(p, "hide") for p in b.hide) + tuple(Mask(p, "readonly") for p in b.readonly)
    return plan.replace(branch=None, masks=tuple(plan.masks) + extra)


def _prepare_branch(b: Branch) -> tuple[str, bool]:
    parent, name = os.path.split(b.upper.rstrip("/"))
    work = os.path.join(parent, f".{name}.work")
    made_upper = False
    try:
        if not os.path.isdir(b.base):
            raise PlanError(f"branch base {b.base} is not a directory")
        pre_existing = os.path.lexists(b.upper)
        if pre_existing:
            if not os.path.isdir(b.upper) or os.path.islink(b.upper):
                raise PlanError(f"branch upper {b.upper} exists and is not a directory")
            if b.on_exit == "discard" and os.listdir(b.upper):
                raise PlanError(f"branch upper {b.upper} is not empty and on_exit is 'discard', which "
                                "would delete it; remove it or use on_exit 'keep'")
        else:
            os.makedirs(b.upper, 0o755)
            made_upper = True
        _rmtree(work)  # a stale one from a session that was SIGKILLed
        os.mkdir(work, 0o700)
    except OSError as e:
        if made_upper:
            _cleanup(None, b.upper)
        raise LaunchError("branch", f"{e.strerror}: {e.filename}") from None
    return work, b.on_exit == "discard"


def _supervise_keeper(keeper: int) -> int | None:
    """Forward signals to the keeper until it exits; return its wait status."""
    waitset = set(FORWARDED) | {signal.SIGCHLD}
    while True:
        try:
            pid, st = os.waitpid(keeper, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == keeper:
            return st
        info = signal.sigwaitinfo(waitset)
        if info.si_signo != signal.SIGCHLD and info.si_code != SI_KERNEL:
            try:
                os.kill(keeper, info.si_signo)
            except ProcessLookupError:
                pass


def _drain(sigs: set) -> None:
    pending = signal.sigpending() & sigs
    while pending:
        signal.sigtimedwait(pending, 0)
        pending = signal.sigpending() & sigs


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            c = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not c:
            break
        chunks.append(c)
    return b"".join(chunks).decode(errors="replace")


def _outcome(report: str, keeper_status: int | None) -> Outcome:
    status = None
    for line in report.splitlines():
        if line.startswith("X\t"):  # the session was ended by the runtime: that is the news
            return Outcome(None, signal.SIGKILL, ended=line[2:])
    for line in report.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "E":
            stage, code, msg = (rest.split("\t", 2) + ["", ""])[:3]
            raise LaunchError(stage, msg, int(code) if code.isdigit() else 126)
        if kind == "S":
            status = int(rest)
    if status is not None:
        return Outcome.from_wait_status(status)
    if keeper_status is None:
        raise LaunchError("session", "the session keeper vanished without a status")
    o = Outcome.from_wait_status(keeper_status)
    if o.signal is not None:
        return o
    # the keeper relays PID 1's code, which encodes the command's status
    code = o.exit_code
    return Outcome(None, code - 128) if 128 < code < 128 + 65 else Outcome(code, None)


# -- in the children --------------------------------------------------------------------

def _report(fd: int, line: str) -> None:
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode(errors="replace"))
    except OSError:
        pass


def _t(ctx: _Ctx, who: str, step: str) -> None:
    if ctx.trace:
        _report(ctx.report_fd, f"T\t{who}\t{step}\t{time.monotonic_ns()}")


def _report_error(fd: int, stage: str, msg: str, code: int = 126) -> None:
    _report(fd, f"E\t{stage}\t{code}\t{msg.replace(chr(9), ' ')}")


def _child_main(fn, ctx: _Ctx) -> None:
    """Run ``fn(ctx)`` in a forked child; never return to the caller's code."""
    code = 126
    try:
        code = fn(ctx)
    except LaunchError as e:
        _report_error(ctx.report_fd, e.stage, e.message, e.exit_code)
        code = e.exit_code
    except BaseException as e:  # noqa: BLE001 - nothing may escape a forked child
        _report_error(ctx.report_fd, "internal", f"{type(e).__name__}: {e}")
    finally:
        os._exit(code)


def _status_code(st: int) -> int:
    o = Outcome.from_wait_status(st)
    return o.status & 0xFF


def _keeper(ctx: _Ctx) -> int:
    _t(ctx, "keeper", "start")
    _libc.set_pdeathsig(KEEPER_PDEATH)
    if os.getppid() != ctx.launcher_pid:
        _cleanup_ctx(ctx)
        return 1
    supervisor = control = None
    if ctx.supervisor is not None:
        # Before the PID namespace: S lives in the host's, outside the sandbox.
        supervisor, control = _fork_supervisor(ctx)
    if ctx.namespaces:
        namespaces.unshare_session(ctx.user_ns, os.geteuid(), os.getegid())
        _t(ctx, "keeper", "unshare user/pid")
    to_init = None
    if supervisor is not None:
        import socket

        to_init, ctx.init_channel = socket.socketpair()
        ctx.keeper_ends = (to_init, control)
    life_r, life_w = os.pipe()
    try:
        init = os.fork()
    except OSError as e:
        raise LaunchError("fork", e.strerror) from None
    if init == 0:
        os.close(life_w)
        _child_main(lambda c: _init(c, life_r), ctx)
    os.close(life_r)
    group = None  # the keeper's copy of the fanotify group: held until the whole sandbox is gone
    if supervisor is not None:
        ctx.init_channel.close()
        group = _start_supervision(ctx, init, supervisor, control, to_init)
        if group is False:
            _stop_supervisor(supervisor, control)
            _cleanup_ctx(ctx)
            return 126
    waitset = set(FORWARDED) | {signal.SIGCHLD, KEEPER_PDEATH}
    try:
        while True:
            pid, st = os.waitpid(init, os.WNOHANG)
            if pid == init:
                _t(ctx, "keeper", "init reaped")
                break
            gone, sst = os.waitpid(supervisor, os.WNOHANG) if supervisor is not None else (0, 0)
            if gone:
                # S is gone: events stay unanswered (the group is still open here); end the
                # session before anything could be let through.
                os.kill(init, signal.SIGKILL)
                os.waitpid(init, 0)
                supervisor = None
                how = (f"was killed by {signal.Signals(os.WTERMSIG(sst)).name}" if os.WIFSIGNALED(sst)
                       else f"exited with status {os.WEXITSTATUS(sst)}")
                _report(ctx.report_fd, f"X\tthe prompt supervisor (pid {gone}) {how}, so nobody can answer "
                                       "prompt rules; the session was ended (every sandboxed process killed) "
                                       "rather than let a prompted access through")
                _cleanup_ctx(ctx)
                return 128 + signal.SIGKILL
            info = signal.sigwaitinfo(waitset)
            sig = info.si_signo
            if sig == KEEPER_PDEATH:
                os.kill(init, signal.SIGKILL)
                os.waitpid(init, 0)
                _cleanup_ctx(ctx)
                return 128 + signal.SIGKILL
            if sig != signal.SIGCHLD and info.si_code != SI_KERNEL:
                try:
                    os.kill(init, sig)
                except ProcessLookupError:
                    pass
    finally:
        if supervisor is not None:
            _stop_supervisor(supervisor, control)
        if group is not None:
            os.close(group)
    _cleanup_ctx(ctx)
    return _status_code(st)


def _fork_supervisor(ctx: _Ctx):
    """Fork S (aw_runtime.supervisor); returns its pid and the keeper's control socket to it."""
    import socket

    control, theirs = socket.socketpair()
    try:
        pid = os.fork()
    except OSError as e:
        raise LaunchError("fork", e.strerror) from None
    if pid == 0:
        control.close()
        _child_main(lambda c: c.supervisor.serve(theirs), ctx)
    theirs.close()
    return pid, control


def _start_supervision(ctx: _Ctx, init: int, supervisor: int, control, to_init):
    """The launch handshake: PID 1's fanotify group -> here (kept) -> S; S serving -> PID 1 may
    start the command. Returns the group's descriptor (None when no files are watched), or
    False when the handshake failed (PID 1 killed, the reason reported)."""
    import socket

    group = None
    try:
        to_init.settimeout(HANDSHAKE_S)
        msg, fds, _, _ = socket.recv_fds(to_init, 16, 1)
        if not msg:
            raise OSError(0, "")  # PID 1 failed and reported why
        group = fds[0] if fds else None
        control.settimeout(HANDSHAKE_S)
        socket.send_fds(control, [str(init).encode()], [group] if group is not None else [])
        if control.recv(1) != b"R":
            raise OSError(0, "the prompt supervisor stopped before it served; see its message above")
        to_init.sendall(b"G")
        return group
    except OSError as e:
        if e.strerror:
            _report_error(ctx.report_fd, "supervisor", e.strerror)
        elif e.errno:
            _report_error(ctx.report_fd, "supervisor", os.strerror(e.errno))
        try:
            os.kill(init, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(init, 0)
        if group is not None:
            os.close(group)
        return False
    finally:
        to_init.close()


def _stop_supervisor(supervisor: int, control) -> None:
    """Tell S the session is over (its control socket closes); SIGKILL it if it lingers."""
    control.close()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if os.waitpid(supervisor, os.WNOHANG)[0] == supervisor:
            return
        time.sleep(0.01)
    os.kill(supervisor, signal.SIGKILL)
    os.waitpid(supervisor, 0)


def _parent_gone(life_r: int) -> bool:
    os.set_blocking(life_r, False)
    try:
        return os.read(life_r, 1) == b""
    except BlockingIOError:
        return False


def _init(ctx: _Ctx, life_r: int) -> int:
    _t(ctx, "init", "start")
    _libc.set_pdeathsig(signal.SIGKILL)
    if _parent_gone(life_r):
        return 1
    os.close(life_r)
    if ctx.namespaces:
        namespaces.setup(ctx.plan, user_ns=ctx.user_ns, work=ctx.work)
        _t(ctx, "init", "namespaces+mounts")
        if ctx.plan.network.proxy_socket:
            _start_relay(ctx.plan.network.proxy_socket)
        if ctx.supervisor is not None:
            _hand_over_group(ctx)
            _t(ctx, "init", "supervisor serving")
    else:
        _libc.prctl(_libc.PR_SET_CHILD_SUBREAPER, 1, label="prctl(PR_SET_CHILD_SUBREAPER)")
    try:
        w = os.fork()
    except OSError as e:
        raise LaunchError("fork", e.strerror) from None
    if w == 0:
        _child_main(_workload, ctx)
    _t(ctx, "init", "forked workload")
    waitset = set(FORWARDED) | {signal.SIGCHLD}
    while True:
        info = signal.sigwaitinfo(waitset)
        sig = info.si_signo
        if sig == signal.SIGCHLD:
            while True:
                try:
                    pid, st = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == w:
                    _t(ctx, "init", "workload reaped")
                    _report(ctx.report_fd, f"S\t{st}")
                    if not ctx.namespaces:
                        _kill_descendants()
                    _t(ctx, "init", "exit")
                    return _status_code(st)
        elif info.si_code != SI_KERNEL and (info.si_pid == 0 or not ctx.namespaces):
            # from outside the PID namespace (the keeper), not from the sandbox
            try:
                os.kill(w, sig)
            except ProcessLookupError:
                pass


def _hand_over_group(ctx: _Ctx) -> None:
    """Watch the prompt paths (fanotify mount marks on this namespace's mounts), give the group
    to the keeper, and wait until the supervisor serves it. Nothing here opens a file after the
    marks: PID 1's own opens would wait for the supervisor too."""
    import socket

    from . import fanotify

    for s in ctx.keeper_ends:
        s.close()
    chan = ctx.init_channel
    group = None
    sup = ctx.supervisor
    if sup.roots:
        try:
            group = fanotify.create_group()
            fanotify.mark_mounts(group, sup.roots, sup.mask)
        except OSError as e:
            raise LaunchError("supervisor", f"cannot watch the prompt paths: {e.strerror or e}") from None
    socket.send_fds(chan, [b"G"], [group] if group is not None else [])
    if group is not None:
        os.close(group)
    chan.settimeout(HANDSHAKE_S * 2)
    try:
        go = chan.recv(1)
    except OSError:
        go = b""
    chan.close()
    if go != b"G":
        raise LaunchError("supervisor", "the prompt supervisor did not start; the command was not run")


def _start_relay(proxy_socket: str) -> None:
    """A process in the sandbox's network namespace (not Landlocked: it is not the command)
    that carries 127.0.0.1:RELAY_PORT to the domain proxy's unix socket outside. It dies
    with the PID namespace; if it dies first, the command simply cannot reach out."""
    import socket

    from aw_runtime.proxy import relay

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", RELAY_PORT))
    listener.listen(64)
    if os.fork() == 0:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            relay(listener, proxy_socket)
        finally:
            os._exit(0)
    listener.close()


def _kill_descendants() -> None:
    """Without a PID namespace: SIGKILL the orphans this subreaper adopted."""
    me = str(os.getpid())
    for _ in range(100):
        found = False
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            s = _read(f"/proc/{d}/stat")
            if s and s[s.rfind(")") + 2:].split()[1] == me:
                found = True
                try:
                    os.kill(int(d), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if not found:
            return


def _workload(ctx: _Ctx) -> int:
    plan = ctx.plan
    stage = "cwd"
    _t(ctx, "workload", "start")
    try:
        os.chdir(plan.cwd)
        stage = "file descriptors"
        fd = ctx.report_fd
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 20)
        if not ctx.namespaces:
            _libc.set_pdeathsig(signal.SIGKILL)
        stage = "no_new_privs"
        _libc.set_no_new_privs()
        if ctx.abi >= 1:
            stage = "landlock"
            landlock.restrict_self(plan, ctx.abi)
            _t(ctx, "workload", "landlock")
        stage = "capabilities"
        caps.drop_all()
        _t(ctx, "workload", "capabilities")
        if ctx.seccomp:
            stage = "seccomp"
            seccomp.install(ctx.seccomp)
            _t(ctx, "workload", "seccomp")
        for d in plan.make_dirs:
            try:
                os.makedirs(d, 0o700, exist_ok=True)
            except OSError:
                pass  # the sandbox may deny it; the command then sees what it would anyway
        stage = "exec"
        for sig in FORWARDED + (signal.SIGPIPE, signal.SIGXFSZ):
            if sig in (signal.SIGPIPE, signal.SIGXFSZ) or signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, ctx.old_mask)
        _t(ctx, "workload", "execve")
        os.execvpe(ctx.argv[0], ctx.argv, plan.env)
    except OSError as e:
        msg = e.strerror or str(e)
        if stage == "exec":
            msg = f"cannot execute {ctx.argv[0]!r}: {msg}"
            code = 127 if e.errno in (2, 20) else 126  # ENOENT, ENOTDIR
            raise LaunchError("exec", msg, code) from None
        if e.filename is not None:
            msg = f"{msg}: {os.fsdecode(e.filename)}"
        raise LaunchError(stage, msg) from None
    return 126  # not reached


# -- cleanup ----------------------------------------------------------------------------

def _cleanup_ctx(ctx: _Ctx) -> None:
    if ctx.plan.branch is not None and ctx.work is not None:
        _cleanup(ctx.work, ctx.plan.branch.upper if ctx.remove_upper else None)


def _cleanup(work: str | None, upper: str | None) -> None:
    for p in (work, upper):
        if p:
            try:
                _rmtree(p)
            except OSError:
                pass


def _remove_placeholders(plan: LinuxPlan, b: Branch) -> None:
    """Take the empty directories PID 1 made to mount masks on out of a kept upper layer."""
    for m in plan.masks:
        if not m.placeholder:
            continue
        path = os.path.join(b.upper, os.path.relpath(m.path, b.base))
        while path != b.upper:
            try:
                os.rmdir(path)
            except OSError:
                break  # not empty (the command wrote there) or already gone
            path = os.path.dirname(path)


def _rmtree(path: str) -> None:
    """Remove a tree without following symlinks, fixing modes we own on the way
    (overlay's work/work is mode 000; tools leave read-only directories)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    if stat.S_IMODE(st.st_mode) & 0o700 != 0o700:
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
    with os.scandir(path) as it:
        entries = list(it)
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            _rmtree(e.path)
        else:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
    os.rmdir(path)
