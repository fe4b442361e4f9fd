"""The linter (issue 7): 1,000 policy files in one process, and the cold start of `awpolicy lint`.

Peers measured in the same run: ``yamllint`` (a linter users already run in
pre-commit) on one YAML file with as many bytes as the golden example's
sources, as a process, beside ``awpolicy lint`` on the golden example as a
process; and, in process, merging the same 1,000 files without any check
(the floor: what reading and compiling them costs). Two more floors of the cold
start are printed: the interpreter alone, and the interpreter importing the
libraries a lint of the golden example cannot do without (pydantic's BaseModel
for the AST, lark, PyYAML).

The cold starts are those of a copy installed the way users install it
(``pip install .`` into a fresh venv, see ``report.installed_awpolicy``), run
interleaved round by round with the peers. ``--dev`` measures this development
venv instead, after compiling the checkout's bytecode (``PYTHONDONTWRITEBYTECODE``,
set in this development environment, otherwise leaves it uncached).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import Figure, emit, installed_awpolicy, interleaved

REPO = Path(__file__).resolve().parent.parent
GOLDEN_SRC = REPO / "golden" / "agent-worktree" / "src"
FILES = 1000
COLD_RUNS = 9
#: What any lint of the golden example imports before reading a file: the AST's base class
#: (pydantic), the DSL parser (lark) and the YAML reader. Their import time is a floor no
#: change inside awpolicy can go below.
LIBRARIES = "from pydantic import BaseModel; import lark, yaml"


def policy_text(i: int) -> str:
    """A realistic project policy; each file differs so nothing is cached across files."""
    return f"""scope project
include "linux-base"
param DATA{i} = "/srv/data{i}"
fs {{
  allow read,write "${{WORKSPACE}}" "${{TMPDIR}}" "${{DATA{i}}}"
  allow read "${{GIT_COMMON_DIR}}" "/opt/tool{i}"
  deny write "${{WORKSPACE}}/.git/hooks"
  deny write glob "${{WORKSPACE}}/**/.env{i}"
}}
net {{ allow connect "localhost:{1024 + i}" "pypi.org:443" }}
"""


def command(*argv: str, cwd: Path | None = None):
    def run() -> None:
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return run


def compile_bytecode() -> None:
    """Write the package's .pyc files (py_compile writes them whatever PYTHONDONTWRITEBYTECODE says)."""
    import compileall

    for package in ("aw_policy", "runtime"):
        compileall.compile_dir(str(REPO / package), quiet=1)


def median_cpu_ms(fn, runs: int) -> float:
    """CPU time (user + system) of the child processes fn starts: less sensitive than wall time
    to other work on a shared machine."""
    import resource

    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        fn()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return statistics.median(times)


def main() -> int:
    from aw_policy.lint import lint_paths
    from aw_policy.merge import compile_sources

    yamllint = shutil.which("yamllint") or shutil.which("yamllint", path=str(Path(sys.executable).parent))
    if yamllint is None:
        print("yamllint not found (pip install yamllint): it is the peer of this benchmark", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folders = []
        for i in range(FILES):
            folder = base / "many" / f"p{i:04d}"
            folder.mkdir(parents=True)
            (folder / "project.awp").write_text(policy_text(i), encoding="utf-8")
            folders.append(folder / "project.awp")

        size = sum(p.stat().st_size for p in GOLDEN_SRC.iterdir())
        yaml_file = base / "same-size.yaml"
        lines, i = [], 0
        while sum(len(x) + 1 for x in lines) < size:
            lines.append(f"key{i}: [value{i}, other{i}]")
            i += 1
        yaml_file.write_text("---\n" + "\n".join(lines) + "\n", encoding="utf-8")

        # The cold starts first, while this process is small: after the 1,000-file lint it holds
        # hundreds of MB, and every process it starts would pay to copy its page tables.
        if "--dev" in sys.argv:  # this development venv (an editable install)
            awpolicy, python = shutil.which("awpolicy") or str(Path(sys.executable).with_name("awpolicy")), sys.executable
            compile_bytecode()
        else:
            awpolicy = installed_awpolicy(base)
            python = str(Path(awpolicy).with_name("python"))
        times = interleaved({
            "awpolicy": [awpolicy, "lint", "src"],
            "yamllint": [yamllint, "-d", "relaxed", str(yaml_file)],
            "interpreter": [python, "-c", "pass"],
            "libraries": [python, "-c", LIBRARIES],
        }, COLD_RUNS, cwd=GOLDEN_SRC.parent)
        awpolicy_ms, yamllint_ms, interpreter_ms, libraries_ms = (
            statistics.median(times[name]) * 1000 for name in ("awpolicy", "yamllint", "interpreter", "libraries"))
        awpolicy_cpu = median_cpu_ms(command(awpolicy, "lint", "src", cwd=GOLDEN_SRC.parent), runs=COLD_RUNS)
        yamllint_cpu = median_cpu_ms(command(yamllint, "-d", "relaxed", str(yaml_file)), runs=COLD_RUNS)

        start = time.perf_counter()
        result = lint_paths([str(base / "many")])
        lint_s = time.perf_counter() - start
        assert len(result.files) == FILES and not result.input_errors
        start = time.perf_counter()
        for path in folders:
            compile_sources([path], default_scope="project")
        merge_s = time.perf_counter() - start

    return emit("lint (issue 7)", [
        Figure(f"awpolicy lint: {FILES} policy files in one process", lint_s * 1000, "ms",
               peer=f"compile_sources of the same {FILES} files, no checks", peer_value=merge_s * 1000),
        Figure("awpolicy lint: per policy file", lint_s * 1000 / FILES, "ms",
               peer="compile_sources per file", peer_value=merge_s * 1000 / FILES),
        Figure(f"awpolicy lint golden/agent-worktree/src ({'dev venv' if '--dev' in sys.argv else 'installed'}"
               f" copy, process, median of {COLD_RUNS})", awpolicy_ms, "ms",
               target="< 250 ms", met=awpolicy_ms < 250,
               peer=f"yamllint on a {size:,}-byte YAML file (process)", peer_value=yamllint_ms),
        Figure(f"  the same, CPU time user+sys (median of {COLD_RUNS})", awpolicy_cpu, "ms",
               peer="yamllint, CPU time user+sys", peer_value=yamllint_cpu),
        Figure("  floor: python -c pass (process)", interpreter_ms, "ms"),
        Figure("  floor: python importing pydantic's BaseModel, lark and PyYAML, nothing else (process)",
               libraries_ms, "ms"),
    ])


if __name__ == "__main__":
    sys.exit(main())
