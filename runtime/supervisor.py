"""The prompt supervisor: `prompt` rules really ask, on Linux, and never fail open.

Processes (see :mod:`aw_runtime.linux.launch` for L, K, I, W)::

    L  launcher: decides whether to supervise (:func:`arrange`), runs the domain proxy
    +-- K  session keeper: forks S first, then I; holds a copy of the fanotify group
        +-- S  supervisor (host namespaces, root): the decision engine, the prompter
        |      (terminal and unix socket API), answers fanotify permission events and
        |      the proxy's `prompt connect` questions; everything goes to the audit log
        +-- I  sandbox PID 1: after its mounts, creates the fanotify group, marks the
            |  mounts holding the prompt paths (mount marks: only this mount
            |  namespace, so only the sandbox's processes raise events), hands the
            |  group to K (SCM_RIGHTS), waits until S is serving, then forks W
            +-- W  the command: Landlock grants the prompt paths (the supervised plan),
                   so the kernel asks S instead of refusing

Why PID 1 makes the group (and not S with setns): the marks must be on the
sandbox's own copies of the mounts, which exist only in its mount namespace,
after its mounts are final and before the command starts. PID 1 is there at
exactly that moment, single-threaded and still privileged; setns into a mount
namespace needs a single-threaded caller, which S (socket thread) is not.

Fail closed. The kernel answers **allow** to every pending permission event
when the group's last descriptor closes, and stops asking after that. So:

* K keeps a descriptor of the group for the whole session. It outlives every
  sandboxed process (it reaps PID 1, whose exit kills and waits for the whole
  PID namespace), so the group never closes while a sandboxed process exists;
* if S dies, pending and later events stay unanswered (blocked, never
  allowed); K sees S exit (SIGCHLD), SIGKILLs PID 1 (the namespace dies, the
  waits are killable), and the session ends with a message (AWP634);
* before S answers "serving", the command is not started; an S that cannot
  start stops the launch.

Non-root: fanotify permission events need CAP_SYS_ADMIN in the initial user
namespace. Seccomp user notification could stop an ``openat`` without root,
but the path it names sits in the caller's memory, which another thread can
rewrite after the supervisor has read it (the kernel reads it again), so it
cannot gate paths safely; without root, file ``prompt`` rules stay deny and
the launcher says so on stderr.

Stdlib only (plus ``aw_policy.ir``/``paths``/``backends.linux``, themselves stdlib only).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

TYPE_CHECKING = False  # annotations only: importing collections.abc costs a launch 0.3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

ES_TABLE = "es-rules.json"
#: seconds for each step of the launch handshake (PID 1 -> K -> S and back)
HANDSHAKE_S = 10.0
SUPERVISOR_DIED = "AWP634"

ENV_SOCKET = "AWPOLICY_PROMPT_SOCKET"
ENV_DEADLINE = "AWPOLICY_PROMPT_DEADLINE"
ENV_AUDIT = "AWPOLICY_AUDIT_LOG"
ENV_STATE = "AWPOLICY_STATE_DIR"


# --------------------------------------------------------------------------- deciding to supervise


class SupervisorSpec:
    """Everything S needs; built by the launcher, inherited by S through fork."""

    def __init__(self, table: dict, params: dict[str, str], audit_path: str, state_dir: str | None,
                 socket_path: str | None, tty: bool, deadline: float | None, roots: tuple[str, ...] = (),
                 mask: int = 0):
        self.table = table
        self.params = params
        self.audit_path = audit_path
        self.state_dir = state_dir
        self.socket_path = socket_path
        self.tty = tty
        self.deadline = deadline  # seconds a question may take (None: the ES table's default)
        self.roots = roots  # bound prompt paths to watch; empty: no file supervision
        self.mask = mask  # fanotify events for them
        self.proxy_channel = None  # S's end of the proxy's question line (a socket)

    def serve(self, control) -> int:
        """Run S (in the forked child) on its ``control`` socket to the keeper; returns its exit code."""
        return Supervisor(self).run(control)


class Supervision:
    """What the launcher does about prompt rules in this run."""

    def __init__(self, audit_path: str = ""):
        self.spec: SupervisorSpec | None = None  # None: nobody is asked, prompt = deny
        self.plan_doc: dict | None = None  # the supervised Linux plan (file prompts granted), else the bundle's
        #: "rule rN at origin" of prompt connect rules the proxy asks about
        self.connect_prompts: tuple[str, ...] = ()
        self.notes: list[str] = []  # printed on stderr before the command starts
        self.verbose_notes: list[str] = []  # printed with --verbose
        self.audit_path = audit_path

    def cleanup(self) -> None:
        """Remove the prompt socket a killed supervisor left behind (only ever a socket)."""
        import stat

        path = self.spec.socket_path if self.spec is not None else None
        try:
            if path and stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass


def _cite(rules) -> str:
    return ", ".join(f"{r.id} ({r.origin})" for r in rules)


def audit_path_for(environ: Mapping[str, str], workspace: str) -> str:
    """The session's audit log: $AWPOLICY_AUDIT_LOG, else WORKSPACE/.awpolicy/logs/audit.jsonl
    (where `awpolicy audit` looks by default)."""
    given = environ.get(ENV_AUDIT)
    return os.path.abspath(given) if given else os.path.join(workspace, ".awpolicy", "logs", "audit.jsonl")


def state_dir_for(environ: Mapping[str, str]) -> str:
    given = environ.get(ENV_STATE)
    if given:
        return os.path.abspath(given)
    base = environ.get("XDG_STATE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"),
                                                         ".local", "state")
    return os.path.join(base, "awpolicy")


def _deadline(environ: Mapping[str, str]) -> float | None:
    text = environ.get(ENV_DEADLINE)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError(f"{ENV_DEADLINE}={text!r}: give the seconds a question may wait, e.g. 15")
    return value


def _interactive() -> bool:
    """A person at a terminal: the launcher's stdin and stderr are terminals."""
    try:
        return os.isatty(0) and os.isatty(2)
    except OSError:
        return False


