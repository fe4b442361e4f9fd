"""``awpolicy run``: verify a bundle, bind its parameters, recheck the rule order,
filter the environment, then launch the command under the platform's sandbox.

Stdlib only (plus ``aw_policy.ir``/``aw_policy.paths``, themselves stdlib only):
a launch never imports the compiler's front end. Every refusal happens before
the command starts and exits 2 with a message that says what is wrong and how
to fix it; nothing here ever falls back to running unsandboxed.

Steps, in order:

1. ``verify_bundle``: manifest, hashes, optional signature. From here on only
   the verified bytes are used, never the files on disk (no swap window; on
   macOS too the profile reaches ``sandbox-exec`` inline, see macos.py).
2. Bind parameters: ``WORKSPACE`` is the git top level of the current
   directory (else the directory itself), ``GIT_COMMON_DIR`` comes from git in
   a repository, ``HOME`` and ``TMPDIR`` from the environment; ``--param``
   overrides any of them.
3. Recheck the order (DESIGN.md "Semantics"): the compiler ordered rules under
   the manifest's reference binding. When the bound values order them the same
   way, the compiled artifact is applied as is; otherwise it is re-rendered
   from ``policy.json`` with the same backend code. On Linux the plan also
   depends on which rule paths lie inside which (``needs_rerender``), which
   the order alone does not show: a change there re-renders too.
4. Environment: :mod:`aw_runtime.envfilter`. The directories the policy
   redirects HOME, TMPDIR and caches to are created on Linux by the sandbox
   itself just before exec (so inside the branch), on macOS here.
5. Launch: Linux through :mod:`aw_runtime.linux`, macOS through ``sandbox-exec``.
   ``prompt`` rules are deny: no supervisor exists to ask.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from types import MappingProxyType

from aw_runtime import envfilter
from aw_runtime.record import Record
from aw_runtime.verify import BundleError, verify_bundle

TYPE_CHECKING = False  # annotations only: importing collections.abc costs a launch 0.3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

EXIT_REFUSED = 2

# Error codes of a refused run (6xx: bundles and runtime).
BAD_PARAMS = "AWP630"
NO_TARGET = "AWP631"
UNENFORCEABLE = "AWP632"
LAUNCH_FAILED = "AWP633"

LINUX_PLAN = "linux.json"
POLICY = "policy.json"

#: "1" in every sandboxed command's environment: a tool started inside (``awpolicy skills run``)
#: then runs its command directly instead of nesting a sandbox, once the kernel confirms it.
SANDBOX_ENV = "AWPOLICY_SANDBOX"


class Refused(Exception):
    """The command must not start. ``text`` is the rendered message (exit 2)."""

    def __init__(self, code: str, message: str, hint: str | None = None, where: str = "awpolicy run",
                 details: Sequence[str] = ()):
        self.code = code
        lines = [f"{where}: error[{code}]: {message}"]
        lines += [f"  - {d}" for d in details]
        if hint:
            lines.append(f"  = hint: {hint}")
        self.text = "\n".join(lines) + "\n"
        super().__init__(message)


class RunRequest(Record):
    """What ``awpolicy run`` was asked to do."""

    bundle: str
    argv: tuple[str, ...]
    params: Mapping[str, str] = MappingProxyType({})
    best_effort: bool = False
    branch_on_exit: str | None = None  # "keep" / "discard"; None: what the policy says
    key: str | None = None
    verbose: bool = False


class Prepared(Record):
    """Everything decided before launch; nothing has been created on disk yet."""

    bundle: object  # aw_runtime.verify.VerifiedBundle
    policy: object  # aw_policy.ir.Policy
    params: dict[str, str]  # resolved
    env: envfilter.FilteredEnv
    redirect_dirs: list[str]
    reordered: bool  # the sandbox is re-rendered for the bound values (order or nesting changed)
    plan_doc: dict | None  # the Linux plan document (None on macOS)
    notes: tuple[str, ...] = ()  # what --verbose prints


# --------------------------------------------------------------------------- parameters


class GitQuery:
    """(top level, common git dir) of the repository holding ``cwd``, or (None, None), from git.

    Asked of git itself (worktrees, submodules, ``safe.directory`` are its business);
    ``GIT_*`` variables are left out so only the directory decides. git starts at once and
    :meth:`result` waits for it, so the launcher verifies the bundle meanwhile. It is spawned
    with ``os.posix_spawn``: importing ``subprocess`` would cost a launch more than git takes."""

    TIMEOUT_S = 10.0

    def __init__(self, cwd: str, environ: Mapping[str, str]):
        env = {k: v for k, v in environ.items() if not k.startswith("GIT_")} | {"LC_ALL": "C"}
        argv = ["git", "-C", cwd, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]
        self.deadline = time.monotonic() + self.TIMEOUT_S
        self.pid, self.out = None, -1
        try:
            self.out, stdout = os.pipe()
            try:
                actions = [(os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
                # the PATH subprocess would search: os.get_exec_path(env), which imports warnings for
                # bytes keys this dict cannot have
                search = env.get("PATH")
                for directory in (os.defpath if search is None else os.fsdecode(search)).split(os.pathsep):
                    try:
                        self.pid = os.posix_spawn(os.path.join(directory, "git"), argv, env, file_actions=actions)
                        break
                    except (FileNotFoundError, NotADirectoryError, PermissionError):
                        continue
            finally:
                os.close(stdout)
        except OSError:
            pass  # no answer: WORKSPACE is the directory itself

    def result(self) -> tuple[str | None, str | None]:
        import select

        try:
            if self.pid is None:
                return None, None
            output = b""
            while True:
                ready, _, _ = select.select([self.out], [], [], max(0.0, self.deadline - time.monotonic()))
                if not ready:
                    return None, None  # timed out (close() kills it)
                chunk = os.read(self.out, 65536)
                if not chunk:
                    break
                output += chunk
            status = os.waitpid(self.pid, 0)[1]
            self.pid = None
        finally:
            self.close()
        lines = os.fsdecode(output).splitlines()
        if status != 0 or len(lines) != 2:
            return None, None
        return lines[0], lines[1]

    def close(self) -> None:
        """Stop git if it still runs (when it timed out, or the launch was refused before its answer)."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        if self.out >= 0:
            os.close(self.out)
            self.out = -1


