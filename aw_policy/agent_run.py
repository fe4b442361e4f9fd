"""The agent-workflow options of ``awpolicy run``: capability flags, worktree sessions, trace.

``awpolicy run`` hands over to :func:`run_agent` only when one of these
options is given; without them a launch never imports this module's
dependencies. The steps wrap the launcher's own (``aw_runtime.launcher``):

0. ``--agent NAME`` / ``--cmd PATH`` (:mod:`aw_policy.agents`): the program
   to run (the words after ``--`` become its arguments; ``awpolicy shell``
   falls back to the login shell), the agent's preset as a ``--profile``, its
   config home, and the worktree ``ai-NAME`` inside a git repository. The
   program itself may run: its one file gets an exec and read session rule;
1. ``--worktree NAME [--base REF]``: create or reuse the worktree; bind
   ``WORKSPACE`` and ``GIT_COMMON_DIR`` to it and run the command inside it;
2. the launcher verifies and binds the bundle (``prepare``);
3. capability flags add a session layer (:mod:`aw_policy.session_layer`);
   the sandbox is then re-rendered from the combined IR with the same backend
   code, and flags an enforced rule overrides are named on stderr;
4. ``--trace``: the kernel audit listener (:mod:`aw_policy.trace`) runs for
   the session and the denials land in ``WORKSPACE/.awpolicy/logs/denials.jsonl``;
5. the session is recorded (:mod:`aw_policy.sessions`) before launch and
   completed with its exit status after, with its kind (run, shell, skill),
   agent, and the session it was attached from.

``awpolicy shell`` and ``awpolicy attach`` are this same function with other
defaults. (``awpolicy skills run`` uses the launcher directly: see :mod:`aw_policy.skills`.)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from aw_policy.session_layer import FlagError, Flags, capability_options


def agent_options(command):
    """capability flags + --worktree/--base/--trace/--agent/--cmd, as keyword arguments of the command."""
    import click

    command = click.option("--cmd", "cmd", metavar="PATH",
                           help="The program to run (a name on PATH or a path); the words after -- are its "
                                "arguments. With --agent it replaces the agent's own command.")(command)
    command = agent_choice_option(command)
    command = click.option("--trace", is_flag=True,
                           help="Record every denial in WORKSPACE/.awpolicy/logs/denials.jsonl "
                                "(Linux: kernel audit, needs root).")(command)
    command = click.option("--base", metavar="REF", help="With --worktree: the commit a new worktree starts from.")(command)
    command = click.option("--worktree", metavar="NAME",
                           help="Run in the git worktree .awpolicy/worktrees/NAME (created on first use) "
                                "and record the session.")(command)
    return capability_options(command)


def agent_choice_option(command):
    import click

    from aw_policy.agents import AGENTS

    return click.option("--agent", "agent", type=click.Choice(sorted(AGENTS)),
                        help="Run this agent: its command (found on PATH), its preset, its config home "
                             "(CODEX_HOME, CLAUDE_CONFIG_DIR), and the worktree ai-NAME in a git repository.")(command)


@dataclass(frozen=True)
class AgentOptions:
    flags: Flags
    worktree: str | None = None
    base: str | None = None
    trace: bool = False
    agent: str | None = None
    cmd: str | None = None
    kind: str = "run"  # run, shell or skill: what the session record says; a shell falls back to the login shell
    parent: str | None = None  # the session this one was attached from
    agent_program: bool = True  # with --agent and no --cmd: run the agent's command (attach -- CMD does not)

    @staticmethod
    def from_options(options: dict, kind: str = "run") -> AgentOptions:
        import click

        try:
            flags = Flags.from_options(options)
        except FlagError as exc:
            raise click.UsageError(str(exc)) from None
        return AgentOptions(flags, options.get("worktree"), options.get("base"), bool(options.get("trace")),
                            options.get("agent"), options.get("cmd"), kind)

    @property
    def used(self) -> bool:
        return bool(self.worktree or self.trace or self.agent or self.cmd or self.kind != "run"
                    or not self.flags.empty)

    @property
    def label(self) -> str:
        return "awpolicy " + ("attach" if self.parent else self.kind)


def login_shell(environ) -> str:
    """The user's login shell: the password database's, else $SHELL, else /bin/sh."""
    import pwd

    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        shell = ""
    for candidate in (shell, environ.get("SHELL", ""), "/bin/sh"):
        if candidate and os.path.isabs(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return "/bin/sh"


def program_argv(options: AgentOptions, words, environ, cwd: str) -> list[str]:
    """The command line to run: ``--cmd``, else (a shell) the login shell, else the agent's command,
    each followed by ``words``; without any of them ``words`` is the whole command. AgentError
    when the program cannot be found."""
    from aw_policy import agents

    program = options.cmd
    if program is None and options.kind == "shell":
        program = login_shell(environ)
    if program is None and options.agent and options.agent_program:
        program = agents.get_agent(options.agent).command
    if program is None:
        return list(words)
    what = "--cmd" if options.cmd else (f"--agent {options.agent}" if program != login_shell(environ) else "shell")
    return [agents.find_command(program, environ, cwd, what=what), *words]


def run_agent(req, options: AgentOptions, *, environ=None, cwd: str | None = None, err=None) -> int:
    """``awpolicy run`` with the agent options; the command's status, or 2 when refused."""
    from aw_runtime import launcher

    from aw_policy.agents import AgentError

    environ = os.environ if environ is None else environ
    cwd = os.getcwd() if cwd is None else cwd
    err = sys.stderr if err is None else err
    options = _default_worktree(options, cwd)
    if options.base and not options.worktree:
        err.write(f"{options.label}: error: --base needs --worktree NAME\n")
        return launcher.EXIT_REFUSED
    try:
        req = req.replace(argv=tuple(program_argv(options, req.argv, environ, cwd)))
    except AgentError as exc:
        err.write(f"{options.label}: error: {exc}\n")
        return launcher.EXIT_REFUSED
    try:
        tree, req, run_cwd = _worktree(req, options, cwd)
        prep = launcher.prepare(req, environ, run_cwd)
        prep = _with_session_layer(prep, _launch_flags(options, req), options.agent, cwd, environ, err)
    except launcher.Refused as exc:
        err.write(exc.text)
        return launcher.EXIT_REFUSED
    for note in prep.notes:
        if req.verbose or note.startswith("not enforced"):
            err.write(f"{options.label}: {note}\n")
    if sys.platform == "darwin":  # sandbox-exec replaces this process: nothing runs after it
        if options.trace:
            err.write("awpolicy run: --trace on macOS: capture `" + " ".join(_macos_stream()) +
                      "` and read it with aw_policy.trace.parse_macos_log\n")
        try:
            argv = launcher.macos_argv(prep, req)
        except launcher.Refused as exc:
            err.write(exc.text)
            return launcher.EXIT_REFUSED
        _record(prep, req, options, tree, err, typed_cwd=cwd)
        err.flush()
        launcher.make_dirs(prep.redirect_dirs)
        os.execve(argv[0], argv, launcher.launch_env(prep))
    return _run_linux(prep, req, options, tree, run_cwd, err, typed_cwd=cwd)


