"""Bind a ``linux.json`` document (format ``awpolicy.linux/1``) to this machine.

``bind_plan`` substitutes the parameters, then realizes the document's
carve-outs against the real filesystem (it reads, never writes):

* a carve-out whose path exists becomes a mount in the sandbox: ``hide`` when
  reading is denied, ``readonly`` for writing, ``noexec`` for executing; each
  directory above it that sits in a writable tree is pinned (bound over
  itself) so it cannot be renamed away from under the mount;
* a carve-out whose path does not exist cannot be mounted over: inside the
  copy-on-write branch PID 1 makes an empty placeholder for it (in the upper
  layer, taken out again when the branch is kept); elsewhere every grant that
  covers it for a denied operation is split into grants on the existing
  entries beside the path, down to its nearest existing ancestor, so the path
  can be neither created nor used (stricter: nothing new can be created in
  those few directories either);
* a glob carve-out is expanded over the paths that match now (bounded walk);
* a literal grant on a directory, or on nothing yet, is dropped (Landlock
  would grant the whole tree below it).

The document's decisions hold only for bindings that nest its paths the way
its own ``params`` do; ``needs_rerender`` tells, and ``bind_plan`` refuses a
document that does not hold (the launcher renders a fresh one with
``aw_policy.backends.linux.plan_document``).
"""

from __future__ import annotations

import os

from aw_policy import paths

from .errors import PlanError
from .plan import (
    DEFAULT_SECCOMP_DENY,
    PLAN_FORMAT,
    RELAY_PORT,
    Branch,
    FsGrant,
    LinuxPlan,
    Mask,
    Network,
    validate,
)

#: Entries a glob expansion may visit before it gives up (and says so).
GLOB_WALK_LIMIT = 20000
MASK_FOR = {"read": "hide", "write": "readonly", "exec": "noexec"}


def _under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


def _field(doc: dict, key: str, kind):
    value = doc.get(key)
    if not isinstance(value, kind):
        raise PlanError(f"linux.json: {key!r} must be a {getattr(kind, '__name__', 'value')}, got {type(value).__name__}")
    return value


class _Binder:
    def __init__(self, params: dict[str, str]):
        self.params = params
        self._real = {"/": "/"}

    def real(self, path: str) -> str:
        """``os.path.realpath(path)``, resolving each directory once: a plan's grants and carve-outs
        share most of their ancestors, and realpath looks at every component of every path again.

        ``path/name`` resolves to the real path of ``path`` joined with ``name``, resolved again
        only when that is a symlink: what realpath does, component by component."""
        real = self._real.get(path)
        if real is None:
            if not path.startswith("/") or path.startswith("//") or os.path.normpath(path) != path \
                    or "\0" in path:
                return os.path.realpath(path)  # not absolute and normalized: realpath does it all
            parent, _, name = path.rpartition("/")
            real = os.path.join(self.real(parent or "/"), name)
            if os.path.islink(real):
                real = os.path.realpath(real)
            self._real[path] = real
        return real

    def path(self, text, what: str) -> str:
        if not isinstance(text, str):
            raise PlanError(f"linux.json: {what} must be a string, got {text!r}")
        try:
            return paths.normalize_pattern(paths.expand(text, self.params), "literal")
        except paths.PathError as exc:
            raise PlanError(f"linux.json: {what} {text!r}: {exc}") from None


def _split(root: str, holes: list[str]) -> list[str]:
    """Paths to grant instead of ``root`` so that no hole (or anything below it) is covered."""
    if any(h == root for h in holes):
        return []
    if not any(_under(h, root) for h in holes):
        return [root]
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []  # cannot list it: grant nothing rather than too much
    out = []
    for name in names:
        child = os.path.join(root, name)
        if os.path.islink(child):
            continue  # a grant on it would cover its target; reached through it, the target is checked anyway
        out += _split(child, [h for h in holes if _under(h, child)])
    return out


def _glob_top(bound: paths.BoundPath) -> str:
    """A bound glob's fixed leading components: every match is below this path."""
    return "/" + "/".join(bound.text.split("/")[1 : bound.depth + 1])


