"""The `awpolicy` executable: a click-free fast path for the common `run`, else the full CLI.

`awpolicy run` starts on every agent launch, so its plain form
(``run BUNDLE [--param N=V]... [--best-effort] [--keep-branch|--discard-branch]
[--key PUBKEY] [-v] -- CMD...``) is parsed here with the standard library and
handed to the stdlib-only launcher, without importing click or the compiler.
Any other form (help, agent options, mistakes) goes through click, which owns
usage messages; both paths build the same ``RunRequest``.

Likewise a plain ``lint PATH...`` (no options: what CI and pre-commit run) skips
click and runs the lint command's body directly
(:func:`aw_policy.commands.lint_run.run_plain`), with the same output and exit codes.
"""

from __future__ import annotations

import os
import sys


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
            if not sep or not (name.isascii() and name.isidentifier()):  # [A-Za-z_][A-Za-z0-9_]*
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


def plain_lint_paths(args: list[str]) -> list[str] | None:
    """The PATHS of a plain `lint` command line (args after 'lint'), or None to let click parse it."""
    if not args or any(not arg or arg.startswith("-") for arg in args):
        return None  # options, '--', usage errors and help are click's
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return None  # a shell-completion request
    for arg in args:
        try:
            os.stat(arg)
        except OSError:
            continue  # click.Path() lets a missing path through; the lint reports it
        except ValueError:
            return None
        if not os.access(arg, os.R_OK):
            return None  # click.Path() refuses an unreadable path with a usage error
    return args


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


def run_and_exit(request) -> None:
    """Launch, then exit with the command's status without finalizing the interpreter.

    By then the launcher has removed everything it made. Its forks left every page of this
    process copy-on-write, so the usual teardown (a full collection, every module cleared)
    would take a page fault on each: about 8 ms, a sixth of a launch."""
    from aw_runtime.launcher import run_bundle

    status = run_bundle(request)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def byte_transparent_output() -> None:
    """Write file names given as undecodable bytes (argv's surrogate escapes) back as those bytes,
    as a UTF-8 terminal would show them, instead of failing on them: stdout and stderr encode
    with ``surrogateescape`` (Python does so already under the C and C.UTF-8 locales)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError, TypeError):
                pass  # a stream that cannot change its error handler keeps it


def main() -> None:
    byte_transparent_output()
    args = sys.argv[1:]
    request = parse_plain_run(args[1:]) if args[:1] == ["run"] else None
    if request is not None:
        guarded(lambda: run_and_exit(request))
    if args[:1] == ["lint"]:
        import atexit
        import gc

        # Start-up creates some 40,000 long-lived objects (modules, classes). The default thresholds
        # rescan them in a generation-1 pass every 10 collections, and the interpreter's exit
        # collects them all once more: together about 6% of a cold start, for no garbage.
        gc.set_threshold(700, 100, 10)
        atexit.register(gc.freeze)
        paths = plain_lint_paths(args[1:])
        if paths is not None:
            from aw_policy.commands.lint_run import run_plain

            guarded(lambda: run_plain(paths))
    from aw_policy.cli import main as cli_main

    guarded(lambda: cli_main(standalone_mode=True))
