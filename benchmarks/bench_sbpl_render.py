"""SBPL render of a generated 10,000-rule policy (both profiles and the notes).

The policy mixes every construct the backend renders: literal, subtree and glob
paths under parameters and fixed roots (so case-insensitive regexes for the
deny and prompt rules), hosts including ones left to the proxy, signal targets
and mach names. Printed beside the peer measured in the same run:
json.dumps of the same IR (``policy.to_json()``), the cost of writing the
policy itself as text. Also the load of the rendered profile in our Seatbelt
model, for scale.
"""

from __future__ import annotations

import json
import sys

from report import Figure, emit, median_ms

RULES = 10_000


def generate(n: int):
    from aw_policy import ir

    rules = []
    effects = ("allow", "deny", "prompt")
    for i in range(n):
        effect = effects[i % 3]
        origin = ir.Origin("big.awp", i + 1, 3, ("org", "project", "user", "session")[i % 4])
        common = {"id": f"r{i + 1}", "effect": effect, "scope": origin.scope, "origin": origin,
                      "enforce": origin.scope == "org" and i % 5 == 0, "audit": i % 7 == 0}
        which = i % 10
        if which < 7:
            kind = ("subtree", "literal", "glob")[i % 3]
            root = ("${WORKSPACE}", "${HOME}", "/opt/Tools", "/tmp")[i % 4]
            path = f"{root}/pkg{i % 97}/Mod{i}" + ("/**/*.py" if kind == "glob" else "")
            op = ("read", "write", "exec")[(i // 3) % 3]
            rules.append(ir.Rule(op=op, cls="fs", kind=kind, pattern=path, **common))
        elif which < 9:
            host = ("localhost", "*", f"api{i}.example.com")[i % 3]
            rules.append(ir.Rule(op="connect", cls="net", kind="host", pattern=f"{host}:{1000 + i % 5000}",
                                 **common))
        else:
            rules.append(ir.Rule(op="mach", cls="mach", kind="mach", pattern=f"com.example.svc{i}", **common))
    return ir.Policy(rules=tuple(rules))


def main() -> int:
    from aw_policy import bundle
    from aw_policy.backends import sbpl
    from aw_policy.sbpl import evaluator

    policy = generate(RULES)
    reference = bundle.reference_params(policy, {})
    sbpl.render(policy, reference)  # warm the template cache, as a long-lived process would
    render = median_ms(lambda: sbpl.render(policy, reference), runs=3)
    peer = median_ms(lambda: json.dumps(policy.to_json(), sort_keys=True), runs=3)
    artifacts = {a.path: a.data for a in sbpl.render(policy, reference)}
    text = artifacts[sbpl.PROFILE].decode()
    values = sbpl.launch_params(reference)
    load = median_ms(lambda: evaluator.load_profile(text, values, "profile.sb"), runs=3)
    return emit("SBPL render (issue 4)", [
        Figure(f"render profile.sb + profile.supervised.sb, {RULES:,} rules", render, "ms",
               peer="json.dumps of the same IR", peer_value=peer),
        Figure(f"size of profile.sb ({text.count(chr(10)):,} lines)", len(artifacts[sbpl.PROFILE]) / 1024, "KiB"),
        Figure("parse + load that profile.sb in the Seatbelt model", load, "ms"),
    ])


if __name__ == "__main__":
    sys.exit(main())