def fanotify_available() -> str | None:
    """None when permission events work here, else why not."""
    if os.geteuid() != 0:
        return ("asking needs fanotify permission events, which need root; without root there is no safe "
                "way to hold an open while someone answers (seccomp user notification cannot gate paths: "
                "see docs/threat-model.md)")
    try:
        from aw_runtime.linux import fanotify

        os.close(fanotify.create_group())
    except (OSError, AttributeError) as exc:
        return f"fanotify permission events are unavailable here ({getattr(exc, 'strerror', None) or exc})"
    return None


def _roots(rules, params: dict[str, str]) -> tuple[tuple[str, ...], set[str]]:
    from aw_policy import paths

    roots, accesses = set(), set()
    for r in rules:
        bound = paths.bind_path(r.kind, r.pattern, params)
        if r.kind == "glob":
            roots.add("/" + "/".join(bound.text.split("/")[1: bound.depth + 1]))
        else:
            roots.add(bound.text)
        accesses |= {"read", "write", "exec"} if r.op == "*" else {r.op}
    return tuple(sorted(roots)), accesses


def arrange(prep, environ: Mapping[str, str]) -> Supervision:
    """Decide who asks for this run's prompt rules. Raises ValueError for a bad setting."""
    from aw_policy import ir

    policy = prep.policy
    workspace = prep.params.get("WORKSPACE", os.getcwd())
    audit = audit_path_for(environ, workspace)
    fs_prompts = [r for r in policy.rules if r.cls == "fs" and r.effect == "prompt"]
    net_prompts = [r for r in policy.rules if r.cls == "net" and r.kind == "host" and r.effect == "prompt"
                   and r.op in ("connect", "*") and ir.split_host_port(r.pattern)[0] != "localhost"]
    out = Supervision(audit_path=audit)
    if not fs_prompts and not net_prompts:
        return out
    prompts = fs_prompts + net_prompts
    socket_path = environ.get(ENV_SOCKET) or None
    tty = _interactive()
    deadline = _deadline(environ)
    if not socket_path and not tty:
        out.verbose_notes.append(f"prompt rules are denied, nobody to ask (no terminal, no {ENV_SOCKET}): "
                                 + _cite(prompts))
        return out
    if ES_TABLE not in prep.bundle.files:
        out.notes.append(f"prompt rules are denied: the bundle has no {ES_TABLE} (recompile it): "
                         + _cite(prompts))
        return out
    try:
        table = prep.bundle.json(ES_TABLE)
    except ValueError as exc:
        out.notes.append(f"prompt rules are denied: {ES_TABLE} is not JSON ({exc}): " + _cite(prompts))
        return out
    roots: tuple[str, ...] = ()
    mask = 0
    if fs_prompts:
        why_not = fanotify_available()
        if why_not:
            out.notes.append(f"file prompt rules are denied: {why_not}: {_cite(fs_prompts)}")
        else:
            from aw_runtime.linux import fanotify

            from aw_policy.backends.linux import plan_document

            roots, accesses = _roots(fs_prompts, prep.params)
            mask = fanotify.mask_for(accesses)
            out.plan_doc = plan_document(policy, prep.params, supervised=True)
    if not roots and not net_prompts:
        return out
    out.spec = SupervisorSpec(table=table, params=dict(prep.params), audit_path=audit,
                              state_dir=state_dir_for(environ), socket_path=socket_path, tty=tty,
                              deadline=deadline, roots=roots, mask=mask)
    out.connect_prompts = tuple(f"rule {r.id} at {r.origin}" for r in net_prompts)
    return out