def git_paths(cwd: str, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(top level, common git dir) of the repository holding ``cwd``, or (None, None): see GitQuery."""
    return GitQuery(cwd, environ).result()


def start_git(given: Mapping[str, str], environ: Mapping[str, str], cwd: str) -> GitQuery | None:
    """The git query host_params needs (None when ``--param`` gives both of its answers)."""
    if "WORKSPACE" in given and "GIT_COMMON_DIR" in given:
        return None
    return GitQuery(given.get("WORKSPACE", cwd), environ)


def host_params(given: Mapping[str, str], environ: Mapping[str, str], cwd: str,
                git: GitQuery | None = None) -> dict[str, str]:
    """The built-in parameters' values on this machine; ``given`` (``--param``) wins.

    ``git``: the query :func:`start_git` started for these arguments (else it is asked here)."""
    values: dict[str, str] = {}
    home = environ.get("HOME")
    if not home:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    values["HOME"] = home
    values["TMPDIR"] = environ.get("TMPDIR") or "/tmp"
    git = git or start_git(given, environ, cwd)
    if git is not None:
        top, common = git.result()
        values["WORKSPACE"] = top or cwd
        if common:
            values["GIT_COMMON_DIR"] = common
    values.update(given)
    for name in ("HOME", "TMPDIR", "WORKSPACE", "GIT_COMMON_DIR"):
        value = values.get(name)
        if value and "${" not in value:
            values[name] = os.path.realpath(os.path.join(cwd, value))
    return values


def bind(policy, given: Mapping[str, str], environ: Mapping[str, str], cwd: str, git: GitQuery | None = None):
    """``ir.bind`` under this machine's values; Refused when a parameter has no value."""
    from aw_policy import ir, paths

    try:
        return ir.bind(policy, host_params(given, environ, cwd, git))
    except paths.PathError as exc:
        raise Refused(BAD_PARAMS, f"cannot bind parameters: {exc}",
                      "pass --param NAME=VALUE for every parameter the policy declares without a default") from None


# --------------------------------------------------------------------------- preparing


def _load_policy(bundle):
    from aw_policy import ir

    if POLICY not in bundle.files:
        raise Refused(NO_TARGET, f"bundle has no {POLICY}", "recompile the bundle with `awpolicy compile`",
                      where=bundle.path)
    try:
        return ir.Policy.from_json(bundle.json(POLICY))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Refused(NO_TARGET, f"{POLICY} is damaged: {exc}", "recompile the bundle",
                      where=os.path.join(bundle.path, POLICY)) from None


class _CollectorPaused:
    """No cyclic garbage collection inside ``with _CollectorPaused():``. Preparing a launch makes
    tens of thousands of short-lived objects and no garbage cycles: the collector's passes over
    them find nothing (with a policy of 150 rules they cost a launch 1.5 ms). Never around the
    session itself: its processes are forked from this one and may run for hours."""

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info):
        if self.enabled:
            gc.enable()


