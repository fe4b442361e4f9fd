"""Remembered answers to prompts: a cache with a time to live and a scope.

An approval says "the user answered ``allow`` (or ``deny``) for prompt rule R,
access A, everything under SUBJECT, until EXPIRES". It is keyed by the rule's
*fingerprint* (a hash of what the rule means, see ``es-rules.json``), so an
edit that changes the rule invalidates its approvals, and renumbering does not.

Scopes say how far an answer reaches:

- ``session``: this run only; kept in memory, gone when the engine is;
- ``project``: every run in the same project (keyed by the bound workspace);
- ``user`` and ``org``: every run of this user on this machine.

Persisted scopes live as JSON files under a state directory, rewritten
atomically (temporary file, fsync, rename) under an exclusive ``flock`` so two
engines never lose each other's answers. A damaged state file is ignored
(which only means asking again: it can never grant anything). Without a state
directory every scope is kept in memory.

Stdlib only. Time is passed in by the caller (seconds; the same clock as the
events), so expiry is deterministic under replay.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import posixpath
from dataclasses import asdict, dataclass
from pathlib import Path

from aw_runtime.atomic import write_atomic

FORMAT = "awpolicy.approvals/1"
SCOPES = ("session", "user", "project", "org")
PERSISTED = ("user", "project", "org")


@dataclass(frozen=True)
class Approval:
    fingerprint: str  # the prompt rule's meaning
    access: str  # read write exec connect bind signal
    subject: str  # a path (covering everything below it) or an address/target
    answer: str  # allow | deny
    scope: str
    expires: float


def subjects(obj: str) -> list[str]:
    """The subjects an approval for ``obj`` may be stored under: itself, then each ancestor path."""
    if not obj.startswith("/"):
        return [obj]
    out = [obj]
    while obj != "/":
        obj = posixpath.dirname(obj)
        out.append(obj)
    return out


class ApprovalStore:
    def __init__(self, state_dir: str | os.PathLike | None = None, project: str = ""):
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.project = project
        self.ignored_files: list[str] = []  # damaged state files (reported, never trusted)
        self._by_scope: dict[str, dict[tuple[str, str, str], Approval]] = {s: {} for s in SCOPES}
        if self.state_dir is not None:
            for scope in PERSISTED:
                for a in self._read(scope):
                    self._by_scope[scope][(a.fingerprint, a.access, a.subject)] = a

    def lookup(self, fingerprint: str, access: str, obj: str, now: float,
               scopes: tuple[str, ...] = SCOPES) -> Approval | None:
        """The live approval covering ``obj`` (the innermost subject wins; inner scopes first)."""
        for subject in subjects(obj):
            for scope in reversed(scopes):
                found = self._by_scope[scope].get((fingerprint, access, subject))
                if found is not None and now < found.expires:
                    return found
        return None

    def remember(self, approval: Approval, now: float) -> None:
        if approval.scope not in SCOPES:
            raise ValueError(f"unknown approval scope {approval.scope!r}; use one of {', '.join(SCOPES)}")
        key = (approval.fingerprint, approval.access, approval.subject)
        self._by_scope[approval.scope][key] = approval
        if self.state_dir is not None and approval.scope in PERSISTED:
            self._persist(approval.scope, approval, now)

    def count(self, scope: str) -> int:
        return len(self._by_scope[scope])

    # ----------------------------------------------------------------- files

    def file_for(self, scope: str) -> Path:
        assert self.state_dir is not None
        if scope == "project":
            digest = hashlib.sha256(self.project.encode("utf-8")).hexdigest()[:16]
            return self.state_dir / f"approvals-project-{digest}.json"
        return self.state_dir / f"approvals-{scope}.json"

    def _read(self, scope: str) -> list[Approval]:
        path = self.file_for(scope)
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != FORMAT or (scope == "project" and data.get("project") != self.project):
                raise ValueError("not an approvals file of this format and project")
            return [Approval(**{k: item[k] for k in Approval.__dataclass_fields__}) for item in data["approvals"]
                    if item["scope"] == scope and item["answer"] in ("allow", "deny")]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.ignored_files.append(str(path))
            return []

    def _persist(self, scope: str, approval: Approval, now: float) -> None:
        """Merge ``approval`` into the scope's file under an exclusive lock, dropping expired ones."""
        path = self.file_for(scope)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            merged = {(a.fingerprint, a.access, a.subject): a for a in self._read(scope)}
            merged[(approval.fingerprint, approval.access, approval.subject)] = approval
            live = sorted((a for a in merged.values() if a.expires > now),
                          key=lambda a: (a.fingerprint, a.access, a.subject))
            for a in live:
                self._by_scope[scope].setdefault((a.fingerprint, a.access, a.subject), a)
            data = {"format": FORMAT, "scope": scope, "project": self.project if scope == "project" else None,
                    "approvals": [asdict(a) for a in live]}
            write_atomic(path, (json.dumps(data, sort_keys=True, indent=1) + "\n").encode("utf-8"), mode=0o600)
        finally:
            os.close(lock_fd)  # releases the lock

