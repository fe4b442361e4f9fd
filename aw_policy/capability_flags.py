"""The capability flags as click options, shared by ``run``, ``explain`` and ``shell``.

Kept apart from :mod:`aw_policy.session_layer` (which turns the flags into IR rules)
so that defining the commands imports neither the IR nor the session layer: the
CLI module is loaded by every command, ``awpolicy lint`` included.
:meth:`aw_policy.session_layer.Flags.from_options` reads the keyword arguments.
"""

from __future__ import annotations


def capability_options(command):
    """Add the capability flags to a click command (keyword arguments read by Flags.from_options)."""
    import click

    path = click.Path(dir_okay=True, file_okay=True)
    options = [
        click.option("--allow-network/--block-network", "network", default=None,
                     help="Session rule: allow (or deny) every network connect and bind."),
        click.option("--allow-exec", "allow_exec", multiple=True, type=path, metavar="PATH",
                     help="Session rule: allow executing PATH (a file or a directory tree)."),
        click.option("--block-exec", "block_exec", multiple=True, type=path, metavar="PATH",
                     help="Session rule: deny executing PATH."),
        click.option("--allow-fs-read", "allow_fs_read", multiple=True, type=path, metavar="PATH",
                     help="Session rule: allow reading PATH and below."),
        click.option("--allow-fs-rw", "allow_fs_rw", multiple=True, type=path, metavar="PATH",
                     help="Session rule: allow reading and writing PATH and below."),
        click.option("--profile", "profiles", multiple=True, metavar="NAME[,NAME]",
                     help="Add presets in the session scope (see `awpolicy presets`)."),
        click.option("--debug", "debug", is_flag=True, default=False,
                     help="Session rule: debug mode, debuggers (ptrace, task ports) may attach to the "
                          "sandbox's own processes, never to outside ones."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