def prepare(req: RunRequest, environ: Mapping[str, str], cwd: str, *, platform: str = sys.platform,
            trace: list | None = None) -> Prepared:
    """Verify, bind, recheck the order and compute the environment. Raises Refused."""
    with _CollectorPaused():
        return _prepare(req, environ, cwd, platform, trace)


def _prepare(req: RunRequest, environ: Mapping[str, str], cwd: str, platform: str,
             trace: list | None) -> Prepared:
    if not req.argv:
        raise Refused(BAD_PARAMS, "no command given", "write the command after --: awpolicy run BUNDLE -- CMD")
    git = start_git(req.params, environ, cwd)  # runs while the bundle is verified and read
    _trace(trace, "start git")
    try:
        try:
            bundle = verify_bundle(req.bundle, req.key)
        except BundleError as exc:
            raise Refused(exc.code, exc.message, exc.hint, where=exc.path or req.bundle) from None
        _trace(trace, "verify")
        policy = _load_policy(bundle)
        _trace(trace, "load policy.json")
        bound = bind(policy, req.params, environ, cwd, git)
    finally:
        if git is not None:
            git.close()
    params = dict(bound.params)
    _trace(trace, "bind params (git)")

    from aw_policy import ir

    notes = [f"parameters: {_param_text(params)}"]
    order = ir.precedence_order(bound)
    reordered = bundle.manifest.get("order") != order
    if reordered:
        notes.append("the bound parameters order the rules differently from the bundle's reference binding "
                     f"({_param_text(bundle.params)}); re-rendering the sandbox from {POLICY}")
    _trace(trace, "order recheck")

    plan_doc = None
    if platform.startswith("linux"):
        if LINUX_PLAN not in bundle.files:
            raise Refused(NO_TARGET, f"bundle has no Linux plan ({LINUX_PLAN})",
                          "recompile the bundle with a version of awpolicy that has the Linux backend",
                          where=bundle.path)
        try:
            plan_doc = bundle.json(LINUX_PLAN)
        except ValueError as exc:
            raise Refused(NO_TARGET, f"{LINUX_PLAN} is not JSON: {exc}", "recompile the bundle",
                          where=os.path.join(bundle.path, LINUX_PLAN)) from None
        from aw_runtime.linux import needs_rerender
        from aw_runtime.linux.plan import PLAN_FORMAT

        if not isinstance(plan_doc, dict) or plan_doc.get("format") != PLAN_FORMAT:
            found = plan_doc.get("format") if isinstance(plan_doc, dict) else type(plan_doc).__name__
            raise Refused(NO_TARGET, f"{LINUX_PLAN} has format {found!r}; this runtime reads {PLAN_FORMAT!r}",
                          "recompile the bundle with this version of awpolicy",
                          where=os.path.join(bundle.path, LINUX_PLAN))
        if not reordered:
            # Same order, but the plan's grants and carve-outs also depend on which
            # paths lie inside which (a TMPDIR that now contains a granted file...).
            try:
                reordered = needs_rerender(plan_doc, params)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise Refused(NO_TARGET, f"{LINUX_PLAN} is malformed: {type(exc).__name__}: {exc}",
                              "recompile the bundle", where=os.path.join(bundle.path, LINUX_PLAN)) from None
            if reordered:
                notes.append("the bound parameters nest the policy's paths differently from the bundle's "
                             f"reference binding ({_param_text(bundle.params)}); re-rendering the sandbox "
                             f"from {POLICY}")
        if reordered:
            plan_doc = _rerender_linux(policy, params)
        _trace(trace, "re-render plan" if reordered else "read linux.json")

    try:
        settings = envfilter.expand_settings(policy.env_set, params)
    except envfilter.EnvError as exc:
        raise Refused(BAD_PARAMS, str(exc), "fix the policy's env block", where=bundle.path) from None
    env = envfilter.filter_env(environ, policy.env_pass, settings)
    if env.withheld:
        notes.append("credential-like environment variables withheld: " + ", ".join(env.withheld)
                     + " (a policy passes one with env { pass NAME })")
    _trace(trace, "environment")
    return Prepared(bundle, policy, params, env, envfilter.redirect_dirs(settings, params["WORKSPACE"]),
                    reordered, plan_doc, tuple(notes))


def _rerender_linux(policy, params: dict[str, str]) -> dict:
    try:
        from aw_policy.backends.linux import plan_document
    except ImportError as exc:
        raise Refused(NO_TARGET, f"cannot re-render the Linux plan: {exc}",
                      "reinstall awpolicy (its Linux backend is missing)") from None
    return plan_document(policy, params)


