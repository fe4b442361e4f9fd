"""One way for every benchmark to print its figures, for people and for run_all.

A benchmark builds a list of :class:`Figure` and calls :func:`emit`. Without
``--json`` it prints an aligned table; with ``--json`` (what ``run_all`` passes)
it prints one JSON document, so the report collects figures without parsing
prose. A figure names its target and the peer measured in the same run, so a
number never stands without its comparison.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "< 1000", "<= 3x peer"; empty when the figure is informative only
    met: bool | None = None  # None when there is no target
    peer: str = ""  # what the peer is, e.g. "bwrap --unshare-all /bin/true"
    peer_value: float | None = None


def median_ms(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def timed(argv, cwd=None, env=None) -> float:
    """Wall time in seconds of one process; a failing one stops the benchmark with its stderr."""
    import subprocess

    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv[:6]}... failed ({result.returncode}): {result.stderr.decode()[-400:]}")
    return elapsed


def interleaved(variants: dict, rounds: int, cwd=None, env=None) -> dict[str, list[float]]:
    """Run each variant (name -> argv) once per round, round after round, after one warm-up run
    each (page cache, .pyc files): a busy moment of the machine slows every variant alike."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for argv in variants.values():
        timed(argv, cwd, env)
    for _ in range(rounds):
        for name, argv in variants.items():
            times[name].append(timed(argv, cwd, env))
    return times


def installed_awpolicy(directory) -> str:
    """``awpolicy`` as users install it: ``pip install REPO`` (not editable, bytecode compiled by
    pip) into a fresh venv under ``directory``; returns the executable's path.

    A checkout installed with ``pip install -e`` (this development venv, CI) adds an import
    hook to every interpreter start (``pathlib``, ``importlib.util``: about 10 ms here) that
    an installed copy does not pay, so cold starts are measured on an installed copy."""
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    venv = Path(directory) / "installed-venv"
    print(f"installing awpolicy into {venv} (pip install {repo}) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(repo)], capture_output=True, text=True,
                         check=False, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if pip.returncode != 0:
        raise SystemExit(f"pip install {repo} failed:\n{pip.stdout}{pip.stderr}")
    return str(venv / "bin" / "awpolicy")


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}"


def emit(title: str, figures: list[Figure], argv: list[str] | None = None) -> int:
    """Print the figures; return 1 when a figure misses its target, else 0."""
    argv = sys.argv[1:] if argv is None else argv
    failed = any(f.met is False for f in figures)
    if "--json" in argv:
        print(json.dumps({"title": title, "machine": machine(), "figures": [asdict(f) for f in figures]},
                         indent=2, sort_keys=True))
        return int(failed)
    print(title)
    width = max(len(f.name) for f in figures) if figures else 10
    for f in figures:
        status = "" if f.met is None else ("  ok" if f.met else "  MISSED")
        target = f"  target {f.target}" if f.target else ""
        print(f"  {f.name:<{width}}  {f.value:>10.2f} {f.unit:<6}{target}{status}")
        if f.peer:
            peer = "n/a" if f.peer_value is None else f"{f.peer_value:.2f} {f.unit}"
            print(f"  {'  peer: ' + f.peer:<{width}}  {peer:>17}")
    return int(failed)