def _glob_matches(bound: paths.BoundPath) -> tuple[list[str], bool]:
    """Existing paths matching a bound glob, and whether the walk was complete."""
    top = _glob_top(bound)
    if not os.path.isdir(top):
        return ([top] if os.path.lexists(top) and bound.matches(top) else []), True
    found, seen = [], 0
    fullmatch = bound.regex.fullmatch
    name_regex = bound.name_regex
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            seen += 1
            if seen > GLOB_WALK_LIMIT:
                return sorted(found), False
            if name_regex is not None and not name_regex.fullmatch(name):
                continue  # cannot match: the name is the glob's last component
            full = os.path.join(dirpath, name)
            if fullmatch(full):
                found.append(full)
    return sorted(found), True


def _ops(ops, what: str) -> list[str]:
    if not isinstance(ops, list) or not set(ops) <= set(MASK_FOR):
        raise PlanError(f"linux.json: carve-out {what}: operations must be among read, write, exec, got {ops!r}")
    return ops


def _names_directory(name: str) -> bool:
    """Variables whose value is a directory tools expect to exist (HOME, TMPDIR, XDG_*_HOME)."""
    return name in ("HOME", "TMPDIR", "TMP", "TEMP") or (name.startswith("XDG_") and name.endswith("_HOME"))


def _ancestors(path: str) -> list[str]:
    out = []
    while True:
        path = os.path.dirname(path)
        if path == "/":
            return out[::-1]
        out.append(path)


def _roots(doc: dict) -> list[str]:
    """Every symbolic path the document's decisions were taken at."""
    out = [e["path"] for key in ("fs", "masks") for e in doc.get(key) or () if isinstance(e, dict) and "path" in e]
    out += [e["pattern"].split("*")[0].split("?")[0].rsplit("/", 1)[0] or "/"
            for e in doc.get("glob_masks") or () if isinstance(e, dict) and isinstance(e.get("pattern"), str)]
    return sorted({p for p in out if isinstance(p, str)})


def _self_and_ancestors(path: str) -> list[str]:
    """'/a/b' -> ['/a/b', '/a', '/'] (``path`` absolute and normalized)."""
    out = [path]
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


def _containment(roots: list[str], b: _Binder) -> set[tuple[str, str]]:
    """Every (x, y) of two roots where x, bound, is y's bound path or lies below it (``_under``)."""
    bound = {r: b.path(r, "path") for r in roots}
    at: dict[str, list[str]] = {}
    for r, path in bound.items():
        at.setdefault(path, []).append(r)
    return {(x, y) for x, path in bound.items() for a in _self_and_ancestors(path) for y in at.get(a, ()) if y != x}


def _containment_changes(doc: dict, real: _Binder) -> str:
    """Which nesting of the document's paths differs between its own binding and ``real`` ('' if none).

    Grants and carve-outs are decided by which rule roots lie inside which; when the real
    values nest them differently the decisions no longer hold (the rule order may not show it)."""
    roots = _roots(doc)
    try:
        own = _Binder(paths.resolve_params(dict(doc["params"])))
        if own.params == real.params:
            return ""  # rendered for these very values (a re-rendered plan)
        at_render = _containment(roots, own)
    except (paths.PathError, PlanError):
        return ""  # the document's own binding is incomplete: nothing to compare with
    changed = at_render ^ _containment(roots, real)
    if changed:
        x, y = min(changed)
        return f"{x} is {'' if (x, y) in at_render else 'not '}inside {y}"
    return ""


def needs_rerender(doc: dict, params: dict[str, str]) -> bool:
    """True when ``doc`` (a linux.json) does not hold for these parameter values: the launcher
    then renders a fresh document with ``aw_policy.backends.linux.plan_document``."""
    values = dict(doc.get("params") or {})
    values.update(params)
    try:
        return bool(_containment_changes(doc, _Binder(paths.resolve_params(values))))
    except (paths.PathError, PlanError):
        return True