def route_connect_prompts(plan, rules: tuple[str, ...]):
    """The plan with prompt connect rules carried by the domain proxy (asked, not refused)."""
    from aw_runtime.linux.plan import RELAY_PORT

    if not rules:
        return plan
    n = plan.network
    if n.mode == "host":
        return plan
    connect = n.tcp_connect_ports
    if connect is not None and RELAY_PORT not in connect:
        connect = tuple(sorted((*connect, RELAY_PORT)))
    network = n.replace(mode="loopback", tcp_connect_ports=connect,
                        proxied=tuple(dict.fromkeys((*n.proxied, *rules))))
    return plan.replace(network=network)


# --------------------------------------------------------------------------- the proxy's side


class ProxyAsker:
    """The proxy's `ask` (in the launcher): one question at a time to S over a socket; any failure is deny."""

    def __init__(self, sock, deadline: float):
        import threading

        self.sock = sock
        self.timeout = deadline + 5.0
        self.lock = threading.Lock()

    def __call__(self, host: str, port: int, rule: str) -> bool:
        with self.lock:
            try:
                self.sock.settimeout(self.timeout)
                self.sock.sendall((json.dumps({"host": host, "port": port, "rule": rule}) + "\n").encode())
                data = b""
                while not data.endswith(b"\n"):
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                return json.loads(data).get("answer") == "allow"
            except (OSError, ValueError):
                return False