def _param_text(params: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _trace(trace: list | None, step: str) -> None:
    if trace is not None:
        trace.append(("awpolicy", step, time.monotonic_ns()))


# --------------------------------------------------------------------------- directories


def make_dirs(paths: Sequence[str]) -> list[str]:
    """Create each directory (and missing parents); return what was created, parents first.

    macOS only: on Linux the sandbox creates them itself (inside the branch)."""
    created: list[str] = []
    for path in paths:
        missing = []
        p = path
        while not os.path.lexists(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            os.mkdir(d, 0o700)
            created.append(d)
    return created


# --------------------------------------------------------------------------- launching


def launch_env(prep: Prepared) -> dict[str, str]:
    """The command's environment: the filtered one, marked as sandboxed."""
    return {**prep.env.env, SANDBOX_ENV: "1"}


def _bind_linux_plan(prep: Prepared, req: RunRequest, cwd: str):
    from aw_runtime.linux import PlanError, bind_plan

    try:
        plan = bind_plan(prep.plan_doc, prep.params, env=launch_env(prep), cwd=cwd, best_effort=req.best_effort,
                         branch_on_exit=req.branch_on_exit)
    except PlanError as exc:
        raise Refused(NO_TARGET, f"the Linux plan cannot be bound: {exc}", "recompile the bundle",
                      where=os.path.join(prep.bundle.path, LINUX_PLAN)) from None
    _refuse_moved_params(prep.params)
    return plan


#: The parameters host_params resolved to real paths.
RESOLVED_PARAMS = ("HOME", "TMPDIR", "WORKSPACE", "GIT_COMMON_DIR")


def _refuse_moved_params(params: Mapping[str, str]) -> None:
    """A resolved directory that now resolves elsewhere had a symlink put in its path after binding:
    the plan (whose paths are resolved) would follow it out of what the policy names. Refuse.
    (Later swaps are caught inside the sandbox: mounts and Landlock rules must land on the plan's paths.)"""
    moved = [f"{name}={params[name]} now resolves to {os.path.realpath(params[name])}" for name in RESOLVED_PARAMS
             if params.get(name, "").startswith("/") and "${" not in params[name]
             and os.path.realpath(params[name]) != params[name]]
    if moved:
        raise Refused(BAD_PARAMS, "a directory changed after its parameter was bound (a symlink now stands in its "
                      "path); the command was not started", "find out what replaced it, then run again",
                      details=moved)


def run_linux(prep: Prepared, req: RunRequest, cwd: str, err, trace: list | None = None) -> int:
    with _CollectorPaused():
        from aw_runtime.linux import LaunchError, PlanError, Unenforceable, run
        from aw_runtime.supervisor import SUPERVISOR_DIED, ProxyHooks, route_connect_prompts

        supervision = _supervision(prep, req, err)
        if supervision.plan_doc is not None:  # file prompts granted: the supervisor asks for them
            prep = prep.replace(plan_doc=supervision.plan_doc)
        plan = _bind_linux_plan(prep, req, cwd)
        _trace(trace, "bind_plan")
        if supervision.spec is not None:
            plan = route_connect_prompts(plan, supervision.connect_prompts)
        proxy = hooks = None
        if plan.network.proxied:
            hooks = ProxyHooks(supervision, prep.policy)
            plan, proxy = _with_domain_proxy(plan, prep, hooks)
    try:
        # Creates the redirect directories (plan.make_dirs) inside the sandbox, so inside the branch.
        outcome = run(plan, list(req.argv), trace=trace, supervisor=supervision.spec)
    except Unenforceable as exc:
        raise Refused(UNENFORCEABLE, "this policy cannot be enforced here; the command was not started",
                      "change the policy, or pass --best-effort to run with these rules not enforced",
                      details=exc.reasons) from None
    except PlanError as exc:
        raise Refused(NO_TARGET, f"the Linux plan is invalid: {exc}", "recompile the bundle",
                      where=os.path.join(prep.bundle.path, LINUX_PLAN)) from None
    except LaunchError as exc:
        err.write(f"awpolicy run: error[{LAUNCH_FAILED}]: sandbox setup failed at {exc.stage}: {exc.message}\n")
        return exc.exit_code
    finally:
        if proxy is not None:
            import shutil

            proxy.close()
            shutil.rmtree(os.path.dirname(plan.network.proxy_socket), ignore_errors=True)
        if hooks is not None:
            hooks.close()
        supervision.cleanup()
    if outcome.ended:
        err.write(f"awpolicy run: error[{SUPERVISOR_DIED}]: {outcome.ended}\n")
    b = plan.branch
    if b is not None and b.on_exit == "keep" and os.path.isdir(b.upper) and os.listdir(b.upper):
        err.write(f"awpolicy run: branch of {b.base} kept in {b.upper}\n")
    return outcome.status


def _supervision(prep: Prepared, req: RunRequest, err):
    """Who asks for the policy's prompt rules in this run (aw_runtime.supervisor.arrange); says
    on stderr which prompt rules stay deny and why."""
    from aw_runtime.supervisor import arrange

    try:
        supervision = arrange(prep, os.environ)
    except ValueError as exc:
        raise Refused(BAD_PARAMS, str(exc), "fix the variable or unset it") from None
    for note in supervision.notes + (supervision.verbose_notes if req.verbose else []):
        err.write(f"awpolicy run: {note}\n")
    err.flush()
    return supervision


def _with_domain_proxy(plan, prep: Prepared, hooks=None):
    """Start the domain proxy outside the sandbox on a private unix socket; the plan then
    runs a relay to it on the sandbox's loopback and points the command's proxy variables there.
    ``hooks`` (aw_runtime.supervisor.ProxyHooks): who answers prompts, where decisions are logged."""
    import tempfile

    from aw_runtime.linux.plan import RELAY_PORT
    from aw_runtime.proxy import DomainProxy, policy_check, proxy_environment

    from aw_policy import ir

    proxy = DomainProxy(policy_check(ir.bind(prep.policy, prep.params)),
                        ask=hooks.ask if hooks else None, on_decision=hooks.on_decision if hooks else None)
    base = tempfile.gettempdir()
    if len(base) > 64:  # a unix socket path must fit in 108 bytes
        base = "/tmp"
    socket_path = proxy.serve_unix(os.path.join(tempfile.mkdtemp(prefix="awpolicy-proxy-", dir=base), "s"))
    network = plan.network.replace(proxy_socket=socket_path)
    env = {**plan.env, **proxy_environment(RELAY_PORT)}
    return plan.replace(network=network, env=env), proxy


def macos_argv(prep: Prepared, req: RunRequest) -> list[str]:
    """The ``sandbox-exec`` argv; re-renders the profile when the bound params reorder rules."""
    from aw_runtime.macos import PROFILE, MacosError, sandbox_exec_argv

    from aw_policy.backends.sbpl import launch_params

    try:
        if prep.reordered:
            from aw_policy.backends.sbpl import render_profile

            profile_text = render_profile(prep.policy, prep.params, supervised=False)[0]
        elif PROFILE in prep.bundle.artifacts():
            profile_text = prep.bundle.read(PROFILE).decode("utf-8")  # the verified bytes, never the file again
        else:
            raise MacosError(f"the bundle has no {PROFILE}: it was compiled without the SBPL backend; "
                             "recompile it with this version of awpolicy")
        # The profile's regex forms read derived params (AWP_CI_RE_HOME, ...): pass them all.
        defines = launch_params(prep.params)
        return sandbox_exec_argv(profile_text, defines, req.argv)
    except (MacosError, ValueError) as exc:
        raise Refused(NO_TARGET, str(exc), where=prep.bundle.path) from None


def run_bundle(req: RunRequest, *, environ: Mapping[str, str] | None = None, cwd: str | None = None,
               err=None, trace: list | None = None) -> int:
    """Run ``req.argv`` under the bundle; the command's status (128+N if killed by signal N), or 2 if refused."""
    environ = os.environ if environ is None else environ
    cwd = os.getcwd() if cwd is None else cwd
    err = sys.stderr if err is None else err
    try:
        prep = prepare(req, environ, cwd, trace=trace)
        for note in prep.notes:
            if req.verbose:
                err.write(f"awpolicy run: {note}\n")
        err.flush()
        if sys.platform == "darwin":
            argv = macos_argv(prep, req)
            # sandbox-exec becomes this process: signals and the exit status are the
            # command's own. The redirect directories stay (empty unless written).
            make_dirs(prep.redirect_dirs)
            os.execve(argv[0], argv, launch_env(prep))
        if not sys.platform.startswith("linux"):
            raise Refused(NO_TARGET, f"no sandbox for platform {sys.platform!r}", "awpolicy runs on Linux and macOS")
        return run_linux(prep, req, cwd, err, trace)
    except Refused as exc:
        err.write(exc.text)
        err.flush()
        return EXIT_REFUSED

