"""Linux enforcement plan (``linux.json``, format ``awpolicy.linux/1``).

The plan is derived from :func:`aw_policy.ir.decide`, never from the rules'
text alone, so it cannot disagree with the semantics. Landlock only *allows*,
so the plan is built in two halves:

* ``fs`` -- grants: the root of an allow rule becomes a Landlock path-beneath
  grant for an operation only when decide() allows that operation at the root
  and at a fresh child of it (for a subtree), i.e. in the whole subtree before
  carve-outs;
* ``masks`` -- carve-outs: every rule root where decide() does not allow an
  operation (deny, or prompt with no supervisor, which is deny). At launch the
  runtime applies a carve-out to every grant that covers it: with a mount when
  the path exists (``hide`` for read, ``readonly`` for write, ``noexec`` for
  exec) and, when it does not, by splitting the grant into grants on the
  path's existing siblings, so the denied path cannot be created and used.

Between rule roots decide() is constant (a fresh child of a root matches the
same subtree and literal rules as every other path below it), so grants minus
carve-outs never allow what decide() denies. Globs are the exception Landlock
cannot express: a glob that denies inside a grant is expanded at launch into
carve-outs for the paths that exist then, and listed in ``unenforced``, since
a matching file created later is not covered; a glob that allows is not
granted (``narrowed``).

``unenforced`` lists rules the sandbox cannot enforce as decide() says (the
runtime refuses to run unless best effort is asked, and then names them);
``narrowed`` lists rules enforced more strictly than written (the sandbox
denies what the rule allows). Decisions are computed under ``params`` (the
bundle's reference binding); paths stay symbolic. The runtime recomputes the
document with :func:`plan_document` for the real binding: containment of
parameterized roots can differ between machines.

Debug mode: ``debug`` is true when decide() allows ``debug same-sandbox``; the
runtime then leaves ptrace and process_vm_readv/writev out of the seccomp deny
list, and Landlock (ptrace only within the sandbox's own domain) with the PID
namespace keeps every process outside the sandbox out of reach.

Network: the sandbox gets its own network namespace. Loopback there is the
sandbox's own (host services on localhost are not reachable); TCP connect and
bind are limited to the ports decide() allows on localhost with Landlock port
rules; any other host is the domain proxy's job: an allow (connect) on such a
host is listed in ``network.proxy``, and the runtime then starts the proxy
outside and a relay on the sandbox's loopback, the only way out. Stdlib only:
the runtime imports this module at launch.
"""

from __future__ import annotations

from aw_runtime.linux.plan import DEFAULT_SECCOMP_DENY, PLAN_FORMAT

from aw_policy import ir, paths

FORMAT = PLAN_FORMAT
ARTIFACT = "linux.json"
KIND = "linux-plan"
FS_OPS = ("read", "write", "exec")
NET_OPS = ("connect", "bind")
#: A component no rule names: a path ``root/PROBE`` stands for every path below
#: ``root`` that no deeper rule root reaches.
PROBE = "%awpolicy-probe%"
BRANCH_STORE = "${HOME}/.local/state/awpolicy/branches"


def _entry(rule: ir.Rule, reason: str) -> dict:
    return {"rule": rule.id, "origin": str(rule.origin), "reason": reason}


def _child(path: str) -> str:
    return path.rstrip("/") + "/" + PROBE


def _under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


