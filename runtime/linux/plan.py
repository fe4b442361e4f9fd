"""The bound Linux enforcement plan the launcher executes.

Every path is absolute and concrete (params already bound by the caller).
``plan_from_dict`` / ``plan_to_dict`` give a JSON-friendly form (used by
``python -m aw_runtime.linux`` and the tests); ``validate`` checks a plan and
raises ``PlanError`` with a precise message.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from aw_runtime.record import Record

from .errors import PlanError

#: Format of the bundle's linux.json (written by aw_policy.backends.linux, read by bind_plan).
PLAN_FORMAT = "awpolicy.linux/1"
ACCESS_NAMES = frozenset({"read", "write", "exec"})
MASK_MODES = frozenset({"hide", "readonly", "noexec", "pin"})
NET_MODES = frozenset({"none", "loopback", "host"})
SCOPE_NAMES = frozenset({"signal", "abstract_unix_socket"})
ON_EXIT = frozenset({"keep", "discard"})

# The default seccomp deny list. "clone" means: clone(2) *with namespace flags*
# fails with EPERM (plain fork/threads stay allowed); "clone3" fails with ENOSYS
# so libc falls back to clone(2), whose flags the filter can inspect.
DEFAULT_SECCOMP_DENY: tuple[str, ...] = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "unshare", "setns",
    "bpf", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "keyctl", "add_key", "request_key", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "clone", "clone3",
    # the new mount API (same power as mount(2) given the capability)
    "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
)
#: What debug mode lets through the system call filter (aw_runtime.linux.seccomp drops them
#: from the deny list only for a plan with ``debug``): attaching to, and reading or writing
#: the memory of, another process. Landlock keeps every target inside the sandbox.
DEBUG_SYSCALLS: tuple[str, ...] = ("ptrace", "process_vm_readv", "process_vm_writev")


class FsGrant(Record):
    """Landlock path-beneath allow."""
    path: str
    access: frozenset[str]  # subset of {"read", "write", "exec"}


class Mask(Record):
    """Deny carve-out inside an allowed tree, done with mounts before Landlock.

    ``hide``: the path stays but is unreadable (an empty mode-000 read-only
    directory or file is mounted over it: open/list fail with EACCES).
    ``readonly``: a read-only bind of itself (readable, writes fail with EROFS).
    ``noexec``: a no-exec bind of itself (execve fails with EACCES).
    ``pin``: a bind of itself, so the directory (a mount point now) cannot be
    renamed or removed: masks below it stay where their paths are.
    ``placeholder``: the path does not exist yet; PID 1 makes it (an empty
    directory, inside the copy-on-write branch) so there is something to mount over.
    """
    path: str
    mode: str
    placeholder: bool = False


class Branch(Record):
    """Copy-on-write branch of ``base`` (overlayfs mounted over it).

    ``upper`` None: a private temporary upper layer made at launch (discard only).
    """
    base: str
    upper: str | None
    hide: tuple[str, ...] = ()
    readonly: tuple[str, ...] = ()
    on_exit: str = "discard"


#: Inside the sandbox's own network namespace, the relay to the domain proxy listens
#: on 127.0.0.1 at this port (HTTP_PROXY points there); it is bound before the
#: command starts, so the command cannot take it.
RELAY_PORT = 3128


class Network(Record):
    mode: str = "none"
    tcp_connect_ports: tuple[int, ...] | None = None
    tcp_bind_ports: tuple[int, ...] | None = None
    proxied: tuple[str, ...] = ()  # rule ids (with origin) that only the domain proxy enforces
    proxy_socket: str | None = None  # the running proxy's unix socket (set by the launcher)


class LinuxPlan(Record):
    fs: tuple[FsGrant, ...]
    masks: tuple[Mask, ...]
    branch: Branch | None
    network: Network
    scopes: frozenset[str]
    seccomp_deny: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    audit: bool = False
    best_effort: bool = False
    #: what the policy asks that this plan cannot enforce (from the bundle), one sentence each
    unenforced: tuple[str, ...] = ()
    #: directories the environment points at (HOME, TMPDIR...), made by the command
    #: itself just before exec, under its own sandbox (so inside the branch if any)
    make_dirs: tuple[str, ...] = ()
    #: kernel feature ("audit", "signal_scope", "tcp_ports") -> the rules that need it,
    #: each as "r12 (file:line:col)"; named when the kernel lacks the feature
    needs: dict = MappingProxyType({})
    #: debug mode: DEBUG_SYSCALLS are not denied, so debuggers work on the sandbox's own processes
    debug: bool = False


def _abs(path, what):
    if not isinstance(path, str) or not path:
        raise PlanError(f"{what}: path must be a non-empty string, got {path!r}")
    if not os.path.isabs(path):
        raise PlanError(f"{what}: path must be absolute, got {path!r}")
    if "\0" in path:
        raise PlanError(f"{what}: path contains a NUL byte: {path!r}")
    return os.path.normpath(path)


def _under(path, base):
    return path == base or path.startswith(base.rstrip("/") + "/")


def _ports(ports, what):
    if ports is None:
        return None
    out = []
    for p in ports:
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 65535:
            raise PlanError(f"{what}: invalid TCP port {p!r}")
        out.append(p)
    return tuple(sorted(set(out)))


def validate(plan: LinuxPlan) -> None:
    """Raise PlanError if the plan is malformed."""
    if not isinstance(plan, LinuxPlan):
        raise PlanError(f"expected a LinuxPlan, got {type(plan).__name__}")
    for g in plan.fs:
        _abs(g.path, "fs grant")
        bad = set(g.access) - ACCESS_NAMES
        if bad:
            raise PlanError(f"fs grant {g.path}: unknown access {sorted(bad)} (known: read, write, exec)")
    for m in plan.masks:
        _abs(m.path, "mask")
        if m.mode not in MASK_MODES:
            raise PlanError(f"mask {m.path}: unknown mode {m.mode!r} (known: {', '.join(sorted(MASK_MODES))})")
        if m.placeholder and (plan.branch is None or not _under(os.path.normpath(m.path), plan.branch.base)
                              or os.path.normpath(m.path) == plan.branch.base):
            raise PlanError(f"mask {m.path}: a placeholder can only be made inside the copy-on-write branch")
    b = plan.branch
    if b is not None:
        base = _abs(b.base, "branch base")
        if base == "/":
            raise PlanError("branch base cannot be /")
        if b.upper is None and b.on_exit == "keep":
            raise PlanError("a branch kept on exit needs an upper directory")
        if b.upper is not None:
            upper = _abs(b.upper, "branch upper")
            if _under(upper, base) or _under(base, upper):
                raise PlanError(f"branch upper {upper} must be outside base {base} (and base outside upper)")
        if b.on_exit not in ON_EXIT:
            raise PlanError(f"branch on_exit must be 'keep' or 'discard', got {b.on_exit!r}")
        for p in tuple(b.hide) + tuple(b.readonly):
            q = _abs(p, "branch path")
            if not _under(q, base) or q == base:
                raise PlanError(f"branch path {p} is not strictly under base {base}")
    n = plan.network
    if n.mode not in NET_MODES:
        raise PlanError(f"network mode must be none, loopback or host, got {n.mode!r}")
    _ports(n.tcp_connect_ports, "tcp_connect_ports")
    _ports(n.tcp_bind_ports, "tcp_bind_ports")
    bad = set(plan.scopes) - SCOPE_NAMES
    if bad:
        raise PlanError(f"unknown scopes {sorted(bad)} (known: signal, abstract_unix_socket)")
    for k, v in plan.env.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k or "=" in k or "\0" in k + v:
            raise PlanError(f"invalid environment entry {k!r}")
    _abs(plan.cwd, "cwd")
    for d in plan.make_dirs:
        _abs(d, "make_dirs")
    if not all(isinstance(r, str) for r in plan.unenforced):
        raise PlanError("unenforced: each entry must be a sentence")
    if not isinstance(plan.debug, bool):
        raise PlanError(f"debug must be true or false, got {plan.debug!r}")


def plan_from_dict(d: dict) -> LinuxPlan:
    """Build a LinuxPlan from its JSON form (lists instead of tuples/sets)."""
    try:
        br = d.get("branch")
        net = d.get("network") or {}

        def tup(v):
            return None if v is None else tuple(v)

        plan = LinuxPlan(
            fs=tuple(FsGrant(g["path"], frozenset(g["access"])) for g in d.get("fs", ())),
            masks=tuple(Mask(m["path"], m["mode"], bool(m.get("placeholder", False))) for m in d.get("masks", ())),
            branch=None if br is None else Branch(
                base=br["base"], upper=br.get("upper"), hide=tuple(br.get("hide", ())),
                readonly=tuple(br.get("readonly", ())), on_exit=br.get("on_exit", "discard")),
            network=Network(mode=net.get("mode", "none"),
                            tcp_connect_ports=tup(net.get("tcp_connect_ports")),
                            tcp_bind_ports=tup(net.get("tcp_bind_ports"))),
            scopes=frozenset(d.get("scopes", ())),
            seccomp_deny=tuple(d.get("seccomp_deny", DEFAULT_SECCOMP_DENY)),
            env=dict(d.get("env", {})),
            cwd=d["cwd"],
            audit=bool(d.get("audit", False)),
            best_effort=bool(d.get("best_effort", False)),
            unenforced=tuple(d.get("unenforced", ())),
            make_dirs=tuple(d.get("make_dirs", ())),
            needs={k: tuple(v) for k, v in d.get("needs", {}).items()},
            debug=d.get("debug", False),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise PlanError(f"malformed plan: {e.__class__.__name__}: {e}") from None
    validate(plan)
    return plan


def plan_to_dict(plan: LinuxPlan) -> dict:
    b = plan.branch
    n = plan.network
    return {
        "fs": [{"path": g.path, "access": sorted(g.access)} for g in plan.fs],
        "masks": [{"path": m.path, "mode": m.mode, "placeholder": m.placeholder} for m in plan.masks],
        "branch": None if b is None else {
            "base": b.base, "upper": b.upper, "hide": list(b.hide),
            "readonly": list(b.readonly), "on_exit": b.on_exit},
        "network": {
            "mode": n.mode,
            "tcp_connect_ports": None if n.tcp_connect_ports is None else list(n.tcp_connect_ports),
            "tcp_bind_ports": None if n.tcp_bind_ports is None else list(n.tcp_bind_ports)},
        "scopes": sorted(plan.scopes),
        "seccomp_deny": list(plan.seccomp_deny),
        "env": dict(plan.env),
        "cwd": plan.cwd,
        "audit": plan.audit,
        "best_effort": plan.best_effort,
        "unenforced": list(plan.unenforced),
        "make_dirs": list(plan.make_dirs),
        "needs": {k: list(v) for k, v in sorted(plan.needs.items())},
        "debug": plan.debug,
    }
