"""SBPL reading and deciding: parse a generated 5,000-line profile, evaluate requests.

Figures, each beside a peer measured in the same run:

* parse of a 5,000-line vendor-like profile (``tests/sbpl/vendor_like.py``)
  with our Lark grammar, beside ``json.loads`` of the same s-expression tree
  written as JSON (about the same size in bytes);
* load (running the profile's Scheme) of that profile;
* evaluator requests per second on the loaded profile and on the small
  ``constructs.sb`` fixture, beside awpolicy's own ``ir.decide`` on the golden
  example's policy.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from report import Figure, emit, median_ms

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
LINES = 5_000
REQUESTS = 2_000


def as_json(node):
    """The parsed tree as plain JSON values: lists, strings, numbers."""
    from aw_policy.sbpl.parser import Quote, SList, Symbol

    if isinstance(node, SList):
        return [as_json(item) for item in node.items]
    if isinstance(node, Quote):
        return ["quote", as_json(node.datum)]
    if isinstance(node, Symbol):
        return node.name
    return node.value


def profile_of(lines: int) -> str:
    from sbpl.vendor_like import vendor_like_profile

    sections = 1
    while vendor_like_profile(sections).count("\n") < lines:
        sections += 1
    return vendor_like_profile(sections)


def sbpl_requests(n: int):
    from aw_policy.sbpl.evaluator import Request

    shapes = [
        lambda i: Request("file-read-data", path=f"/Users/agent/Library/Caches/com.example.svc{i % 150}/f{i}"),
        lambda i: Request("file-write-data", path=f"/Users/agent/work/out{i % 150}/src/{i}.c",
                          vnode_type="REGULAR-FILE"),
        lambda i: Request("file-read-metadata", path=f"/nowhere/{i}"),
        lambda i: Request("network-outbound", host="localhost", port=20000 + i % 300),
        lambda i: Request("mach-lookup", name=f"com.example.svc{i % 150}.helper"),
        lambda i: Request("signal", target="children"),
    ]
    return [shapes[i % len(shapes)](i) for i in range(n)]


def ir_requests(n: int):
    from aw_policy.ir import normalize_request

    shapes = [
        ("read", "/home/agent/workspace/src/f{}.py"), ("write", "/home/agent/workspace/out/{}.o"),
        ("read", "/home/agent/.ssh/id_{}"), ("exec", "/usr/bin/tool{}"), ("connect", "localhost:{}"),
    ]
    out = []
    for i in range(n):
        op, obj = shapes[i % len(shapes)]
        out.append(normalize_request(op, obj.format(8000 + i % 100 if op == "connect" else i)))
    return out


def main() -> int:
    from sbpl.vendor_like import IMPORTS, PARAMS

    from aw_policy import ir
    from aw_policy.merge import compile_sources
    from aw_policy.paths import REFERENCE_PARAMS
    from aw_policy.sbpl.evaluator import evaluate, load_profile
    from aw_policy.sbpl.parser import parse_sbpl

    text = profile_of(LINES)
    line_count = text.count("\n")
    parse_sbpl("(version 1)")  # build the grammar once, as a long-lived process would
    profile = parse_sbpl(text, "vendor.sb")
    json_text = json.dumps([as_json(form) for form in profile.forms])
    parse = median_ms(lambda: parse_sbpl(text, "vendor.sb"))
    floor = median_ms(lambda: json.loads(json_text))
    load = median_ms(lambda: load_profile(profile, PARAMS, importer=IMPORTS.get))

    loaded = load_profile(profile, PARAMS, importer=IMPORTS.get)
    requests = sbpl_requests(REQUESTS)
    start = time.perf_counter()
    for request in requests:
        evaluate(loaded, request)
    sbpl_rate = REQUESTS / (time.perf_counter() - start)

    fixtures = REPO / "tests" / "sbpl" / "fixtures"
    small = load_profile((fixtures / "constructs.sb").read_text(encoding="utf-8"),
                         {"HOME": "/Users/agent", "WORKSPACE": "/Users/agent/work", "MODE": "dev"},
                         importer=lambda name: (fixtures / name).read_text(encoding="utf-8"))
    start = time.perf_counter()
    for request in requests:
        evaluate(small, request)
    small_rate = REQUESTS / (time.perf_counter() - start)

    golden = REPO / "golden" / "agent-worktree" / "src"
    policy = compile_sources([golden / "org.awp", golden / "project.awp", golden / "user.awp.yaml"]).policy
    bound = ir.bind(policy, dict(REFERENCE_PARAMS))
    peer_requests = ir_requests(REQUESTS)
    start = time.perf_counter()
    for request in peer_requests:
        ir.decide(bound, request)
    ir_rate = REQUESTS / (time.perf_counter() - start)

    return emit("SBPL parser and evaluator (issue 4)", [
        Figure(f"parse {line_count:,}-line profile ({len(text):,} bytes, Lark LALR)", parse, "ms",
               peer=f"json.loads of the same tree as JSON ({len(json_text):,} bytes)", peer_value=floor),
        Figure(f"load (run) that profile: {len(loaded.rules):,} rules", load, "ms"),
        Figure(f"evaluate requests against {len(loaded.rules):,} rules", sbpl_rate, "req/s",
               peer=f"ir.decide on the golden policy ({len(policy.rules)} rules)", peer_value=ir_rate),
        Figure(f"evaluate requests against constructs.sb ({len(small.rules)} rules)", small_rate, "req/s",
               peer=f"ir.decide on the golden policy ({len(policy.rules)} rules)", peer_value=ir_rate),
    ])


if __name__ == "__main__":
    sys.exit(main())
