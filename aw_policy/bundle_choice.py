"""Which bundle `awpolicy shell`, `attach`, `run --agent` and skills apply when none is named.

Order, first match wins:

1. ``--bundle DIR`` given on the command line;
2. ``$AWPOLICY_BUNDLE``;
3. ``<git top level of the current directory>/.awpolicy/bundle`` when it holds a
   ``manifest.json`` (in a linked worktree, the worktree's own, then the main
   working tree's);
4. the default bundle: the bundled ``workspace`` preset (workspace and temp
   read/write, the system read-only, no network), plus ``git-worktree`` inside
   a git repository (commits work from a linked worktree; hooks and config stay
   read-only) and the agent's preset with ``--agent``, compiled on first use into
   ``${XDG_CACHE_HOME:-~/.cache}/awpolicy/bundles/<hash>``. The hash covers the
   presets and the compiler's own code, so a change to either compiles afresh;
   a cached bundle that no longer verifies is compiled again.

A named bundle (1, 2) that is not a bundle directory is an error, never a
reason to fall through to a looser one: the launch is refused.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "AWPOLICY_BUNDLE"
REPO_BUNDLE = Path(".awpolicy") / "bundle"
DEFAULT_PRESET = "workspace"
GIT_PRESET = "git-worktree"
MANIFEST = "manifest.json"

#: What --help shows for --bundle.
HELP = ("Bundle to apply. Default: $AWPOLICY_BUNDLE, else <git top>/.awpolicy/bundle, else the built-in "
        "'workspace' policy (workspace and temp read/write, system read-only, no network), compiled once "
        "into ~/.cache/awpolicy/bundles.")

# Package parts whose code decides what a compiled bundle contains.
_COMPILER_PARTS = ("backends", "sbpl", "lang", "bundle.py", "ir.py", "paths.py", "merge.py")


class BundleChoiceError(Exception):
    """No usable bundle; the message says what was tried and how to fix it."""


def resolve_bundle(explicit: str | None, *, cwd: str, environ: Mapping[str, str], agent: str | None = None) -> str:
    """The bundle directory to apply (see the module docstring for the order)."""
    if explicit:
        return _named(explicit, "--bundle", cwd)
    if environ.get(ENV_VAR):
        return _named(environ[ENV_VAR], f"${ENV_VAR}", cwd)
    tops = _repo_tops(cwd, environ)
    for top in tops:
        candidate = top / REPO_BUNDLE
        if (candidate / MANIFEST).is_file():
            return str(candidate)
    return default_bundle(environ, agent, in_repository=bool(tops))


def _named(path: str, how: str, cwd: str) -> str:
    full = Path(cwd, os.path.expanduser(path))
    if not full.is_dir():
        raise BundleChoiceError(f"{how} {path}: no such directory; compile one with "
                                f"`awpolicy compile POLICY... -o {path}`, or leave {how} out for the default")
    if not (full / MANIFEST).is_file():
        raise BundleChoiceError(f"{how} {path}: not a bundle (no {MANIFEST}); "
                                f"compile one with `awpolicy compile POLICY... -o {path}`")
    return str(full)


def _repo_tops(cwd: str, environ: Mapping[str, str]) -> list[Path]:
    """The git top level of ``cwd`` and, in a linked worktree, the main working tree."""
    from aw_runtime.launcher import git_paths

    top, common = git_paths(cwd, environ)
    tops = [Path(top)] if top else []
    if common and Path(common).name == ".git" and Path(common).parent not in tops:
        tops.append(Path(common).parent)
    return tops


def default_presets(agent: str | None, in_repository: bool) -> tuple[str, ...]:
    names = [DEFAULT_PRESET]
    if in_repository:
        names.append(GIT_PRESET)
    if agent is not None:
        from aw_policy.agents import get_agent

        names.append(get_agent(agent).preset)
    return tuple(names)


def cache_root(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(base) / "awpolicy" / "bundles"


def default_bundle(environ: Mapping[str, str], agent: str | None = None, *, in_repository: bool = False) -> str:
    """The built-in policy's bundle, compiled on first use (atomically) and cached by content hash."""
    names = default_presets(agent, in_repository)
    target = cache_root(environ) / _content_hash(names)
    if (target / MANIFEST).is_file() and _verifies(target):
        return str(target)
    try:
        _compile_presets(names, target)
    except OSError as exc:
        raise BundleChoiceError(f"cannot write the default bundle to {target}: {exc.strerror or exc}; "
                                "set XDG_CACHE_HOME to a writable directory, or pass --bundle DIR") from None
    return str(target)


def _verifies(path: Path) -> bool:
    from aw_runtime.verify import BundleError, verify_bundle

    try:
        verify_bundle(str(path), None)
    except BundleError:
        return False
    return True


def _content_hash(names: tuple[str, ...]) -> str:
    """sha256 over the awpolicy version, every preset on the search path and the compiler's code."""
    from aw_policy import __version__

    digest = hashlib.sha256(f"awpolicy default bundle\0{__version__}\0{','.join(names)}\0".encode())
    for directory in _preset_dirs():  # any preset may be included; all are small
        for path in sorted(directory.glob("*.awp")) if directory.is_dir() else ():
            digest.update(f"preset {path}\0".encode() + _read(path) + b"\0")
    package = Path(__file__).resolve().parent
    for part in _COMPILER_PARTS:
        files = sorted((package / part).rglob("*.py")) if (package / part).is_dir() else [package / part]
        for path in files:
            digest.update(f"code {path.relative_to(package).as_posix()}\0".encode() + _read(path) + b"\0")
    return digest.hexdigest()[:32]


def _preset_dirs() -> list[Path]:
    """The preset search path of ``aw_policy.lang.load.preset_dirs``, restated here because importing
    that module loads the parser's AST models (pydantic, ~80 ms) on a path that only needs a hash.
    tests/everyday/test_bundle_choice.py checks that the two agree."""
    dirs = [Path(p) for p in os.environ.get("AWPOLICY_PRESET_PATH", "").split(os.pathsep) if p]
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return dirs + [Path(config) / "awpolicy" / "presets", Path(__file__).resolve().parent / "presets"]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _compile_presets(names: tuple[str, ...], target: Path) -> None:
    from aw_policy.bundle import build, write_tree
    from aw_policy.diagnostics import PolicyError
    from aw_policy.lang.load import Source, parse_text
    from aw_policy.merge import merge

    display = "default:" + "+".join(names)
    text = "scope project\n" + "".join(f'include "{name}"\n' for name in names)
    try:
        parsed = parse_text(text, display, yaml_syntax=False)
        source = Source(display, display, text, hashlib.sha256(text.encode()).hexdigest(), parsed)
        files = build(merge([(source, "project")]).policy, {})
    except PolicyError as exc:
        d = exc.diagnostics[0]
        raise BundleChoiceError(f"the default policy ({', '.join(names)}) does not compile: "
                                f"{d.span.file}:{d.span.line}:{d.span.col}: {d.message}; fix or remove the "
                                "preset of that name on $AWPOLICY_PRESET_PATH, or pass --bundle DIR") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    write_tree(target, files)
