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
