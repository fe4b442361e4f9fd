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


def cold(fn):
    """Run fn as a fresh `awpolicy compile` process would: with the parse and binding caches empty."""
    from aw_policy import ir, paths
    from aw_policy.lang import load

    def run():
        load.parse_text.cache_clear()
        ir._bind.cache_clear()
        paths._bind_path.cache_clear()
        paths._compile.cache_clear()
        return fn()

    return run


def main() -> int:
    from aw_policy import bundle
    from aw_policy.lang.load import read_source
    from aw_policy.merge import compile_sources

    def foundation_only(policy):
        """The bundle as the foundation defines it: manifest + merged IR, no platform backend."""
        saved, bundle.BACKEND_MODULES = bundle.BACKEND_MODULES, ()
        try:
            return bundle.build(policy, {})
        finally:
            bundle.BACKEND_MODULES = saved

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.awp"
        src.write_text(generate(RULES))
        read_source(src, "big.awp")  # warm the grammar cache once, as a long-lived process would
        parse = median_ms(cold(lambda: read_source(src, "big.awp")))
        core = median_ms(cold(lambda: foundation_only(compile_sources([src]).policy)))
        total = median_ms(cold(lambda: bundle.build(compile_sources([src]).policy, {})))
        files = bundle.build(compile_sources([src]).policy, {})
        floor = median_ms(lambda: json.loads(files["policy.json"]))
    peer = f"json.loads of its policy.json ({len(files['policy.json']):,} bytes)"
    return emit("parse + merge + compile (issue 3)", [
        Figure("parse 10,000-rule policy (DSL, Lark LALR)", parse, "ms"),
        Figure("parse + merge + IR bundle, 10,000 rules (foundation)", core, "ms", "< 1000 ms", core < 1000,
               peer, floor),
        Figure("parse + merge + bundle with all 4 platform backends", total, "ms", peer=peer, peer_value=floor),
    ])


if __name__ == "__main__":
    sys.exit(main())
