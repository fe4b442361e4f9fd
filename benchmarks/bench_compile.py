"""Parse + merge + compile of a generated 10,000-rule policy (target: under 1 s).

Prints the median of several runs of each stage, measured in this process,
beside Python's own json.loads of the resulting policy.json (the floor for
reading an artifact of that size).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from report import Figure, emit, median_ms

RULES = 10_000


def generate(n: int) -> str:
    lines = ["scope project", "default deny", "fs {"]
    effects = ["allow", "deny", "prompt"]
    for i in range(n):
        kind = ("", "literal ", "glob ")[i % 3]
        path = f"${{WORKSPACE}}/pkg{i % 97}/mod{i}" + ("/**/*.py" if kind == "glob " else "")
        lines.append(f'  {effects[i % 3]} {("read", "write", "exec")[i % 3]} {kind}"{path}"')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    from aw_policy.bundle import build
    from aw_policy.lang.load import read_source
    from aw_policy.merge import compile_sources

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.awp"
        src.write_text(generate(RULES))
        read_source(src, "big.awp")  # warm the grammar cache once, as a long-lived process would
        parse = median_ms(lambda: read_source(src, "big.awp"))
        total = median_ms(lambda: build(compile_sources([src]).policy, {}))
        files = build(compile_sources([src]).policy, {})
        floor = median_ms(lambda: json.loads(files["policy.json"]))
    return emit("parse + merge + compile (issue 3)", [
        Figure("parse 10,000-rule policy (DSL, Lark LALR)", parse, "ms"),
        Figure("parse + merge + compile 10,000 rules, all backends", total, "ms", "< 1000 ms", total < 1000,
               f"json.loads of its policy.json ({len(files['policy.json']):,} bytes)", floor),
    ])

if __name__ == "__main__":
    sys.exit(main())
