"""Path patterns: normalization, parameter binding, matching and specificity.

Stdlib only (and :mod:`aw_runtime.record`): the runtime imports this at launch.

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

import functools
import posixpath
import re

from aw_runtime.record import Record

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
    if not text.startswith(("/", "${")):
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


class BoundPath(Record):
    """A pattern with its parameters bound: ready to match and to rank."""

    kind: str
    text: str  # bound, normalized; for globs, wildcards from the pattern are kept as written
    pattern: str | None  # globs whose values hold wildcards: the regex source; else derived from text
    depth: int  # fixed leading components

    @property
    def specificity(self) -> tuple[int, int]:
        return (self.depth, KIND_RANK[self.kind])

    @property
    def anchor(self) -> str:
        """The directory of the fixed leading components: every path this matches is it or below it."""
        return "/" + "/".join(_components(self.text)[: self.depth])

    def matches(self, path: str) -> bool:
        if self.kind == "literal":
            return path == self.text
        if self.kind == "subtree":
            if self.text == "/":
                return path.startswith("/")
            return path == self.text or path.startswith(self.text + "/")
        return self.regex.fullmatch(path) is not None

    @property
    def regex(self) -> re.Pattern[str]:
        """Compiled on first use: ranking rules never needs it, only matching does."""
        assert self.kind == "glob", "only globs have a regex"
        return _compile(self.pattern if self.pattern is not None else _plain_glob_regex(self.text))

    @property
    def name_regex(self) -> re.Pattern[str] | None:
        """What the last component of every path this glob matches fullmatches: a quick first test
        when a walk meets thousands of names. None when any name could match (``**`` last, or
        wildcards that came from a parameter's value)."""
        assert self.kind == "glob", "only globs have a regex"
        last = self.text.rsplit("/", 1)[-1]
        if self.pattern is not None or last == "**":
            return None
        return _compile(_glob_component_regex(last))


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _glob_component_regex(comp: str) -> str:
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in comp)


def _bind_plain_glob(pattern: str, params: dict[str, str]) -> BoundPath:
    """The common case: no parameter value holds a wildcard, so every * and ? is the pattern's."""
    def value(match: re.Match) -> str:
        v = params.get(match.group(1))
        if v is None:
            raise PathError(f"parameter ${{{match.group(1)}}} has no value")
        return v.rstrip("/") if v != "/" else ""

    comps = [c for c in PARAM_RE.sub(value, pattern).split("/") if c and c != "."]
    depth = next((i for i, c in enumerate(comps) if "*" in c or "?" in c), len(comps))
    return BoundPath("glob", "/" + "/".join(comps), None, depth)


@functools.lru_cache(maxsize=65536)  # matching a glob against thousands of paths must not rebuild it each time
def _plain_glob_regex(text: str) -> str:
    comps = [c for c in text.split("/") if c]
    return "".join("(?:/[^/]+)*" if c == "**" else "/" + _glob_component_regex(c) for c in comps) or "/"


# re's own cache holds 512 patterns; a policy with thousands of globs is bound by every
# backend in turn, so keep the compiled globs for as long as the process lives.
_compile = functools.lru_cache(maxsize=65536)(re.compile)


def bind_path(kind: str, pattern: str, params: dict[str, str]) -> BoundPath:
    """Bind a normalized symbolic pattern to resolved parameter values."""
    # Every backend binds every rule again; the result depends only on these values.
    used = tuple((name, params.get(name)) for name in PARAM_RE.findall(pattern)) if "${" in pattern else ()
    return _bind_path(kind, pattern, used)


@functools.lru_cache(maxsize=65536)
def _bind_path(kind: str, pattern: str, used: tuple[tuple[str, str | None], ...]) -> BoundPath:
    params = {name: value for name, value in used if value is not None}
    if kind != "glob":
        text = normalize_pattern(expand(pattern, params), kind)
        return BoundPath(kind, text, None, len(_components(text)))
    # Globs: parameter values are literal text, only the pattern's own wildcards are special.
    if not any(c in GLOB_CHARS for _, value in used if value for c in value):
        return _bind_plain_glob(pattern, params)
    return _bind_marked_glob(pattern, params)


def _bind_marked_glob(pattern: str, params: dict[str, str]) -> BoundPath:
    """The general case: each character marked as the pattern's (maybe wild) or a value's (literal)."""
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
    return BoundPath("glob", display, regex or "/", depth)


def normalize_request_path(path: str) -> str:
    """Requests are absolute paths; normalize them the way patterns are."""
    if not path.startswith("/"):
        raise PathError(f"request path {path!r} must be absolute")
    return normalize_pattern(path, "literal")


class PathIndex:
    """Items keyed by absolute path, asked for those at, above or below a path in O(depth + hits).

    Every key is also filed, in sorted order, under each of its prefixes that a ``/`` follows (the
    root's is ""), so the keys below ``p`` (those starting with ``p + "/"``) are one lookup.
    """

    def __init__(self, items):
        self._at: dict[str, list] = {}
        for path, item in items:
            self._at.setdefault(path, []).append(item)
        self._below: dict[str, list[str]] = {}
        for key in sorted(self._at):
            slash = key.find("/") if key != "/" else -1
            while slash >= 0:
                self._below.setdefault(key[:slash], []).append(key)
                slash = key.find("/", slash + 1)

    def above_or_at(self, path: str) -> list:
        out, current = list(self._at.get("/", ())), ""
        for part in path.split("/"):
            if part:
                current += "/" + part
                out.extend(self._at.get(current, ()))
        return out

    def below(self, path: str) -> list:
        out = []
        for key in self._below.get(path.rstrip("/"), ()):
            out.extend(self._at[key])
        return out

    def related(self, path: str) -> list:
        """Items at the path, at its ancestors and below it."""
        return self.above_or_at(path) + self.below(path)

