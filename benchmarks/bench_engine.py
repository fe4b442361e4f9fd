"""The ES decision engine on a 1,000-rule table, beside a linear scan over the same rules.

Figures, measured in this process on the same generated requests:

* engine decisions per second with its decision cache off (every request walks
  the path trie), beside a linear scan that tests every bound rule and keeps the
  best precedence key (the obvious evaluator), and beside ``ir.decide`` (the
  reference semantics: every match, sorted);
* latency of an answer from the decision cache (a repeated event, the whole
  ``Engine.decide`` path), and of a prompt answered from the approvals cache.

The three evaluators are checked to agree on every request before timing.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from report import Figure, emit

RULES = 1_000
REQUESTS = 20_000
DIRS = ["src", "lib", "docs", "tests", "build", "vendor", "node_modules", ".git", "assets", "tools"]


def generate(n: int, rng: random.Random) -> str:
    """A project policy of n fs rules: subtrees, literals and globs under the workspace and home."""
    lines = ["scope project", "default deny", "fs {"]
    for i in range(n):
        effect = rng.choice(["allow", "allow", "deny", "prompt"])
        op = rng.choice(["read", "write", "exec"])
        root = rng.choice(["${WORKSPACE}", "${WORKSPACE}", "~", "/usr", "/opt"])
        depth = rng.randint(0, 3)
        comps = [rng.choice(DIRS) + (str(rng.randint(0, 30)) if rng.random() < 0.5 else "") for _ in range(depth)]
        kind = rng.choice(["", "", "literal ", "glob "])
        path = "/".join([root, *comps]) + (f"/**/*.{rng.choice(['py', 'env', 'so'])}" if kind == "glob " else "")
        lines.append(f'  {effect} {op} {kind}"{path}"')
    lines.append("}")
    return "\n".join(lines) + "\n"


def request_paths(n: int, rng: random.Random) -> list[tuple[str, str]]:
    roots = ["/home/agent/workspace", "/home/agent/workspace", "/home/agent", "/usr", "/opt", "/etc"]
    out = []
    for _ in range(n):
        comps = [rng.choice(DIRS) + (str(rng.randint(0, 30)) if rng.random() < 0.5 else "")
                 for _ in range(rng.randint(0, 5))]
        name = rng.choice(["main.py", ".env", "lib.so", "README"])
        out.append((rng.choice(["read", "write", "exec"]), "/".join([rng.choice(roots), *comps, name])))
    return out


def per_second(fn, items, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def latency_us(fn, runs: int = 20_000) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs * 1e6


def main() -> int:
    from aw_runtime.engine import Engine, Event, Reply

    from aw_policy import ir
    from aw_policy.backends import es

    rng = random.Random(5)
    policy = compile_text(generate(RULES, rng))
    table = es_table(policy)
    rules = len(table["files"]) + len(table["exec"])
    requests = [ir.normalize_request(op, path) for op, path in request_paths(REQUESTS, rng)]

    engine = Engine(table, cache_size=0)
    bound = ir.bind(es.canonical_policy(policy), es.canonical_reference(policy, {}))
    by_op = {op: [(b.key(i), b) for i, b in bound.by_op[op]] for op in ("read", "write", "exec")}

    def linear(request):
        best = None
        for key, b in by_op[request.op]:
            if (best is None or key > best[0]) and b.matcher(request.object):
                best = (key, b)
        return best[1].rule

    for request in requests[:5000]:  # the three agree before anything is timed
        expected = ir.decide(bound, request).rule.id
        assert engine.match(request).rule.id == expected == linear(request).id, request

    indexed = per_second(engine.match, requests)
    scan = per_second(linear, requests, runs=1)
    reference = per_second(lambda r: ir.decide(bound, r), requests[:2000], runs=1)

    cached = Engine(table)
    event = Event("ES_EVENT_TYPE_AUTH_OPEN", 1.0, path="/home/agent/workspace/src/main.py", flags=("FREAD",))
    cached.decide(event)
    hit_us = latency_us(lambda: cached.decide(event))
    uncached = Engine(table, cache_size=0)
    miss_us = latency_us(lambda: uncached.decide(event))

    class Yes:
        def ask(self, question, budget):
            return Reply("allow", "session", after=0.0)

    prompting = Engine(es_table(compile_text('scope user\nfs { prompt read "~/Documents" }\n')), prompter=Yes())
    first = Event("ES_EVENT_TYPE_AUTH_OPEN", 1.0, path="/home/agent/Documents/a/b.txt", flags=("FREAD",))
    prompting.decide(first)
    again = Event("ES_EVENT_TYPE_AUTH_OPEN", 2.0, path="/home/agent/Documents/a/b.txt", flags=("FREAD",))
    assert prompting.decide(again)[0].reason == "approval"
    approval_us = latency_us(lambda: prompting.decide(again))

    return emit(f"ES decision engine, {rules:,}-rule table (issue 5)", [
        Figure(f"engine decisions/s, cache off ({REQUESTS:,} requests)", indexed, "req/s",
               peer="linear scan over the same bound rules", peer_value=scan),
        Figure("ir.decide() decisions/s (reference semantics)", reference, "req/s",
               peer="engine, cache off", peer_value=indexed),
        Figure("cached answer latency (Engine.decide, decision cache hit)", hit_us, "us",
               peer="the same event, decision cache off", peer_value=miss_us),
        Figure("prompt answered from the approvals cache (Engine.decide)", approval_us, "us"),
    ])


def compile_text(text: str):
    from aw_policy.merge import compile_sources

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "policy.awp"
        src.write_text(text)
        return compile_sources([src]).policy


def es_table(policy) -> dict:
    from aw_policy.backends import es
    from aw_policy.bundle import reference_params

    (artifact,) = es.render(policy, reference_params(policy, {}))
    return json.loads(artifact.data)


if __name__ == "__main__":
    sys.exit(main())