class _Fs:
    """decide() for filesystem requests on bound paths, globs left out (handled apart).

    ``supervised``: a supervisor asks for ``prompt`` rules (fanotify on Linux), so the
    sandbox must let those requests reach it: prompt counts as allow here."""

    def __init__(self, bound: ir.BoundPolicy, supervised: bool = False):
        self.bound = ir.restrict(bound, lambda rule: rule.kind != "glob")
        self.params = bound.params
        self.passing = ("allow", "prompt") if supervised else ("allow",)
        self._decided: dict[tuple[str, str], ir.Rule] = {}
        self._paths: dict[tuple[str, str], str] = {}

    def path(self, kind: str, pattern: str) -> str:
        if (kind, pattern) not in self._paths:
            self._paths[(kind, pattern)] = paths.bind_path(kind, pattern, self.params).text
        return self._paths[(kind, pattern)]

    def decide(self, op: str, path: str) -> ir.Rule:
        """The rule ir.decide picks (its effect is the decision), once per request: a rule root is
        asked about for each of its rules."""
        if (op, path) not in self._decided:
            self._decided[(op, path)] = ir.winning_rule(self.bound, op, path)
        return self._decided[(op, path)]

    def winner(self, op: str, path: str, subtree: bool) -> ir.Rule:
        """The rule that denies ``op`` at ``path`` (or, for a subtree, below it)."""
        rule = self.decide(op, path)
        if rule.effect in self.passing and subtree:
            rule = self.decide(op, _child(path))
        return rule

    def allows(self, op: str, path: str, subtree: bool) -> bool:
        if self.decide(op, path).effect not in self.passing:
            return False
        return not subtree or self.decide(op, _child(path)).effect in self.passing


def _fs_rules(policy: ir.Policy, op: str):
    return [r for r in policy.rules if r.cls == "fs" and r.kind != "default" and r.op in (op, "*")]


def _filesystem(policy: ir.Policy, bound: ir.BoundPolicy, supervised: bool = False):
    fs = _Fs(bound, supervised)
    grants: dict[tuple[str, str], dict] = {}
    masks: dict[tuple[str, str], dict] = {}
    narrowed: list[dict] = []
    globs: list[ir.Rule] = []
    default_allow = {op: fs.allows(op, "/", True) for op in FS_OPS}
    for op in FS_OPS:
        if default_allow[op]:
            entry = grants.setdefault(("/", "subtree"), {"access": set(), "rules": set()})
            entry["access"].add(op)
            entry["rules"].add(fs.winner(op, _child("/"), False).id)
        for rule in _fs_rules(policy, op):
            if rule.kind == "glob":
                globs.append(rule)
                continue
            bound = fs.path(rule.kind, rule.pattern)
            subtree = rule.kind == "subtree"
            allowed = fs.allows(op, bound, subtree)
            if rule.effect in fs.passing and allowed:
                entry = grants.setdefault((rule.pattern, rule.kind), {"access": set(), "rules": set()})
                entry["access"].add(op)
                entry["rules"].add(rule.id)
            elif rule.effect in fs.passing and fs.allows(op, bound, False):
                narrowed.append(_entry(rule, f"{op} is allowed at {rule.pattern} itself but not everywhere "
                                             "below it, and Landlock grants whole subtrees: not granted"))
            if not allowed:
                entry = masks.setdefault((rule.pattern, rule.kind), {"deny": set(), "rules": set()})
                entry["deny"].add(op)
                entry["rules"].add(fs.winner(op, bound, subtree).id)
    grant_roots = [(fs.path(kind, pattern), v["access"]) for (pattern, kind), v in grants.items()]
    grant_index = paths.PathIndex(grant_roots)  # roots at, above or below a glob's fixed prefix
    unenforced: list[dict] = []
    glob_masks: list[dict] = []
    for rule in sorted(set(globs), key=lambda r: r.id):
        if rule.effect == "allow":
            narrowed.append(_entry(rule, "Landlock cannot grant a glob; the paths it allows stay denied "
                                         "unless another rule grants them"))
            continue
        if rule.effect in fs.passing:
            continue  # a supervised prompt: not carved out, the supervisor asks where a grant lets it through
        ops = {rule.op} if rule.op != "*" else set(FS_OPS)
        bound = paths.bind_path("glob", rule.pattern, fs.params)
        prefix = "/" + "/".join(bound.text.split("/")[1 : bound.depth + 1])
        # Carved out at launch wherever it meets a grant under the real binding ...
        glob_masks.append({"pattern": rule.pattern, "deny": sorted(ops), "rules": [rule.id]})
        if not any(op in access for access in grant_index.related(prefix) for op in ops):
            continue  # ... and under this one nothing is granted there: Landlock denies it all
        unenforced.append(_entry(rule, f"glob {rule.pattern!r} inside a granted tree: the paths that match "
                                       "at launch are carved out, files created later that match are not"))
    return (
        [{"path": p, "kind": k, "access": sorted(v["access"]), "rules": sorted(v["rules"])}
         for (p, k), v in sorted(grants.items())],
        [{"path": p, "kind": k, "deny": sorted(v["deny"]), "rules": sorted(v["rules"])}
         for (p, k), v in sorted(masks.items())],
        glob_masks, unenforced, narrowed,
    )


