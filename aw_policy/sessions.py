"""Session records: one JSON file per ``awpolicy run`` that used ``--worktree``.

Kept under ``${XDG_DATA_HOME:-~/.local/share}/awpolicy/sessions/ID.json``: the
repository, worktree, bundle and its manifest hash, bound parameters, flags,
command, start and end times and the exit status. Written atomically (a
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
          flags: dict, command: list[str], directory: Path | None = None) -> Session:
    now = time.time()
    session_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{name}-{secrets.token_hex(3)}"
    session = Session(session_id, name, repo, worktree, branch, str(bundle), bundle_hash(bundle),
                      dict(params), dict(flags), list(command), now, os.getpid())
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
    """Sessions whose id is ``key``, or starts with it, or whose worktree name is ``key``."""
    sessions, _ = load_all(directory)
    exact = [s for s in sessions if s.id == key]
    return exact or [s for s in sessions if s.id.startswith(key) or s.name == key]


def delete(session: Session, directory: Path | None = None) -> None:
    try:
        ((directory or sessions_dir()) / f"{session.id}.json").unlink()
    except FileNotFoundError:
        pass


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))
