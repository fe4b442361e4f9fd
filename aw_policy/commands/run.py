"""`awpolicy run`: apply a compiled bundle and run a command under it.

The work is done by ``aw_runtime.launcher`` (stdlib only); this module only
parses the command line.
"""

from __future__ import annotations

import sys

import click

from aw_policy.agent_run import agent_options
from aw_policy.cli import param_option


@click.command("run")
@click.argument("bundle", type=click.Path())
@param_option
@click.option("--best-effort", is_flag=True,
              help="Run even when some rules cannot be enforced here; each one is named on stderr first.")
@click.option("--keep-branch/--discard-branch", "keep_branch", default=None,
              help="Keep or discard the copy-on-write branch's changes on exit (default: the policy's on-exit).")
@click.option("--key", type=click.Path(dir_okay=False), metavar="PUBKEY",
              help="Require the bundle to be signed by this ed25519 PEM public key.")
@click.option("-v", "--verbose", is_flag=True,
              help="Say what the runtime decided: re-rendering, withheld variables.")
@agent_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
def run_cmd(bundle: str, params: dict[str, str], best_effort: bool, keep_branch: bool | None, key: str | None,
            verbose: bool, command: tuple[str, ...], **agent) -> None:
    """Run CMD under BUNDLE: verify it, bind parameters, sandbox, exec.

    Exits with CMD's status (128+N when a signal N killed it), or 2 when the
    bundle is missing, tampered with or cannot be enforced (CMD never starts).
    With --agent NAME or --cmd PATH, that program runs and the words after --
    are its arguments.
    """
    from aw_runtime.launcher import RunRequest, run_bundle

    on_exit = None if keep_branch is None else ("keep" if keep_branch else "discard")
    request = RunRequest(bundle=bundle, argv=tuple(command), params=params, best_effort=best_effort,
                         branch_on_exit=on_exit, key=key, verbose=verbose)
    from aw_policy.agent_run import AgentOptions, run_agent

    options = AgentOptions.from_options(agent)  # capability flags, --worktree, --trace
    sys.exit(run_agent(request, options) if options.used else run_bundle(request))