def _ports_for(bound: ir.BoundPolicy, op: str, policy: ir.Policy, narrowed: list, needs: set):
    """TCP ports decide() allows on localhost for ``op``: None means every port.

    ``needs`` receives the rules that make a port rule necessary (the ones that deny)."""
    named = set()
    for r in policy.rules:
        if r.cls == "net" and r.kind == "host" and r.op in (op, "*"):
            host, port = ir.split_host_port(r.pattern)
            if host in ("*", "localhost") and port != "*":
                named.add(int(port))
    fresh = next(p for p in range(1, 65536) if p not in named)

    def decision(port: int) -> ir.Decision:
        return ir.decide(bound, ir.Request(op, f"localhost:{port}"))

    explicit = {p: decision(p) for p in sorted(named)}
    denied = [p for p, d in explicit.items() if d.effect != "allow"]
    needs.update(explicit[p].rule for p in denied)
    if decision(fresh).effect == "allow":
        if not denied:
            return None
        narrowed.append(_entry(decision(fresh).rule,
                               f"{op} to every localhost port but {denied}: Landlock lists allowed ports only, "
                               "so only the ports a rule names are allowed"))
    else:
        needs.add(decision(fresh).rule)
    return [p for p, d in explicit.items() if d.effect == "allow"]


def _sample_host(host: str) -> str:
    if host == "*":
        return "awpolicy-probe.invalid"
    return "awpolicy-probe" + host[1:] if host.startswith("*.") else host


def _network(policy: ir.Policy, bound: ir.BoundPolicy):
    proxied: list[dict] = []
    narrowed: list[dict] = []
    needs: set[ir.Rule] = set()
    ports = {op: _ports_for(bound, op, policy, narrowed, needs) for op in NET_OPS}
    for r in policy.rules:
        if r.cls != "net" or r.kind != "host" or r.effect != "allow":
            continue
        host, port = ir.split_host_port(r.pattern)
        if host == "localhost":
            continue
        sample = f"{_sample_host(host)}:{port if port != '*' else 443}"
        ops = NET_OPS if r.op == "*" else (r.op,)
        # the proxy carries outbound connections; nothing can bind out there
        if "connect" in ops and any(ir.decide(bound, ir.Request(op, sample)).rule == r for op in ops):
            proxied.append(_entry(r, f"connect to {r.pattern}: enforced by the domain proxy, reached "
                                     "through a relay on the sandbox's loopback"))
    network = {
        "mode": "loopback" if proxied or any(p is None or p for p in ports.values()) else "none",
        "tcp_connect_ports": ports["connect"],
        "tcp_bind_ports": ports["bind"],
        "proxy": proxied,
    }
    if all(p is None for p in ports.values()):
        needs = set()
    return network, [], narrowed, needs


def _signals(bound: ir.BoundPolicy):
    """Landlock's signal scope when signals to outside processes are denied; what it cannot deny."""
    others = ir.decide(bound, ir.Request("signal", "others"))
    scopes, needs, unenforced = [], set(), []
    if others.effect != "allow":
        scopes.append("signal")
        needs.add(others.rule)
    for target in ("self", "children", "same-sandbox", "pgrp"):
        d = ir.decide(bound, ir.Request("signal", target))
        if d.effect != "allow" and d.rule.kind != "default":
            unenforced.append(_entry(d.rule, f"signals to {target} cannot be denied inside the sandbox: Landlock "
                                             "scopes only separate the sandbox from the outside"))
    return scopes, unenforced, needs


