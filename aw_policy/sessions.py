"""Session records: one JSON file per ``awpolicy run``, ``shell`` or ``attach`` in a worktree.

Kept under ``${XDG_DATA_HOME:-~/.local/share}/awpolicy/sessions/ID.json``: the
repository, worktree, bundle and its manifest hash, bound parameters, flags,
command, start and end times and the exit status; the kind (run, shell,
skill), the agent and ``--cmd``, the directory the command was typed in (flags'
relative paths are relative to it) and ``parent``, the session an ``attach``
re-opened. Written atomically (a
temporary file in the same directory, then rename), so a reader never sees half
a record and a crash leaves the previous version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from aw_runtime.atomic import write_atomic

RECORD_FORMAT = "awpolicy.session/1"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def sessions_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "awpolicy" / "sessions"


@dataclass(frozen=True)
class Session:
    id: str
    name: str
    repo: str
    worktree: str
    branch: str
    bundle: str
    bundle_sha256: str
    params: dict[str, str]
    flags: dict
    command: list[str]
    started: float
    pid: int
    ended: float | None = None
    exit_status: int | None = None
    kind: str = "run"
    agent: str | None = None
    cmd: str | None = None
    parent: str | None = None
    cwd: str = ""
    format: str = field(default=RECORD_FORMAT)

    @property
    def running(self) -> bool:
        return self.ended is None and _alive(self.pid)

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> Session:
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a session record (format {data.get('format')!r})")
        known = {k: data[k] for k in Session.__dataclass_fields__ if k in data}
        session = Session(**known)
        if not _SAFE_ID.fullmatch(str(session.id)):
            raise ValueError(f"session id {session.id!r} is not a plain file name")
        return session


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bundle_hash(bundle: Path | str) -> str:
    """sha256 of the bundle's manifest.json (which hashes every other file)."""
    try:
        return hashlib.sha256((Path(bundle) / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        return ""


def write(session: Session, directory: Path | None = None) -> Path:
    directory = directory or sessions_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{session.id}.json"
    data = (json.dumps(session.to_json(), indent=2, sort_keys=True) + "\n").encode()
    write_atomic(target, data, mode=0o600)  # private to the user, as the data dir is
    return target


def start(*, name: str, repo: str, worktree: str, branch: str, bundle: str, params: dict[str, str],
          flags: dict, command: list[str], directory: Path | None = None, kind: str = "run",
          agent: str | None = None, cmd: str | None = None, parent: str | None = None, cwd: str = "") -> Session:
    now = time.time()
    session_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{name}-{secrets.token_hex(3)}"
    session = Session(session_id, name, repo, worktree, branch, str(bundle), bundle_hash(bundle),
                      dict(params), dict(flags), list(command), now, os.getpid(), kind=kind, agent=agent,
                      cmd=cmd, parent=parent, cwd=cwd)
    write(session, directory)
    return session


def finish(session: Session, exit_status: int, directory: Path | None = None) -> Session:
    done = replace(session, ended=time.time(), exit_status=exit_status)
    write(done, directory)
    return done


def load_all(directory: Path | None = None) -> tuple[list[Session], list[str]]:
    """Every readable record, oldest first, and the names of unreadable ones."""
    directory = directory or sessions_dir()
    found, bad = [], []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            found.append(Session.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, KeyError):
            bad.append(path.name)
    found.sort(key=lambda s: (s.started, s.id))
    return found, bad


def find(key: str, directory: Path | None = None) -> list[Session]:
    """Sessions whose id is ``key``, or starts with it, or whose worktree name is ``key``;
    ``latest``: the most recently started one."""
    sessions, _ = load_all(directory)
    if key == "latest":
        return sessions[-1:]
    exact = [s for s in sessions if s.id == key]
    return exact or [s for s in sessions if s.id.startswith(key) or s.name == key]


def delete(session: Session, directory: Path | None = None) -> None:
    try:
        ((directory or sessions_dir()) / f"{session.id}.json").unlink()
    except FileNotFoundError:
        pass


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


# --------------------------------------------------------------------------- cleaning


@dataclass(frozen=True)
class Cleaned:
    """What cleaning one worktree did: ``removed``, or kept with the reason (``refused``: its
    uncommitted work or a record that does not add up, which the user must look at)."""

    worktree: str
    removed: bool
    message: str
    refused: bool = False


def clean(selected: list[Session], *, force: bool = False, extra_trees: dict[str, tuple[str, str]] | None = None,
          directory: Path | None = None) -> list[Cleaned]:
    """Remove the worktrees of ``selected`` sessions and their records; a worktree with
    uncommitted changes is kept unless ``force``, one a session still runs in always is.

    ``extra_trees``: worktree path -> (repository, branch) of awpolicy worktrees no record
    names (``awpolicy clean --worktree NAME`` of a tree made by hand). The branch always stays."""
    from aw_policy import worktree

    everything, _ = load_all(directory)
    busy = {s.worktree for s in everything if s.running}
    by_tree: dict[str, list[Session]] = {}
    for s in selected:
        by_tree.setdefault(s.worktree, []).append(s)
    trees = {tree: (group[0].repo, group[0].name, group[0].branch) for tree, group in by_tree.items()}
    for tree, (repo, branch) in (extra_trees or {}).items():
        trees.setdefault(tree, (repo, Path(tree).name, branch))
    out = []
    for tree, (repo, name, branch) in sorted(trees.items()):
        group = by_tree.get(tree, [])
        if tree in busy:
            out.append(Cleaned(tree, False, f"kept {tree}: a session is still running in it"))
            continue
        expected = Path(repo) / worktree.WORKTREES / name
        if Path(tree) != expected:  # a record edited by hand must not steer the removal elsewhere
            out.append(Cleaned(tree, False, f"kept {tree}: the record says it is not {expected}", refused=True))
            continue
        try:
            worktree.remove(Path(repo), Path(tree), force=force)
        except worktree.WorktreeError as exc:
            out.append(Cleaned(tree, False, f"kept {tree}: {exc}", refused=True))
            continue
        for s in group:
            delete(s, directory)
        out.append(Cleaned(tree, True, f"removed {tree} ({len(group)} session record(s); branch {branch} kept)"))
    return out


SCRATCH_PREFIXES = ("awpolicy-branch-", ".awpolicy-branch-", "awpolicy-proxy-")


def stale_scratch(tmp: str | None = None) -> list[Path]:
    """Temporary directories a launch makes (a discarded branch's upper and work layers, the domain
    proxy's socket directory) that no running session uses: left behind by a session that was
    killed before it could remove them. In use means mounted in some process's namespace or,
    for a proxy, its socket still answering."""
    import tempfile

    base = Path(tmp or tempfile.gettempdir())
    try:
        candidates = sorted(p for p in base.iterdir() if p.name.startswith(SCRATCH_PREFIXES) and p.is_dir()
                            and not p.is_symlink() and p.stat().st_uid == os.getuid())
    except OSError:
        return []
    if not candidates:
        return []
    mounted = _mounted_text()
    return [p for p in candidates if str(p) not in mounted and not _socket_answers(p / "s")]


def _mounted_text() -> str:
    """Every process's mount table, concatenated (their mount namespaces differ)."""
    seen, parts = set(), []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{entry.name}/ns/mnt")
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{entry.name}/mountinfo", encoding="utf-8", errors="replace") as fh:
                parts.append(fh.read())
        except OSError:
            continue
    return "\n".join(parts)


def _socket_answers(path: Path) -> bool:
    import socket

    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def remove_scratch(paths: list[Path]) -> list[Path]:
    """Remove the given scratch directories; the ones that could not be removed."""
    import shutil

    left = []
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            left.append(path)
    return left
