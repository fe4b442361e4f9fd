"""`awpolicy attach SESSION|latest [-- CMD]`: re-open a recorded session in its sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aw_policy.agent_run import agent_choice_option
from aw_policy.cli import EXIT_INPUT


def _fail(message: str, hint: str | None = None):
    click.echo(f"awpolicy attach: error: {message}", err=True)
    if hint:
        click.echo(f"  = hint: {hint}", err=True)
    sys.exit(EXIT_INPUT)


def choose(key: str):
    """The one session ``key`` names: an id, an id prefix, a worktree name (its latest session) or ``latest``."""
    from aw_policy import sessions

    matches = sessions.find(key)
    if not matches:
        _fail(f"no session matches {key!r}", "`awpolicy sessions list` shows the recorded sessions")
    if len({s.worktree for s in matches}) > 1:
        _fail(f"{key!r} matches sessions in {len({s.worktree for s in matches})} worktrees: "
              + ", ".join(s.id for s in matches[-3:]), "give more of the session id")
    return matches[-1]


@click.command("attach")
@click.argument("key", metavar="SESSION|latest")
@click.option("--trace", is_flag=True,
              help="Record every denial in WORKSPACE/.awpolicy/logs/denials.jsonl (Linux: kernel audit).")
@agent_choice_option
@click.option("--cmd", "cmd", metavar="PATH", help="The program to run; the words after -- are its arguments.")
@click.option("--best-effort", is_flag=True, help="Run even when some rules cannot be enforced here.")
@click.option("-v", "--verbose", is_flag=True, help="Say what the runtime decided.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD [ARGS]...]")
def attach_cmd(key: str, trace: bool, agent: str | None, cmd: str | None, best_effort: bool, verbose: bool,
               command: tuple[str, ...]) -> None:
    """Run CMD, or a shell, in a recorded session: its worktree, bundle, parameters, flags and agent.

    SESSION is an id, an id prefix, a worktree name (its latest session) or
    `latest`. The bundle must be the one the session recorded: a changed or
    tampered bundle is refused (exit 2). The new session is recorded with the
    original as its parent. With --agent (the session's agent) its command
    runs; with --cmd PATH that program.
    """

    from aw_runtime.launcher import RunRequest

    from aw_policy import sessions
    from aw_policy.agent_run import AgentOptions, run_agent
    from aw_policy.session_layer import Flags

    record = choose(key)
    where = f"session {record.id}"
    if agent and record.agent and agent != record.agent:
        _fail(f"{where} runs agent {record.agent}, not {agent}", f"use --agent {record.agent}, or no --agent")
    if not Path(record.worktree).is_dir():
        _fail(f"{where}: its worktree {record.worktree} no longer exists",
              f"start a new session with `awpolicy shell --worktree {record.name}`")
    if not record.bundle_sha256 or sessions.bundle_hash(record.bundle) != record.bundle_sha256:
        _fail(f"{where}: its bundle {record.bundle} is missing or changed since the session was recorded "
              "(manifest hash differs); attaching would apply another policy",
              f"start a new session with `awpolicy shell --bundle DIR --worktree {record.name}`")
    try:
        flags = Flags(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in record.flags.items()})
    except TypeError as exc:
        _fail(f"{where}: its flags cannot be read ({exc})", "the record was edited or is damaged")
    runs_program = bool(command or agent or cmd)
    options = AgentOptions(flags, worktree=record.name, trace=trace, agent=record.agent or agent, cmd=cmd,
                           kind="run" if runs_program else "shell", parent=record.id,
                           agent_program=bool(agent))
    params = {k: v for k, v in record.params.items() if k not in ("WORKSPACE", "GIT_COMMON_DIR")}
    request = RunRequest(bundle=record.bundle, argv=tuple(command), params=params, best_effort=best_effort,
                         verbose=verbose)
    cwd = record.cwd if record.cwd and Path(record.cwd).is_dir() else record.repo
    sys.exit(run_agent(request, options, cwd=cwd))
