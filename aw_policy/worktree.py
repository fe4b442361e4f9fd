"""Git worktrees for agent sessions: ``awpolicy run --worktree NAME [--base REF]``.

A session's worktree lives under the repository's ``.awpolicy/worktrees/NAME``
on the branch ``awpolicy/NAME``; it is created on first use and reused after.
The session binds ``WORKSPACE`` to the worktree and ``GIT_COMMON_DIR`` to the
repository's common git dir (where a linked worktree's commits land).
Everything is done by the ``git`` command itself, so git's own locking and
bookkeeping (``git worktree list``, ``prune``) stay right.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BRANCH_PREFIX = "awpolicy/"
WORKTREES = Path(".awpolicy") / "worktrees"


class WorktreeError(Exception):
    """A worktree operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Worktree:
    name: str
    repo: Path  # the main working tree
    path: Path
    git_common_dir: Path
    branch: str
    created: bool = False

    def params(self) -> dict[str, str]:
        """The launch parameters a session in this worktree binds."""
        return {"WORKSPACE": str(self.path), "GIT_COMMON_DIR": str(self.git_common_dir)}


def git(*args: str, cwd: Path | str, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # no inherited GIT_DIR & co
    env["LC_ALL"] = "C"
    if not Path(cwd).is_dir():
        raise WorktreeError(f"{cwd} no longer exists")
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise WorktreeError("git is not installed (or not on PATH)") from None
    if check and done.returncode != 0:
        raise WorktreeError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name) or ".." in name or name.endswith((".lock", ".")):
        raise WorktreeError(f"worktree name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return name


def find_repo(start: Path | str = ".") -> tuple[Path, Path]:
    """(main working tree, common git dir) of the repository containing ``start``."""
    start = Path(start)
    if not start.is_dir():
        raise WorktreeError(f"{start} is not a directory")
    common = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=start, check=False).strip()
    if not common:
        raise WorktreeError(f"{start.resolve()} is not inside a git repository; --worktree needs one")
    common_dir = Path(common).resolve()
    if git("rev-parse", "--is-bare-repository", cwd=start).strip() == "true":
        raise WorktreeError(f"{common_dir} is a bare repository; run from a working tree")
    return common_dir.parent, common_dir


def _registered(repo: Path) -> dict[Path, str]:
    """Worktrees git knows: path -> branch ('' when detached)."""
    out: dict[Path, str] = {}
    path = None
    for line in git("worktree", "list", "--porcelain", cwd=repo).splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree "):]).resolve()
            out[path] = ""
        elif line.startswith("branch ") and path is not None:
            out[path] = line[len("branch refs/heads/"):]
    return out


def _ignore_awpolicy_dir(repo: Path) -> None:
    """Keep .awpolicy/ (worktrees, logs, redirected homes) out of the repository's status."""
    directory = repo / ".awpolicy"
    directory.mkdir(exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by awpolicy: session worktrees, logs and redirected homes\n*\n")


def ensure(name: str, *, start: Path | str = ".", base: str | None = None) -> Worktree:
    """Create the worktree ``name`` (branch ``awpolicy/NAME`` from ``base``, default HEAD), or reuse it."""
    check_name(name)
    repo, common = find_repo(start)
    path = (repo / WORKTREES / name).resolve()
    branch = BRANCH_PREFIX + name
    known = _registered(repo)
    if path in known:
        if not path.is_dir():
            raise WorktreeError(f"worktree {path} is registered but missing; run `git worktree prune`")
        return Worktree(name, repo, path, common, known[path] or branch, created=False)
    if path.exists():
        raise WorktreeError(f"{path} exists but is not a git worktree; move it away or pick another name")
    _ignore_awpolicy_dir(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    has_branch = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo, check=False).strip()
    if has_branch:
        if base is not None:
            raise WorktreeError(f"branch {branch} already exists; drop --base to reuse it, "
                                f"or delete it with `git branch -D {branch}`")
        git("worktree", "add", str(path), branch, cwd=repo)
    else:
        git("worktree", "add", "-b", branch, str(path), base or "HEAD", cwd=repo)
    _ignore_awpolicy_dir(path)  # the session's redirected homes and caches are not its work
    return Worktree(name, repo, path, common, branch, created=True)


def changes(path: Path) -> list[str]:
    """Uncommitted changes (including untracked files) of a worktree, as git status lines."""
    return [line for line in git("status", "--porcelain", "--untracked-files=all", cwd=path).splitlines() if line]


def remove(repo: Path, path: Path, *, force: bool = False) -> None:
    """Remove a worktree; refuses one with uncommitted changes unless ``force``.

    The branch stays: its commits are the session's work."""
    path = Path(path)
    if not Path(repo).is_dir():
        if path.exists():
            raise WorktreeError(f"its repository {repo} no longer exists; remove {path} by hand")
        return  # repository and worktree both gone: nothing left to remove
    if path.is_dir():
        pending = changes(path)
        if pending and not force:
            raise WorktreeError(f"{path} has {len(pending)} uncommitted change(s) (e.g. {pending[0].strip()}); "
                                "commit them, or pass --force to delete them")
    if Path(path).resolve() in _registered(repo):
        git("worktree", "remove", *(["--force"] if force else []), str(path), cwd=repo)
    git("worktree", "prune", cwd=repo, check=False)


def listed(repo: Path) -> dict[str, tuple[str, str]]:
    """awpolicy's worktrees of ``repo`` (those under .awpolicy/worktrees): path -> (repository, branch)."""
    root = (Path(repo) / WORKTREES).resolve()
    return {str(path): (str(repo), branch) for path, branch in _registered(Path(repo)).items()
            if path.parent == root}