def _branch(bd, b: _Binder, on_exit_override):
    """The copy-on-write Branch, or (no copy-on-write) the masks its entries become, or None."""
    if bd is None:
        return None
    base = b.real(b.path(bd["base"], "branch base"))
    hide = tuple(b.real(b.path(p, "branch hide")) for p in bd["hide"])
    readonly = tuple(b.real(b.path(p, "branch readonly")) for p in bd["readonly"])
    on_exit = on_exit_override or bd["on_exit"]
    if on_exit not in ("keep", "discard"):
        raise PlanError(f"branch on_exit must be keep or discard, got {on_exit!r}")
    if not bd["cow"]:
        return [Mask(p, "hide") for p in hide] + [Mask(p, "readonly") for p in readonly]
    upper = None  # discard: a private temporary upper layer, made at launch
    if on_exit == "keep":
        from aw_runtime.verify import sha256_for

        name = base.encode()
        key = sha256_for(len(name))(name).hexdigest()[:12]
        upper = os.path.join(b.path(bd["upper_store"], "branch store"), f"{bd['name']}-{key}")
    return Branch(base=base, upper=upper, hide=hide, readonly=readonly, on_exit=on_exit)


def bind_plan(doc: dict, params: dict[str, str], *, env: dict[str, str], cwd: str,
              best_effort: bool = False, branch_on_exit: str | None = None) -> LinuxPlan:
    """A launchable :class:`LinuxPlan` from a ``linux.json`` document.

    ``params`` are the real values (defaults come from the document's
    ``params``); ``env`` is the environment the command may see (already
    filtered by the caller), to which the policy's ``env.set`` is added;
    ``branch_on_exit`` overrides the branch's keep/discard. Raises PlanError.
    """
    if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise PlanError(f"linux.json has format {got!r}; this runtime reads {PLAN_FORMAT!r}")
    values = dict(_field(doc, "params", dict))
    values.update(params)
    try:
        resolved = paths.resolve_params(values)
    except paths.PathError as exc:
        raise PlanError(f"parameters: {exc}") from None
    b = _Binder(resolved)
    changed = _containment_changes(doc, b)
    if changed:
        raise PlanError(f"linux.json was rendered for a binding where {changed}; under these values that "
                        "differs, so the plan must be re-rendered for them (plan_document(policy, params))")
    try:
        return _bind(doc, b, env=env, cwd=cwd, best_effort=best_effort, branch_on_exit=branch_on_exit)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, PlanError):
            raise
        raise PlanError(f"linux.json is malformed: {type(exc).__name__}: {exc}") from None


