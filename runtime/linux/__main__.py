"""python -m aw_runtime.linux [--abi N] PLAN.json|- -- CMD [ARG...]

Runs CMD under a LinuxPlan given as JSON (the form of plan_to_dict). Exits
with the command's status (128+N when killed by signal N); setup errors are
printed as one line and exit 126 (127: command not found).
"""

import sys


def main(args=None) -> int:
    args = list(sys.argv[1:] if args is None else args)
    abi = None
    if args[:1] == ["--abi"] and len(args) > 1:
        abi = int(args[1])
        args = args[2:]
    if "--" not in args or args.index("--") != 1 or len(args) < 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    import json

    from . import LaunchError, PlanError, Unenforceable, launch, plan_from_dict
    src = args[0]
    try:
        if src == "-":
            text = sys.stdin.read()
        else:
            with open(src, encoding="utf-8") as f:
                text = f.read()
        plan = plan_from_dict(json.loads(text))
        return launch(plan, args[2:], abi=abi)
    except Unenforceable as e:
        for r in e.reasons:
            print(f"awpolicy: cannot enforce: {r}", file=sys.stderr)
        return 126
    except LaunchError as e:
        print(f"awpolicy: {e}", file=sys.stderr)
        return e.exit_code
    except (PlanError, OSError, ValueError) as e:
        print(f"awpolicy: error: {e}", file=sys.stderr)
        return 126


if __name__ == "__main__":
    sys.exit(main())