class ProxyHooks:
    """The domain proxy's answerer and audit trail for one run (in the launcher).

    Every decision is appended to the session's audit log; prompts the supervisor
    answered are logged by its engine, so they are not written twice."""

    def __init__(self, supervision: Supervision, policy):
        from aw_runtime.audit import AuditLog

        self.audit = AuditLog(supervision.audit_path)
        self.rules = {r.id: r for r in policy.rules}
        self.ask = None
        self._sockets: tuple = ()
        spec = supervision.spec
        if spec is not None and supervision.connect_prompts:
            import socket

            mine, theirs = socket.socketpair()
            spec.proxy_channel = theirs
            self._sockets = (mine, theirs)
            deadline = spec.deadline or float(spec.table["approvals"]["default_deadline_seconds"])
            self.ask = ProxyAsker(mine, deadline)

    def on_decision(self, decision) -> None:
        if decision.effect == "prompt" and decision.asked:
            return
        record = decision.audit_record(time.time())
        rule = self.rules.get(decision.rule)
        if rule is not None:
            record["origin"] = "built-in" if rule.scope == "builtin" else str(rule.origin)
            record["scope"] = rule.scope
        try:
            self.audit.write(record)
        except OSError as exc:
            print(f"awpolicy proxy: cannot write the audit log {self.audit.path}: {exc.strerror or exc}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        self.audit.close()
        for s in self._sockets:
            s.close()


# --------------------------------------------------------------------------- S


class _LocalPaths:
    """The engine's audit log, with objects named as this machine names them."""

    def __init__(self, log, local_path):
        self.log, self.local_path = log, local_path
        self.path = log.path

    def write(self, record: dict) -> None:
        if str(record.get("object", "")).startswith("/"):
            record = dict(record, object=self.local_path(record["object"]))
        self.log.write(record)

    def close(self) -> None:
        self.log.close()


def _ns(pid: int, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


class Supervisor:
    def __init__(self, spec: SupervisorSpec):
        self.spec = spec
        self.sandbox_pid_ns: int | None = None
        self.sandbox_mnt_ns: int | None = None
        self.engine = None
        self.prompter = None
        self._proxy_buffer = b""
        self._sandboxed: set[int] = set()  # thread ids seen inside the sandbox's PID namespace
        # The ES table's paths are macOS-resolved (/tmp is /private/tmp) on both sides of every
        # match; people and the audit log see the paths as this machine names them.
        aliases = spec.table.get("paths", {}).get("aliases", {})
        self._unalias = sorted(((target, alias) for alias, target in aliases.items()), reverse=True)

    def local_path(self, path: str) -> str:
        for target, alias in self._unalias:
            if path == target or path.startswith(target + "/"):
                return alias + path[len(target):]
        return path

    # ----------------------------------------------------------------- lifetime

    def run(self, control) -> int:
        from aw_runtime.engine import Engine, TableError
        from aw_runtime.linux import _libc
        from aw_runtime.linux.errors import LaunchError
        from aw_runtime.prompter import LivePrompter

        _libc.set_pdeathsig(signal.SIGKILL)
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the terminal's keys are for the command
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        spec = self.spec
        if spec.socket_path or spec.tty:
            self.prompter = LivePrompter(spec.socket_path, tty=spec.tty, peer_ok=self._outside,
                                         remember_for=self._remember_for, show=self.local_path)
            try:
                self.prompter.start()
            except OSError as exc:
                raise LaunchError("supervisor", f"cannot serve the prompt socket {spec.socket_path}: "
                                                f"{exc.strerror or exc}") from None
        try:
            self.engine = Engine(spec.table, spec.params, prompter=self.prompter, audit_path=spec.audit_path,
                                 state_dir=spec.state_dir)
        except TableError as exc:
            raise LaunchError("supervisor", f"{ES_TABLE}: {exc}") from None
        self.engine.audit_log = _LocalPaths(self.engine.audit_log, self.local_path)
        try:
            return self._serve(control)
        finally:
            self.engine.flush()
            self.engine.close()
            if self.prompter is not None:
                self.prompter.close()

    def _serve(self, control) -> int:
        import select
        import socket

        control.settimeout(HANDSHAKE_S * 2)
        try:
            msg, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:  # includes the timeout
            return 1
        if not msg:
            return 0  # the keeper gave up before the sandbox started
        init_pid = int(msg)
        self.sandbox_pid_ns, self.sandbox_mnt_ns = _ns(init_pid, "pid"), _ns(init_pid, "mnt")
        group = fds[0] if fds else None
        control.sendall(b"R")
        control.settimeout(None)
        watched = [control] + ([group] if group is not None else [])
        proxy = self.spec.proxy_channel
        if proxy is not None:
            watched.append(proxy)
        while True:
            ready, _, _ = select.select(watched, [], [])
            if control in ready and not control.recv(1):
                return 0  # the session is over
            if group is not None and group in ready:
                self._answer_group(group)
            if proxy is not None and proxy in ready and not self._answer_proxy(proxy):
                watched.remove(proxy)

    # ----------------------------------------------------------------- whom to trust

    def _outside(self, pid: int) -> bool:
        """A socket client may answer only from outside the sandbox."""
        if self.sandbox_pid_ns is None:
            return True  # the command has not started yet
        pid_ns, mnt_ns = _ns(pid, "pid"), _ns(pid, "mnt")
        if pid_ns is None or mnt_ns is None:
            return False
        return pid_ns != self.sandbox_pid_ns and mnt_ns != self.sandbox_mnt_ns

    def _remember_for(self, question) -> str:
        from aw_runtime.approvals import SCOPES

        for entry in self.spec.table.get("files", ()) + self.spec.table.get("exec", ()) + \
                self.spec.table.get("network", {}).get("rules", ()):
            if entry.get("id") == question.rule.id:
                scope = (entry.get("prompt") or {}).get("cache_scope")
                if scope in SCOPES:
                    return scope
        return "session"

    # ----------------------------------------------------------------- files

    def _answer_group(self, group: int) -> None:
        from aw_runtime.linux import fanotify

        for mask, fd, tid in fanotify.read_events(group):
            if fd < 0:
                continue  # queue overflow notice: no event to answer
            allow = False
            try:
                allow = self._decide_open(mask, fd, tid)
            except Exception as exc:  # noqa: BLE001 - a failure to decide is a deny, never a crash
                print("awpolicy supervisor: denied an open after an internal error: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            finally:
                try:
                    fanotify.respond(group, fd, allow)
                finally:
                    os.close(fd)

    def _decide_open(self, mask: int, fd: int, tid: int) -> bool:
        from aw_runtime.engine import EXEC, OPEN, Event, Process, answer_of
        from aw_runtime.linux import fanotify

        if tid not in self._sandboxed:
            pid_ns = _ns(tid, "pid")
            if pid_ns != self.sandbox_pid_ns:
                # Not a sandboxed process (one that entered the mount namespace from the host):
                # not ours to gate. A thread already gone gets a deny; it reads nothing.
                return pid_ns is not None
            if len(self._sandboxed) > 65536:
                self._sandboxed.clear()
            self._sandboxed.add(tid)  # only "inside" is remembered: a thread id reused outside is rechecked
        path = fanotify.event_path(fd)
        if path is None:
            return False
        if not self._prompted(mask, path):
            return True  # no prompt rule decides this path: Landlock already did
        try:
            exe = os.readlink(f"/proc/{tid}/exe")
        except OSError:
            exe = ""
        process = Process(tid, exe)
        if mask & fanotify.FAN_OPEN_EXEC_PERM:
            event = Event(EXEC, time.time(), process, path=path, deadline=self.spec.deadline)
        else:
            accesses = fanotify.open_accesses(tid)
            if accesses == {"exec"}:
                return True  # execve's own open: its exec event (or Landlock) decides
            accesses = accesses or {"read", "write"}  # unknown: the most it could be
            flags = tuple(flag for access, flag in (("read", "FREAD"), ("write", "FWRITE"))
                          if access in accesses)
            event = Event(OPEN, time.time(), process, path=path, flags=flags, deadline=self.spec.deadline)
        return answer_of(self.engine.decide(event)).answer == "allow"

    def _prompted(self, mask: int, path: str) -> bool:
        """Does a prompt rule decide any access this event could be for (fast: cached matches)?"""
        from aw_runtime.engine import EXEC, OPEN, Event
        from aw_runtime.linux import fanotify

        probe = Event(EXEC, 0.0, path=path) if mask & fanotify.FAN_OPEN_EXEC_PERM else \
            Event(OPEN, 0.0, path=path, flags=("FREAD", "FWRITE"))
        return any(self.engine.match(r).rule.effect == "prompt" for r in self.engine.requests(probe))

    # ----------------------------------------------------------------- the proxy

    def _answer_proxy(self, proxy) -> bool:
        from aw_runtime.engine import Event, EventError, answer_of

        chunk = proxy.recv(65536)
        if not chunk:
            return False
        self._proxy_buffer += chunk
        while b"\n" in self._proxy_buffer:
            line, self._proxy_buffer = self._proxy_buffer.split(b"\n", 1)
            answer = "deny"
            try:
                req = json.loads(line)
                event = Event("NET_CONNECT", time.time(), address=f"{req['host']}:{int(req['port'])}",
                              deadline=self.spec.deadline)
                answer = answer_of(self.engine.decide(event)).answer
            except (ValueError, KeyError, TypeError, EventError):
                pass
            proxy.sendall((json.dumps({"answer": answer}) + "\n").encode())
        return True