def _macos_stream():
    from aw_policy.trace import MACOS_LOG_STREAM

    return MACOS_LOG_STREAM


def _default_worktree(options: AgentOptions, cwd: str) -> AgentOptions:
    """With --agent and no --worktree: the agent's worktree, when ``cwd`` is in a git repository."""
    if not options.agent or options.worktree:
        return options
    from aw_policy import agents, worktree

    try:
        worktree.find_repo(cwd)
    except worktree.WorktreeError:
        return options  # not in a repository: the agent works in cwd
    return replace(options, worktree=agents.get_agent(options.agent).worktree)


def _launch_flags(options: AgentOptions, req) -> Flags:
    """The session layer's flags: the user's, the agent's preset, and the program itself allowed to run."""
    flags = options.flags
    if options.agent:
        from aw_policy.agents import get_agent

        preset = get_agent(options.agent).preset
        if preset not in flags.profiles:
            flags = replace(flags, profiles=flags.profiles + (preset,))
    if req.argv and (options.cmd or options.agent or options.kind == "shell"):
        program = os.path.realpath(req.argv[0])
        flags = replace(flags, allow_exec=flags.allow_exec + (program,),
                        allow_fs_read=flags.allow_fs_read + (program,))
    return flags


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
    return tree, req.replace(params=dict(req.params) | tree.params()), str(tree.path)


