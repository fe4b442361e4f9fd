"""Launch overhead of `awpolicy run BUNDLE -- /bin/true`, beside bare /bin/true and bwrap, in one run.

    python benchmarks/bench_launch.py [--rounds N] [--suite TEST...] [--suite-rounds M] [--no-suite] [--json]

Reports through benchmarks/report.py (a table, or one JSON document with
``--json``; the per-step breakdown and the minimums are printed only without
``--json``). Measured in the same run with the variants interleaved round by
round (so a busy machine slows every variant alike), median and minimum:

1. launch of /bin/true: bare; ``python -c pass`` (the interpreter alone);
   ``bwrap`` (Debian's bubblewrap, installed here if absent) with PID, IPC and
   network namespaces, ``/`` read-only, a fresh /proc, /dev, a tmpfs /tmp and
   the workspace bound read-write; ``awpolicy run`` with the golden bundle
   (overlay branch, masks, Landlock, seccomp, loopback network namespace); and
   ``awpolicy run`` with a plain policy (no branch); and the runtime alone
   (``run_bundle`` from ``python -c``, no CLI framework) on the plain policy;
2. where the time of one ``awpolicy run`` goes, golden and plain bundle side
   by side: each measured in fresh processes that do what ``aw_policy.entry``
   does (import, ``run_bundle(trace=...)``, ``os._exit``), so the imports a
   step triggers and its cold caches count where they happen: the imports,
   then the runtime's own trace points (verify, bind, order recheck,
   environment, plan binding, namespaces and mounts, Landlock, capabilities,
   seccomp, exec and exit), and what is left of the process's wall time
   (interpreter start and exit);
3. a real workload: unit tests of this repository (default
   ``tests/foundation/test_decide.py`` and ``test_language.py``, about 20 s)
   run bare and under ``awpolicy run`` (a plain policy: the repository and the
   interpreter readable, TMPDIR writable). The sandbox costs one launch per
   run (a fixed cost: a suite of a few seconds shows it as percents) plus
   whatever Landlock, seccomp and the namespaces add per system call.

``awpolicy`` is a copy installed the way users install it (``pip install .``
into a fresh venv, see ``report.installed_awpolicy``) and started through its
console script; ``--dev`` measures this development venv's instead.

Targets (issue 6): launch within 3x of bwrap; the workload within 2%.
Exit status 1 when a figure misses its target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import Figure, emit, installed_awpolicy, interleaved

REPO = Path(__file__).resolve().parent.parent
GOLDEN_SOURCES = [REPO / "golden" / "agent-worktree" / "src" / n for n in ("org.awp", "project.awp", "user.awp.yaml")]
PY = sys.executable  # runs the workload's pytest (this venv has the test extras)
#: The copy of awpolicy measured, and its interpreter: set by main() (installed, or --dev).
AWPOLICY = str(Path(sys.executable).with_name("awpolicy"))
RUN_PY = sys.executable


def ensure_bwrap() -> str | None:
    found = shutil.which("bwrap")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing bubblewrap (apt-get install -y bubblewrap) ...", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "install", "-y", "bubblewrap"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        found = shutil.which("bwrap")
    return found


def compile_bundle(out: Path, *sources: Path) -> Path:
    subprocess.run([PY, "-m", "aw_policy", "compile", *map(str, sources), "-o", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def plain_policy(path: Path) -> Path:
    """linux-base, the workspace read-only, TMPDIR read-write, this interpreter and this checkout readable."""
    interpreter = os.path.realpath(sys.base_prefix)
    path.write_text(
        "scope project\n"
        'include "linux-base"\n'
        "fs {\n"
        '  allow read "${WORKSPACE}"\n'
        '  allow read,write "${TMPDIR}"\n'
        f'  allow read,exec "{interpreter}"\n'
        f'  allow read "{REPO}"\n'
        "}\n"
        'net { allow connect,bind "localhost:*" }\n'
        "signal { allow same-sandbox }\n", encoding="utf-8")
    return path


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


BWRAP = "bwrap (pid,ipc,net ns; ro /; /proc; /dev; tmpfs; ws rw)"


def launch_table(bwrap, golden, plain, ws, env, rounds, verbose: bool) -> list[Figure]:
    run = [AWPOLICY, "run"]
    variants = {
        "bare /bin/true": ["/bin/true"],
        "python -c pass": [RUN_PY, "-c", "pass"],
    }
    if bwrap:
        variants[BWRAP] = [
            bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--bind", str(ws), str(ws), "--chdir", str(ws), "/bin/true"]
    variants["awpolicy run, golden bundle (overlay branch, masks)"] = [
        *run, "--best-effort", "--discard-branch", str(golden), "--", "/bin/true"]
    variants["awpolicy run, plain policy (no branch)"] = [*run, str(plain), "--", "/bin/true"]
    # the same launch from a program that calls run_bundle and exits normally (so, unlike aw_policy.entry,
    # it pays for the interpreter's teardown)
    variants["runtime only (run_bundle, no CLI), plain policy"] = [
        RUN_PY, "-c", ("import sys; from aw_runtime.launcher import RunRequest, run_bundle; "
                   f"sys.exit(run_bundle(RunRequest(bundle={str(plain)!r}, argv=('/bin/true',))))")]
    times = interleaved(variants, rounds, ws, env)
    medians = {name: statistics.median(xs) for name, xs in times.items()}
    bw = medians.get(BWRAP)
    if verbose:
        print(f"\n1. launch of /bin/true, {rounds} interleaved rounds (median / min)")
        for name, xs in times.items():
            print(f"  {name:58} {ms(medians[name])} / {ms(min(xs))}")
        if bw:
            for name, value in medians.items():
                if name.startswith(("awpolicy", "runtime")):
                    print(f"  {name:58} {value / bw:6.1f}x bwrap (target <= 3x)")
    figures = []
    for name, value in medians.items():
        label = f"launch: {name}"
        if name.startswith("awpolicy"):  # issue 6: `awpolicy run` within 3x of bwrap
            figures.append(Figure(label, value * 1000, "ms", "<= 3x peer", None if bw is None else value <= 3 * bw,
                                  "bwrap /bin/true" if bw else "bwrap /bin/true: bwrap not installed",
                                  None if bw is None else bw * 1000))
        elif name.startswith("runtime") and bw:
            figures.append(Figure(label, value * 1000, "ms", peer="bwrap /bin/true", peer_value=bw * 1000))
        else:
            figures.append(Figure(label, value * 1000, "ms"))
    return figures


#: One `awpolicy run` in a fresh interpreter, as aw_policy.entry does it (imports, run_bundle, then
#: os._exit), timed at each of the runtime's trace points; prints them as JSON before exiting.
ONE_RUN = r"""
import time
t0 = time.monotonic_ns()
import io, json, os, sys
import aw_policy.entry
from aw_runtime.launcher import RunRequest, run_bundle
t1 = time.monotonic_ns()
trace = []
req = RunRequest(bundle=sys.argv[1], argv=("/bin/true",), best_effort=True, branch_on_exit="discard")
status = run_bundle(req, err=io.StringIO(), trace=trace)
t2 = time.monotonic_ns()
points = [("imports (aw_policy.entry, aw_runtime.launcher)", t1)]
points += [(f"{who}: {step}", ns) for who, step, ns in sorted(trace, key=lambda t: t[2])]
points.append(("launcher: returned", t2))
print(json.dumps({"status": status, "start": t0, "points": points}), flush=True)
os._exit(status)
"""


def one_run(bundle: Path, ws: Path, env: dict) -> tuple[float, list[tuple[str, float]]]:
    """Wall time of one fresh `awpolicy run`-like process and its steps (seconds since the previous one)."""
    start = time.perf_counter()
    result = subprocess.run([RUN_PY, "-c", ONE_RUN, str(bundle)], cwd=ws, env=env, capture_output=True, text=True,
                            check=False)
    wall = time.perf_counter() - start
    doc = json.loads(result.stdout) if result.returncode == 0 else None
    if doc is None or doc["status"] != 0:
        raise SystemExit(f"one run of {bundle} failed ({result.returncode}): {result.stderr[-400:]}")
    steps, previous = [], doc["start"]
    for name, ns in doc["points"]:
        steps.append((name, (ns - previous) / 1e9))
        previous = ns
    return wall, steps


def breakdown(bundles: dict[str, Path], ws: Path, env: dict, rounds: int, verbose: bool) -> list[Figure]:
    """Where one `awpolicy run` goes, per bundle: each step measured in fresh processes (so the
    imports a step triggers and its cold caches count, as in a real launch), medians of ``rounds``."""
    py = statistics.median(interleaved({"python": [RUN_PY, "-c", "pass"]}, rounds, ws, env)["python"])
    walls: dict[str, list[float]] = {name: [] for name in bundles}
    rests: dict[str, list[float]] = {name: [] for name in bundles}  # wall time minus the steps, per run
    runs: dict[str, list[float]] = {name: [] for name in bundles}  # run_bundle's steps, summed per run
    steps: dict[str, dict[str, list[float]]] = {name: {} for name in bundles}
    order: list[str] = []
    for name, bundle in bundles.items():  # warm-up: page cache, .pyc files
        one_run(bundle, ws, env)
    for _ in range(rounds):
        for name, bundle in bundles.items():
            wall, run_steps = one_run(bundle, ws, env)
            walls[name].append(wall)
            rests[name].append(wall - sum(seconds for _, seconds in run_steps))
            runs[name].append(sum(seconds for _, seconds in run_steps[1:]))
            for step, seconds in run_steps:
                if step not in order:
                    order.append(step)
                steps[name].setdefault(step, []).append(seconds)
    med = {name: {step: statistics.median(xs) for step, xs in steps[name].items()} for name in bundles}

    def median_of(values: dict[str, list[float]]) -> dict[str, float]:
        return {name: statistics.median(xs) for name, xs in values.items()}

    rest, run, wall = median_of(rests), median_of(runs), median_of(walls)
    if verbose:
        print(f"\n2. where one `awpolicy run` goes, fresh processes (medians of {rounds}); ms")
        print(f"  {'':58} " + " ".join(f"{name:>9}" for name in bundles))
        rows = [("interpreter start and exit (wall time minus the steps)", rest),
                ("  (`python -c pass`, for comparison)", {name: py for name in bundles})]
        rows += [(f"  ... -> {step}", {name: med[name].get(step) for name in bundles}) for step in order]
        rows += [("run_bundle (the steps after the imports, summed)", run), ("wall time of the process", wall)]
        for label, values in rows:
            print(f"  {label:58} " + " ".join("        -" if values[n] is None else f"{values[n] * 1000:9.1f}"
                                                for n in bundles))
    figures = [Figure(f"one awpolicy run: interpreter start (python -c pass, median of {rounds})", py * 1000, "ms")]
    for name in bundles:
        figures += [
            Figure(f"one awpolicy run, {name}: imports before run_bundle", med[name][order[0]] * 1000, "ms"),
            Figure(f"one awpolicy run, {name}: run_bundle, sum of steps", run[name] * 1000, "ms"),
            Figure(f"one awpolicy run, {name}: interpreter start and exit", rest[name] * 1000, "ms"),
        ]
    return figures


def pytest_summary(text: str) -> str:
    lines = [l for l in text.splitlines() if re.search(r"\d+ (passed|failed|error)", l)]
    return re.sub(r" in [0-9.]+s.*", "", lines[-1].strip("= ")) if lines else "no summary"


def workload(plain: Path, suite: list[str], rounds: int, env: dict, verbose: bool) -> list[Figure]:
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    bare = [PY, "-m", "pytest", "-q", "-p", "no:randomly", *suite]
    sandboxed = [AWPOLICY, "run", "--param", f"WORKSPACE={REPO}", str(plain), "--", *bare]
    summaries = {}
    for name, argv in (("bare", bare), ("sandboxed", sandboxed)):
        result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        summaries[name] = pytest_summary(result.stdout)
    times: dict[str, list[float]] = {"bare": [], "sandboxed": []}
    for _ in range(rounds):
        for name, argv in (("bare", bare), ("sandboxed", sandboxed)):
            start = time.perf_counter()
            subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[name].append(time.perf_counter() - start)
    same = summaries["bare"] == summaries["sandboxed"]
    bare_m, sand_m = statistics.median(times["bare"]), statistics.median(times["sandboxed"])
    bare_min, sand_min = min(times["bare"]), min(times["sandboxed"])
    overhead_m = 100 * (sand_m - bare_m) / bare_m
    overhead_min = 100 * (sand_min - bare_min) / bare_min
    if verbose:
        print(f"\n3. real workload: pytest {' '.join(suite)}, {rounds} interleaved rounds (median / min)")
        for name, xs in times.items():
            print(f"  {name:58} {statistics.median(xs):7.2f} s / {min(xs):7.2f} s   ({summaries[name]})")
        print(f"  {'overhead (medians)':58} {overhead_m:+6.1f} %  (target < 2 %)")
        print(f"  {'overhead (minimums)':58} {overhead_min:+6.1f} %")
        print(f"  machine load now {os.getloadavg()[0]:.1f} (figures from a loaded machine are noise-bound)")
    if not same:
        print(f"WARNING: bare ({summaries['bare']}) and sandboxed ({summaries['sandboxed']}) runs did not have "
              "the same results; the comparison is not like for like", file=sys.stderr)
    caveat = "" if same else " (RESULTS DIFFER)"
    return [
        Figure(f"pytest suite under awpolicy run{caveat} (median of {rounds})", sand_m, "s",
               peer=f"the same suite bare ({summaries['bare']})", peer_value=bare_m),
        Figure(f"real-workload overhead, medians{caveat}", overhead_m, "%", "< 2 %", overhead_m < 2),
        Figure(f"real-workload overhead, minimums{caveat}", overhead_min, "%"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--suite", nargs="+",
                    default=["tests/foundation/test_decide.py", "tests/foundation/test_language.py"])
    ap.add_argument("--suite-rounds", type=int, default=3)
    ap.add_argument("--no-suite", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON document (see benchmarks/report.py)")
    ap.add_argument("--dev", action="store_true",
                    help="measure this development venv's awpolicy (an editable install), not an installed copy")
    args = ap.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("this benchmark measures the Linux runtime")

    bwrap = ensure_bwrap()
    root = Path(tempfile.mkdtemp(prefix="awpolicy-bench-"))
    try:
        global AWPOLICY, RUN_PY
        if not args.dev:
            AWPOLICY = installed_awpolicy(root)
            RUN_PY = str(Path(AWPOLICY).with_name("python"))
        elif not Path(AWPOLICY).exists():
            AWPOLICY = shutil.which("awpolicy") or AWPOLICY
        home, ws, tmp = root / "home", root / "ws", root / "tmp"
        for d in (home, ws, tmp):
            d.mkdir()
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
               "LANG": "C.UTF-8"}
        golden = compile_bundle(root / "golden", *GOLDEN_SOURCES)
        plain = compile_bundle(root / "plain", plain_policy(root / "plain.awp"))
        verbose = not args.json
        if verbose:
            print(f"machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; kernel {os.uname().release}; "
                  f"python {sys.version.split()[0]}; bwrap {'absent' if not bwrap else bwrap}; "
                  f"awpolicy {AWPOLICY}")
        figures = launch_table(bwrap, golden, plain, ws, env, args.rounds, verbose)
        figures += breakdown({"golden": golden, "plain": plain}, ws, env, max(5, args.rounds // 2), verbose)
        if not args.no_suite:
            figures += workload(plain, args.suite, args.suite_rounds, env, verbose)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if verbose:
        print()
    return emit(f"launch overhead of awpolicy run (issue 6); launches of /bin/true, medians of {args.rounds} "
                "interleaved rounds", figures)


if __name__ == "__main__":
    sys.exit(main())
