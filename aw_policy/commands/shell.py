"""`awpolicy shell`: an interactive shell under the same policy, flags and session record as `run`."""

from __future__ import annotations

import os
import sys

import click

from aw_policy.agent_run import agent_options
from aw_policy.bundle_choice import HELP as BUNDLE_HELP
from aw_policy.cli import param_option


def launch_options(command):
    """--bundle, --param, --best-effort, branch, --key and -v: how a launch is set up."""
    options = [
        click.option("--bundle", type=click.Path(file_okay=False), metavar="DIR", help=BUNDLE_HELP),
        param_option,
        click.option("--best-effort", is_flag=True,
                     help="Run even when some rules cannot be enforced here; each one is named on stderr first."),
        click.option("--keep-branch/--discard-branch", "keep_branch", default=None,
                     help="Keep or discard the copy-on-write branch's changes on exit (default: the policy's)."),
        click.option("--key", type=click.Path(dir_okay=False), metavar="PUBKEY",
                     help="Require the bundle to be signed by this ed25519 PEM public key."),
        click.option("-v", "--verbose", is_flag=True, help="Say what the runtime decided."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def launch(kind: str, options: dict, words: tuple[str, ...], *, parent: str | None = None) -> int:
    """Resolve the bundle, then run through ``run_agent`` as a session of ``kind``; the exit status."""
    from aw_runtime.launcher import EXIT_REFUSED, RunRequest

    from aw_policy.agent_run import AgentOptions, run_agent
    from aw_policy.bundle_choice import BundleChoiceError, resolve_bundle

    agent = AgentOptions.from_options(options, kind=kind)
    try:
        bundle = resolve_bundle(options.get("bundle"), cwd=os.getcwd(), environ=os.environ, agent=agent.agent)
    except BundleChoiceError as exc:
        click.echo(f"{agent.label}: error: {exc}", err=True)
        return EXIT_REFUSED
    keep = options.get("keep_branch")
    request = RunRequest(bundle=bundle, argv=tuple(words), params=options.get("params") or {},
                         best_effort=bool(options.get("best_effort")), key=options.get("key"),
                         branch_on_exit=None if keep is None else ("keep" if keep else "discard"),
                         verbose=bool(options.get("verbose")))
    if parent is not None:
        from dataclasses import replace

        agent = replace(agent, parent=parent)
    return run_agent(request, agent)


@click.command("shell")
@launch_options
@agent_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[-- SHELL ARGS]...")
def shell_cmd(args: tuple[str, ...], **options) -> None:
    """An interactive shell under the policy `awpolicy run` would apply.

    The shell is your login shell (the password database's, else $SHELL, else
    /bin/sh), or --cmd PATH; SHELL ARGS are passed to it. The flags, the
    environment redirection and the session record (kind "shell") are run's.
    With --agent the agent's preset and config home apply and the worktree
    defaults to ai-NAME; the shell runs, not the agent.
    """
    sys.exit(launch("shell", options, args))