def _with_session_layer(prep, flags: Flags, agent: str | None, cwd: str, environ, err):
    """The prepared launch with the session layer (flags, agent) added and the sandbox re-rendered from it."""
    if flags.empty and agent is None:
        return prep
    from aw_runtime import envfilter
    from aw_runtime.launcher import BAD_PARAMS, Refused

    from aw_policy import ir, session_layer

    try:
        policy = session_layer.apply_flags(prep.policy, flags, cwd)
    except FlagError as exc:
        raise Refused(BAD_PARAMS, str(exc), "see `awpolicy run --help` for the capability flags") from None
    if agent is not None:
        policy = _with_config_home(policy, agent)
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
    return prep.replace(policy=policy, plan_doc=plan_doc, env=env, reordered=True,
                        redirect_dirs=envfilter.redirect_dirs(settings, prep.params["WORKSPACE"]))


def _with_config_home(policy, agent: str):
    """The agent's config-home variable set, unless the policy sets it itself."""
    from aw_policy import ir, session_layer
    from aw_policy.agents import get_agent

    already = {name for name, _ in policy.env_set}
    settings = tuple(s for s in get_agent(agent).env_settings() if s[0] not in already)
    if not settings:
        return policy
    return session_layer.with_session(policy, ir.Policy(rules=(), env_set=settings))


def _record(prep, req, options: AgentOptions, tree, err, typed_cwd: str):
    """Record the session before launch (None outside a worktree). On macOS sandbox-exec then
    replaces this process, so the record keeps no exit status; its pid tells whether it still runs."""
    from aw_policy import sessions

    if tree is None:
        return None
    record = sessions.start(name=tree.name, repo=str(tree.repo), worktree=str(tree.path), branch=tree.branch,
                            bundle=os.path.abspath(req.bundle), params=prep.params,
                            flags=options.flags.to_json(), command=list(req.argv), kind=options.kind,
                            agent=options.agent, cmd=options.cmd, parent=options.parent, cwd=typed_cwd)
    err.write(f"{options.label}: session {record.id} in {tree.path}"
              f" ({'new worktree' if tree.created else 'reused'})\n")
    return record


def _run_linux(prep, req, options: AgentOptions, tree, cwd: str, err, typed_cwd: str) -> int:
    from aw_runtime import launcher

    from aw_policy import sessions, trace

    record = _record(prep, req, options, tree, err, typed_cwd)
    tracer = None
    if options.trace:
        prep = prep.replace(plan_doc=dict(prep.plan_doc or {}, audit=True))
        try:
            tracer = trace.LinuxTrace(trace.log_path(prep.params["WORKSPACE"]),
                                      session=record.id if record else None).start()
        except trace.TraceUnavailable as exc:
            err.write(f"{options.label}: --trace: {exc}; denials are not recorded\n")
    status = launcher.EXIT_REFUSED
    try:
        err.flush()
        status = launcher.run_linux(prep, req, cwd, err)
    except launcher.Refused as exc:
        err.write(exc.text)
    finally:
        if tracer is not None:
            denials = tracer.stop()
            err.write(f"{options.label}: {len(denials)} denial(s) recorded in {tracer.log}\n")
        if record is not None:
            sessions.finish(record, status)
    return status