def _debug(bound: ir.BoundPolicy):
    """Debug mode when decide() allows debugging the sandbox's own processes; a prompt cannot be asked."""
    d = ir.decide(bound, ir.Request("debug", "same-sandbox"))
    if d.effect == "prompt":
        return False, [_entry(d.rule, "debugging prompts: nothing on Linux asks before a ptrace attach, "
                                      "so debug mode stays off")]
    return d.effect == "allow", []


def _bound_branch(policy: ir.Policy):
    names = {b.name: b for b in policy.branches}
    if "agent" in names:
        return names["agent"]
    leaves = sorted(set(names) - {b.parent for b in policy.branches})
    return names[leaves[0]] if len(leaves) == 1 else None


def _branch(policy: ir.Policy):
    if not policy.branches:
        return None, []
    spec = _bound_branch(policy)
    if spec is None:
        b = policy.branches[0]
        return None, [{"rule": f"branch {b.name}", "origin": str(b.origin),
                       "reason": "several branches and none named 'agent': no branch to bind the command to"}]
    by_name = {b.name: b for b in policy.branches}
    chain, seen = [spec], {spec.name}
    while chain[-1].parent in by_name and chain[-1].parent not in seen:
        chain.append(by_name[chain[-1].parent])
        seen.add(chain[-1].name)
    hide = sorted({p for b in chain for p in b.hide})
    readonly = sorted({p for b in chain for p in b.readonly} - set(hide))
    return {
        "name": spec.name,
        "base": spec.base,
        "cow": spec.cow,
        "hide": hide,
        "readonly": readonly,
        "on_exit": spec.on_exit,
        "upper_store": BRANCH_STORE,
        "origin": str(spec.origin),
    }, []


def plan_document(policy: ir.Policy, params: dict[str, str], *, supervised: bool = False) -> dict:
    """The content of ``linux.json`` for ``policy`` with its decisions taken under ``params``.

    ``supervised`` (never in a bundle; rendered at launch when the prompt supervisor
    runs): file ``prompt`` rules are granted like allow rules, so the kernel asks the
    supervisor (fanotify) instead of refusing; the session dies with the supervisor."""
    values = policy.param_defaults()
    values.update(params)
    bound = ir.bind(policy, paths.resolve_params(values))
    grants, masks, glob_masks, unenforced, narrowed = _filesystem(policy, bound, supervised)
    network, net_unenforced, net_narrowed, port_needs = _network(policy, bound)
    scopes, sig_unenforced, scope_needs = _signals(bound)
    debug, debug_narrowed = _debug(bound)
    branch, branch_unenforced = _branch(policy)
    audited = [r for r in policy.rules if r.audit and r.cls in ("fs", "net")]
    by_id = lambda e: (e["rule"], e["reason"])

    def cite(rules) -> list[dict]:
        return sorted(({"rule": r.id, "origin": str(r.origin)} for r in set(rules)), key=lambda e: e["rule"])

    return {
        "format": FORMAT,
        "params": dict(sorted(values.items())),
        "fs": grants,
        "masks": masks,
        "glob_masks": glob_masks,
        "branch": branch,
        "network": network,
        "scopes": sorted(scopes),
        "seccomp_deny": list(DEFAULT_SECCOMP_DENY),
        "env": {"set": dict(policy.env_set), "pass": sorted(policy.env_pass)},
        "audit": bool(audited),
        "debug": debug,
        # the rules behind each kernel feature, so a refusal on an older kernel names them
        "needs": {"audit": cite(audited), "signal_scope": cite(scope_needs), "tcp_ports": cite(port_needs),
                  "overlay": [{"rule": f"branch {branch['name']}", "origin": branch["origin"]}]
                  if branch and branch["cow"] else []},
        "unenforced": sorted(unenforced + net_unenforced + sig_unenforced + branch_unenforced, key=by_id),
        "narrowed": sorted(narrowed + net_narrowed + debug_narrowed, key=by_id),
    }


def render(policy: ir.Policy, reference: dict[str, str]) -> list:
    from aw_policy.bundle import Artifact, dumps

    return [Artifact(ARTIFACT, KIND, dumps(plan_document(policy, reference)))]
