"""The agent-workflow options of ``awpolicy run``: capability flags, worktree sessions, trace.

``awpolicy run`` hands over to :func:`run_agent` only when one of these
options is given; without them a launch never imports this module's
dependencies. The steps wrap the launcher's own (``aw_runtime.launcher``):

1. ``--worktree NAME [--base REF]``: create or reuse the worktree; bind
   ``WORKSPACE`` and ``GIT_COMMON_DIR`` to it and run the command inside it;
2. the launcher verifies and binds the bundle (``prepare``);
3. capability flags add a session layer (:mod:`aw_policy.session_layer`);
   the sandbox is then re-rendered from the combined IR with the same backend
   code, and flags an enforced rule overrides are named on stderr;
4. ``--trace``: the kernel audit listener (:mod:`aw_policy.trace`) runs for
   the session and the denials land in ``WORKSPACE/.awpolicy/logs/denials.jsonl``;
5. the session is recorded (:mod:`aw_policy.sessions`) before launch and
   completed with its exit status after.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from aw_policy.session_layer import FlagError, Flags, capability_options


def agent_options(command):
    """capability flags + --worktree/--base/--trace, as keyword arguments of the command."""
    import click

    command = click.option("--trace", is_flag=True,
                           help="Record every denial in WORKSPACE/.awpolicy/logs/denials.jsonl "
                                "(Linux: kernel audit, needs root).")(command)
    command = click.option("--base", metavar="REF", help="With --worktree: the commit a new worktree starts from.")(command)
    command = click.option("--worktree", metavar="NAME",
                           help="Run in the git worktree .awpolicy/worktrees/NAME (created on first use) "
                                "and record the session.")(command)
    return capability_options(command)


@dataclass(frozen=True)
class AgentOptions:
    flags: Flags
    worktree: str | None = None
    base: str | None = None
    trace: bool = False

    @staticmethod
    def from_options(options: dict) -> AgentOptions:
        import click

        try:
            flags = Flags.from_options(options)
        except FlagError as exc:
            raise click.UsageError(str(exc)) from None
        return AgentOptions(flags, options.get("worktree"), options.get("base"), bool(options.get("trace")))

    @property
    def used(self) -> bool:
        return bool(self.worktree or self.trace or not self.flags.empty)


def run_agent(req, options: AgentOptions, *, environ=None, cwd: str | None = None, err=None) -> int:
    """``awpolicy run`` with the agent options; the command's status, or 2 when refused."""
    from aw_runtime import launcher

    environ = os.environ if environ is None else environ
    cwd = os.getcwd() if cwd is None else cwd
    err = sys.stderr if err is None else err
    if options.base and not options.worktree:
        err.write("awpolicy run: error: --base needs --worktree NAME\n")
        return launcher.EXIT_REFUSED
    try:
        tree, req, run_cwd = _worktree(req, options, cwd)
        prep = launcher.prepare(req, environ, run_cwd)
        prep = _with_flags(prep, req, options.flags, cwd, environ, err)
    except launcher.Refused as exc:
        err.write(exc.text)
        return launcher.EXIT_REFUSED
    for note in prep.notes:
        if req.verbose or note.startswith("not enforced"):
            err.write(f"awpolicy run: {note}\n")
    if sys.platform == "darwin":  # sandbox-exec replaces this process: nothing runs after it
        if options.trace:
            err.write("awpolicy run: --trace on macOS: capture `" + " ".join(_macos_stream()) +
                      "` and read it with aw_policy.trace.parse_macos_log\n")
        try:
            argv = launcher.macos_argv(prep, req)
        except launcher.Refused as exc:
            err.write(exc.text)
            return launcher.EXIT_REFUSED
        err.flush()
        launcher.make_dirs(prep.redirect_dirs)
        os.execve(argv[0], argv, prep.env.env)
    return _run_linux(prep, req, options, tree, run_cwd, err)


def _macos_stream():
    from aw_policy.trace import MACOS_LOG_STREAM

    return MACOS_LOG_STREAM


def _worktree(req, options: AgentOptions, cwd: str):
    """(worktree or None, the request with its parameters bound to it, the directory to run in)."""
    if not options.worktree:
        return None, req, cwd
    from aw_runtime.launcher import BAD_PARAMS, Refused

    from aw_policy import worktree

    clash = sorted({"WORKSPACE", "GIT_COMMON_DIR"} & set(req.params))
    if clash:
        raise Refused(BAD_PARAMS, f"--worktree binds {' and '.join(clash)}; do not also pass --param for it")
    try:
        tree = worktree.ensure(options.worktree, start=cwd, base=options.base)
    except worktree.WorktreeError as exc:
        raise Refused(BAD_PARAMS, f"--worktree {options.worktree}: {exc}") from None
    return tree, replace(req, params=dict(req.params) | tree.params()), str(tree.path)


def _with_flags(prep, req, flags: Flags, cwd: str, environ, err):
    """The prepared launch with the session layer added and the sandbox re-rendered from it."""
    if flags.empty:
        return prep
    from aw_runtime import envfilter
    from aw_runtime.launcher import BAD_PARAMS, Refused

    from aw_policy import ir, session_layer

    try:
        policy = session_layer.apply_flags(prep.policy, flags, cwd)
    except FlagError as exc:
        raise Refused(BAD_PARAMS, str(exc), "see `awpolicy run --help` for the capability flags") from None
    for item in session_layer.blocked(ir.bind(policy, prep.params)):
        err.write(f"awpolicy run: note: {item.message()}\n")
    plan_doc = prep.plan_doc
    if plan_doc is not None:  # what cannot be enforced is refused (or named) by the launch, as without flags
        from aw_policy.backends.linux import plan_document

        plan_doc = plan_document(policy, prep.params)
    try:
        settings = envfilter.expand_settings(policy.env_set, prep.params)
    except envfilter.EnvError as exc:
        raise Refused(BAD_PARAMS, str(exc), "fix the env block of the policy or profile") from None
    env = envfilter.filter_env(environ, policy.env_pass, settings)
    return replace(prep, policy=policy, plan_doc=plan_doc, env=env, reordered=True,
                   redirect_dirs=envfilter.redirect_dirs(settings, prep.params["WORKSPACE"]))


def _run_linux(prep, req, options: AgentOptions, tree, cwd: str, err) -> int:
    from aw_runtime import launcher

    from aw_policy import sessions, trace

    record = None
    if tree is not None:
        record = sessions.start(name=tree.name, repo=str(tree.repo), worktree=str(tree.path), branch=tree.branch,
                                bundle=os.path.abspath(req.bundle), params=prep.params,
                                flags=options.flags.to_json(), command=list(req.argv))
        err.write(f"awpolicy run: session {record.id} in {tree.path}"
                  f" ({'new worktree' if tree.created else 'reused'})\n")
    tracer = None
    if options.trace:
        prep = replace(prep, plan_doc=dict(prep.plan_doc or {}, audit=True))
        try:
            tracer = trace.LinuxTrace(trace.log_path(prep.params["WORKSPACE"]),
                                      session=record.id if record else None).start()
        except trace.TraceUnavailable as exc:
            err.write(f"awpolicy run: --trace: {exc}; denials are not recorded\n")
    status = launcher.EXIT_REFUSED
    try:
        err.flush()
        status = launcher.run_linux(prep, req, cwd, err)
    except launcher.Refused as exc:
        err.write(exc.text)
    finally:
        if tracer is not None:
            denials = tracer.stop()
            err.write(f"awpolicy run: {len(denials)} denial(s) recorded in {tracer.log}\n")
        if record is not None:
            sessions.finish(record, status)
    return status