def _bind(doc, b: _Binder, *, env, cwd, best_effort, branch_on_exit) -> LinuxPlan:
    reasons = [f"rule {u['rule']} at {u['origin']}: {u['reason']}" for u in _field(doc, "unenforced", list)]
    # grants: {path: set(access)}
    # Landlock sees resolved paths: compare grants and carve-outs by their real paths,
    # so a symlinked grant root or carve-out cannot slip past the containment test.
    grants: dict[str, set[str]] = {}
    for g in _field(doc, "fs", list):
        path = b.real(b.path(g["path"], "fs grant"))
        if g["kind"] == "literal" and (os.path.isdir(path) or not os.path.exists(path)):
            continue  # on a directory (or one made later) Landlock would grant everything below it
        grants.setdefault(path, set()).update(g["access"])

    carve: dict[str, set[str]] = {}  # real path -> denied operations
    for m in _field(doc, "masks", list):
        carve.setdefault(b.real(b.path(m["path"], "mask")), set()).update(_ops(m["deny"], m["path"]))
    for gm in doc.get("glob_masks", []):
        ops = _ops(gm["deny"], gm["pattern"])
        try:
            bound = paths.bind_path("glob", gm["pattern"], b.params)
        except paths.PathError as exc:
            raise PlanError(f"linux.json: glob {gm['pattern']!r}: {exc}") from None
        top = b.real(_glob_top(bound))
        if not any(op in access and (_under(top, root) or _under(root, top))
                   for root, access in grants.items() for op in ops):
            continue  # the glob reaches no grant: Landlock denies all of it already
        found, complete = _glob_matches(bound)
        for p in found:
            carve.setdefault(b.real(p), set()).update(gm["deny"])
        if not complete:
            reasons.append(f"rule {', '.join(gm['rules'])}: glob {gm['pattern']!r} has more than "
                           f"{GLOB_WALK_LIMIT} candidate paths; only part of them were carved out")

    branch = _branch(doc.get("branch"), b, branch_on_exit)
    cow_base = branch.base if isinstance(branch, Branch) else None
    masks: dict[tuple[str, str], bool] = {}  # (path, mode) -> placeholder
    holes: dict[str, list[str]] = {}  # op -> paths that must be split out of grants
    for path, ops in sorted(carve.items()):
        above = [grants[a] for a in _self_and_ancestors(path) if a in grants]  # the grants covering it
        for op in sorted(ops):
            if not any(op in access for access in above):
                continue  # not granted anywhere: Landlock already denies it
            if os.path.lexists(path):
                masks[(path, MASK_FOR[op])] = False
            elif cow_base is not None and path != cow_base and _under(path, cow_base):
                masks[(path, MASK_FOR[op])] = True
            else:
                holes.setdefault(op, []).append(path)

    fs: dict[str, set[str]] = {}
    for root, access in grants.items():
        for op in access:
            for p in _split(root, [h for h in holes.get(op, []) if _under(h, root)]):
                fs.setdefault(p, set()).add(op)

    writable = [p for p, access in fs.items() if "write" in access]
    pins = {a for path, _ in masks for a in _ancestors(path)
            if any(_under(os.path.dirname(a), w) for w in writable)}
    mask_list = [Mask(p, "pin") for p in sorted(pins)]
    mask_list += [Mask(p, mode, placeholder) for (p, mode), placeholder in sorted(masks.items())]
    if isinstance(branch, list):  # no copy-on-write: the branch's entries are plain masks
        mask_list += branch
        branch = None

    net = _field(doc, "network", dict)
    envd = _field(doc, "env", dict)
    full_env = dict(env)
    make_dirs = []
    for name, value in sorted(envd.get("set", {}).items()):
        try:
            full_env[name] = paths.expand(value, b.params)
        except paths.PathError as exc:
            raise PlanError(f"env {name}: {exc}") from None
        if _names_directory(name) and full_env[name].startswith("/"):
            make_dirs.append(os.path.normpath(full_env[name]))
    plan = LinuxPlan(
        fs=tuple(FsGrant(p, frozenset(a)) for p, a in sorted(fs.items())),
        masks=tuple(mask_list),
        branch=branch,
        network=_network(net),
        scopes=frozenset(doc.get("scopes", ())),
        seccomp_deny=tuple(doc.get("seccomp_deny", DEFAULT_SECCOMP_DENY)),
        env=full_env,
        cwd=cwd,
        audit=bool(doc.get("audit", False)),
        best_effort=best_effort,
        unenforced=tuple(reasons),
        make_dirs=tuple(make_dirs),
        needs={feature: tuple(f"{'' if c['rule'].startswith('branch ') else 'rule '}{c['rule']} at {c['origin']}"
                              for c in cites)
               for feature, cites in sorted(doc.get("needs", {}).items()) if cites},
        debug=doc.get("debug", False),  # validate() refuses anything but true or false
    )
    validate(plan)
    return plan


def _network(net: dict) -> Network:
    """The plan's network; with proxied rules, Landlock must also let the command reach the relay."""
    proxied = tuple(f"rule {e['rule']} at {e['origin']}" for e in net.get("proxy", ()))
    connect = None if net["tcp_connect_ports"] is None else tuple(net["tcp_connect_ports"])
    if proxied and connect is not None and RELAY_PORT not in connect:
        connect = tuple(sorted((*connect, RELAY_PORT)))
    bind = None if net["tcp_bind_ports"] is None else tuple(net["tcp_bind_ports"])
    return Network(mode=net["mode"], tcp_connect_ports=connect, tcp_bind_ports=bind, proxied=proxied)
