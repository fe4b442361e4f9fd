"""The `awpolicy` executable: a click-free fast path for the common `run`, else the full CLI.

`awpolicy run` starts on every agent launch, so its plain form
(``run BUNDLE [--param N=V]... [--best-effort] [--keep-branch|--discard-branch]
[--key PUBKEY] [-v] -- CMD...``) is parsed here with the standard library and
handed to the stdlib-only launcher, without importing click or the compiler.
Any other form (help, agent options, mistakes) goes through click, which owns
usage messages; both paths build the same ``RunRequest``.
"""

from __future__ import annotations

import os
import re
import sys

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_plain_run(args: list[str]):
    """A RunRequest for a plain `run` command line (args after 'run'), or None to let click parse it."""
    if "--" not in args:
        return None
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    if not command:
        return None
    bundle, params, key = None, {}, None
    best_effort = verbose = False
    on_exit = None
    i = 0
    while i < len(options):
        arg = options[i]
        if arg in ("--param", "--key") and i + 1 < len(options):
            value, i = options[i + 1], i + 2
        elif arg.startswith(("--param=", "--key=")):
            arg, value = arg.split("=", 1)
            i += 1
        else:
            value = None
            i += 1
        if arg == "--param" and value is not None:
            name, sep, bound = value.partition("=")
            if not sep or not _NAME.fullmatch(name):
                return None
            params[name] = bound
        elif arg == "--key" and value is not None:
            key = value
        elif arg == "--best-effort":
            best_effort = True
        elif arg in ("-v", "--verbose"):
            verbose = True
        elif arg in ("--keep-branch", "--discard-branch"):
            on_exit = "keep" if arg == "--keep-branch" else "discard"
        elif not arg.startswith("-") and bundle is None:
            bundle = arg
        else:
            return None
    if bundle is None:
        return None
    from aw_runtime.launcher import RunRequest

    return RunRequest(bundle=bundle, argv=tuple(command), params=params, best_effort=best_effort,
                      branch_on_exit=on_exit, key=key, verbose=verbose)


def guarded(fn) -> None:
    """Run ``fn`` (which exits); a bug becomes one line on stderr and exit 2, never a traceback."""
    try:
        fn()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("AWPOLICY_DEBUG"):
            raise
        print(f"awpolicy: internal error: {type(exc).__name__}: {exc} "
              "(set AWPOLICY_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    args = sys.argv[1:]
    request = parse_plain_run(args[1:]) if args[:1] == ["run"] else None
    if request is not None:
        from aw_runtime.launcher import run_bundle

        guarded(lambda: sys.exit(run_bundle(request)))
    from aw_policy.cli import main as cli_main

    guarded(lambda: cli_main(standalone_mode=True))
