"""Path patterns: normalization, parameter binding, matching and specificity.

Stdlib only: the runtime imports this at launch.

A pattern is kept symbolic in the IR (``${WORKSPACE}/src``) and bound to real
values at launch. Three kinds:

- ``subtree``: the path and everything below it (a directory boundary is kept:
  ``/a/b`` does not match ``/a/bc``);
- ``literal``: exactly that path;
- ``glob``: ``*`` (any characters but ``/``), ``?`` (one such character) and
  ``**`` as a whole component (any number of components, including none).
  Characters that come from a parameter value are always literal.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

PARAM_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
GLOB_CHARS = frozenset("*?")
KIND_RANK = {"subtree": 0, "glob": 1, "literal": 2}

#: Parameters every policy may use without declaring them.
BUILTIN_PARAMS = ("WORKSPACE", "HOME", "TMPDIR", "GIT_COMMON_DIR")

#: Reference binding used at compile time when ``--param`` does not give a value.
#: Real values are bound at launch; see DESIGN.md "Semantics".
REFERENCE_PARAMS = {
    "HOME": "/home/agent",
    "WORKSPACE": "/home/agent/workspace",
    "TMPDIR": "/tmp",
    "GIT_COMMON_DIR": "${WORKSPACE}/.git",
}


class PathError(ValueError):
    """A pattern that cannot be normalized; the message says why and how to fix it."""


def params_in(text: str) -> list[str]:
    return PARAM_RE.findall(text)


def normalize_pattern(text: str, kind: str = "subtree") -> str:
    """Normalize a symbolic path: ``~`` becomes ``${HOME}``; ``//``, ``.``, ``..`` and a
    trailing ``/`` are removed. ``..`` may not climb over a parameter."""
    if "\x00" in text:
        raise PathError("path contains a NUL character")
    if text == "~" or text.startswith("~/"):
        text = "${HOME}" + text[1:]
    elif text.startswith("~"):
        raise PathError("'~user' paths are not supported; write the absolute path or use ${HOME}")
    if not (text.startswith("/") or text.startswith("${")):
        raise PathError(
            f"path {text!r} is relative; write an absolute path, or start it with ~ or a "
            "parameter such as ${WORKSPACE}"
        )
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                continue  # above the root stays at the root, as the kernel does
            if "${" in parts[-1]:
                raise PathError(
                    f"'..' in {text!r} climbs above a parameter; write the target path directly"
                )
            if kind == "glob" and any(c in parts[-1] for c in GLOB_CHARS):
                raise PathError(f"'..' in {text!r} follows a wildcard; remove it")
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        return "/"
    if text.startswith("${") and parts[0].startswith("${"):
        return "/".join(parts)
    return "/" + "/".join(parts)


def expand(pattern: str, params: dict[str, str]) -> str:
    """Substitute parameters (values are used verbatim; the caller normalizes)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise PathError(f"parameter ${{{name}}} has no value; pass --param {name}=VALUE")
        return params[name]

    return PARAM_RE.sub(repl, pattern)


def resolve_params(values: dict[str, str]) -> dict[str, str]:
    """Expand parameters that refer to other parameters; normalize path values.

    Raises PathError on a cycle or an unknown reference."""
    resolved: dict[str, str] = {}

    def resolve(name: str, stack: tuple[str, ...]) -> str:
        if name in resolved:
            return resolved[name]
        if name in stack:
            raise PathError("parameter cycle: " + " -> ".join((*stack, name)))
        if name not in values:
            raise PathError(f"parameter ${{{name}}} has no value; pass --param {name}=VALUE")
        raw = values[name]
        text = PARAM_RE.sub(lambda m: resolve(m.group(1), (*stack, name)), raw)
        if text.startswith("/"):
            text = posixpath.normpath(text)
            if text.startswith("//"):
                text = "/" + text.lstrip("/")
        resolved[name] = text
        return text

    for key in sorted(values):
        resolve(key, ())
    return resolved


@dataclass(frozen=True)
class BoundPath:
    """A pattern with its parameters bound: ready to match and to rank."""

    kind: str
    text: str  # bound, normalized; for globs, wildcards from the pattern are kept as written
    regex: re.Pattern[str] | None
    depth: int  # fixed leading components

    @property
    def specificity(self) -> tuple[int, int]:
        return (self.depth, KIND_RANK[self.kind])

    def matches(self, path: str) -> bool:
        if self.kind == "literal":
            return path == self.text
        if self.kind == "subtree":
            if self.text == "/":
                return path.startswith("/")
            return path == self.text or path.startswith(self.text + "/")
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def bind_path(kind: str, pattern: str, params: dict[str, str]) -> BoundPath:
    """Bind a normalized symbolic pattern to resolved parameter values."""
    if kind != "glob":
        text = normalize_pattern(expand(pattern, params), kind)
        return BoundPath(kind, text, None, len(_components(text)))
    # Globs: parameter values are literal text, only the pattern's own wildcards are special.
    pieces: list[tuple[str, bool]] = []  # (text, is_from_pattern)
    pos = 0
    for match in PARAM_RE.finditer(pattern):
        pieces.append((pattern[pos : match.start()], True))
        value = params.get(match.group(1))
        if value is None:
            raise PathError(f"parameter ${{{match.group(1)}}} has no value")
        pieces.append((value.rstrip("/") if value != "/" else "", False))
        pos = match.end()
    pieces.append((pattern[pos:], True))
    # Mark each character as wild or literal, then split into components.
    chars: list[tuple[str, bool]] = []
    for text, from_pattern in pieces:
        chars.extend((c, from_pattern and c in GLOB_CHARS) for c in text)
    components: list[list[tuple[str, bool]]] = [[]]
    for c, wild in chars:
        if c == "/" and not wild:
            components.append([])
        else:
            components[-1].append((c, wild))
    comps = [comp for comp in components if comp and "".join(c for c, _ in comp) != "."]
    depth = 0
    for comp in comps:
        if any(w for _, w in comp):
            break
        depth += 1
    regex = ""
    for i, comp in enumerate(comps):
        text = "".join(c for c, _ in comp)
        if text == "**" and all(w for _, w in comp):
            regex += "(?:/[^/]+)*"
            continue
        regex += "/"
        for c, wild in comp:
            if wild and c == "*":
                regex += "[^/]*"
            elif wild and c == "?":
                regex += "[^/]"
            else:
                regex += re.escape(c)
    display = "/" + "/".join("".join(c for c, _ in comp) for comp in comps)
    return BoundPath("glob", display, re.compile(regex or "/"), depth)


def normalize_request_path(path: str) -> str:
    """Requests are absolute paths; normalize them the way patterns are."""
    if not path.startswith("/"):
        raise PathError(f"request path {path!r} must be absolute")
    return normalize_pattern(path, "literal")
