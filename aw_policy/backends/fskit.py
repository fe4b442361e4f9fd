"""FSKit branch manifest (``fskit-branch.json``, format ``awpolicy.fskit/1``).

The manifest is the input of AgentFS's control operations on macOS (AgentFS is
an FSKit user-space filesystem: an overlay whose branches are bound to
processes). A launcher applies it in three steps, in this order:

1. **create snapshot** -- for each entry of ``base_snapshots``, freeze the
   ``source`` directory as read-only snapshot ``id`` in the volume's store;
2. **create branch** -- for each entry of ``branches`` (parents before
   children), create branch ``id`` on top of its ``snapshot`` (a root branch)
   or of its ``parent`` branch's current state, with writes going to its
   ``upper`` store, then apply its ``entries``: ``copy-on-write`` (reads fall
   through to the lower layer, the first write copies the file up),
   ``hidden`` (the path and everything below it do not exist in the branch)
   and ``read-only`` (writes fail with EROFS). A child branch applies its own
   entries on top of its parent's; the deepest path wins;
3. **bind process** -- for each ``bindings`` item, bind the launched process
   to the branch (``process: "launch"``); with ``inherit: true`` every
   descendant process sees the same branch.

The volume is mounted at ``volume.mount`` and each branch is presented at its
``view`` (``MOUNT/branches/<id>``); the agent reaches it through its base path
(a symlink to the view), so enforcers that see resolved paths, like Endpoint
Security, meet the view's paths: the ES table maps them back to the base.

On exit (``on_exit``) the branch's upper store is ``keep``-t for inspection,
``discard``-ed, or frozen as a new ``snapshot`` named ``<id>@exit``.

On Linux the runtime realizes the same manifest with overlayfs in the
sandbox's mount namespace. Paths stay symbolic (``${WORKSPACE}``) and are
canonicalized for macOS (``/tmp`` -> ``/private/tmp``). Schema:
``schemas/fskit-branch.schema.json``.
"""

from __future__ import annotations

from aw_policy import ir
from aw_policy.backends import macos_paths
from aw_policy.bundle import Artifact, dumps

FORMAT = "awpolicy.fskit/1"
ARTIFACT = "fskit-branch.json"
KIND = "fskit-branch"
STORE = "${WORKSPACE}/.awpolicy/agentfs"
#: Where AgentFS mounts its volume; each branch is presented under ``MOUNT/branches/<id>``.
MOUNT = "/Volumes/awpolicy-agentfs"
CONTROL_OPERATIONS = ["create-snapshot", "create-branch", "bind-process"]


def _c(path: str) -> str:
    return macos_paths.canonical(path)


def _depth(spec: ir.BranchSpec, by_name: dict[str, ir.BranchSpec]) -> int:
    depth, seen = 0, {spec.name}
    while spec.parent is not None and spec.parent in by_name and spec.parent not in seen:
        spec = by_name[spec.parent]
        seen.add(spec.name)
        depth += 1
    return depth


def _bound_branch(branches: tuple[ir.BranchSpec, ...]) -> str | None:
    """The branch the launched agent is bound to: 'agent' if defined, else the only leaf."""
    names = {b.name for b in branches}
    if "agent" in names:
        return "agent"
    parents = {b.parent for b in branches}
    leaves = sorted(names - parents)
    return leaves[0] if len(leaves) == 1 else None


def view(branch_id: str) -> str:
    """The directory where processes bound to a branch see its base (through a symlink at the base).
    Enforcers that see resolved paths (Endpoint Security) meet files of a branch here."""
    return f"{MOUNT}/branches/{branch_id}"


def views(policy: ir.Policy) -> list[dict]:
    """Each branch's view and the base it presents, deepest view first (for path translation)."""
    out = [{"branch": b.name, "view": view(b.name), "base": _c(b.base)} for b in policy.branches]
    return sorted(out, key=lambda v: (-v["view"].count("/"), v["view"]))


def manifest(policy: ir.Policy) -> dict:
    by_name = {b.name: b for b in policy.branches}
    ordered = sorted(policy.branches, key=lambda b: (_depth(b, by_name), b.name))
    snapshot_ids: dict[str, str] = {}
    for b in ordered:
        if b.parent is None and _c(b.base) not in snapshot_ids:
            snapshot_ids[_c(b.base)] = f"base-{len(snapshot_ids)}"
    bound = _bound_branch(policy.branches)
    branches = []
    for b in ordered:
        base = _c(b.base)
        entries = [{"path": base, "mode": "copy-on-write" if b.cow else "read-write"}]
        entries += [{"path": _c(p), "mode": "hidden"} for p in b.hide]
        entries += [{"path": _c(p), "mode": "read-only"} for p in b.readonly]
        entries.sort(key=lambda e: (e["path"].count("/"), e["path"], e["mode"]))
        branches.append({
            "id": b.name,
            "parent": b.parent,
            "snapshot": snapshot_ids.get(base) if b.parent is None else None,
            "base": base,
            "upper": f"{STORE}/branches/{b.name}/upper",
            "view": view(b.name),
            "entries": entries,
            "bindings": [{"process": "launch", "inherit": True}] if b.name == bound else [],
            "on_exit": b.on_exit,
            "origin": {"file": b.origin.file, "line": b.origin.line, "col": b.origin.col,
                       "scope": b.origin.scope},
        })
    return {
        "format": FORMAT,
        "control_operations": CONTROL_OPERATIONS,
        "volume": {"id": "awpolicy-agentfs", "store": STORE, "mount": MOUNT} if branches else None,
        "base_snapshots": [{"id": sid, "source": src} for src, sid in snapshot_ids.items()],
        "branches": branches,
    }


def render(policy: ir.Policy, reference: dict[str, str]) -> list[Artifact]:
    return [Artifact(ARTIFACT, KIND, dumps(manifest(policy)))]
