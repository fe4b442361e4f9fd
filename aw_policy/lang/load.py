"""Read policy sources from disk and resolve their includes.

A source is read as bytes (size-limited, UTF-8 checked), parsed by the front
end its name asks for, and its ``include`` statements are resolved: bundled
presets by name, other files relative to the including file. Include cycles
are errors that name the chain.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aw_policy.diagnostics import Diagnostic, PolicyError, Span, did_you_mean
from aw_policy.lang import ast

MAX_SOURCE_BYTES = 4 * 1024 * 1024
DSL_SUFFIXES = (".awp",)
YAML_SUFFIXES = (".awp.yaml", ".awp.yml", ".yaml", ".yml")
PRESET_ENV = "AWPOLICY_PRESET_PATH"


@dataclass(frozen=True)
class Source:
    """One parsed file: where it is, how diagnostics name it, its text and its AST."""

    real: str  # absolute path, or "preset:NAME"
    display: str
    text: str
    sha256: str
    file: ast.PolicyFile


def decode_source(data: bytes, display: str) -> str:
    """Bytes -> text, refusing what is not a policy: oversized, non-UTF-8, NUL bytes."""
    if len(data) > MAX_SOURCE_BYTES:
        raise PolicyError(Diagnostic(
            "AWP006", f"file is {len(data):,} bytes; the limit for a policy source is {MAX_SOURCE_BYTES:,}",
            Span(display, 1, 1), hint="split the policy into files joined with include",
        ))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise PolicyError(Diagnostic(
            "AWP004", f"file is not UTF-8 (byte 0x{data[exc.start]:02x})", Span(display, line, col),
            hint="save the file as UTF-8",
        )) from None
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise PolicyError(Diagnostic("AWP004", "file contains a NUL byte", Span(display, line, col),
                                     hint="policy sources are text files"))
    return text


def is_yaml(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES)


@lru_cache(maxsize=64)
def parse_text(text: str, display: str, yaml_syntax: bool) -> ast.PolicyFile:
    """The AST of one source. Cached: the tree is immutable and a pure function of the
    arguments, and the presets a linted tree of policies includes are the same every time."""
    if not text.strip():
        raise PolicyError(Diagnostic("AWP005", "policy file is empty", Span(display, 1, 1),
                                     hint="add at least a 'scope' line and one rule, or delete the file"))
    if yaml_syntax:
        from aw_policy.lang.yaml_loader import parse_yaml

        parsed = parse_yaml(text, display)
    else:
        from aw_policy.lang.dsl import parse_dsl

        parsed = parse_dsl(text, display)
    if not parsed.statements and parsed.scope is None:
        raise PolicyError(Diagnostic("AWP005", "policy file has no statements", Span(display, 1, 1),
                                     hint="add a 'scope' line and rules, or delete the file"))
    return parsed


def read_source(path: Path, display: str) -> Source:
    try:
        if path.is_dir():
            raise PolicyError(Diagnostic("AWP007", "is a directory, not a policy file", Span(display, 1, 1),
                                         hint="name the .awp or .awp.yaml files to use"))
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(Diagnostic("AWP007", "file not found", Span(display, 1, 1),
                                     hint="check the path; policy files end in .awp or .awp.yaml")) from None
    except OSError as exc:
        raise PolicyError(Diagnostic("AWP007", f"cannot read file: {exc.strerror}", Span(display, 1, 1),
                                     hint="check the file's permissions")) from None
    text = decode_source(data, display)
    parsed = parse_text(text, display, is_yaml(path.name))
    return Source(str(path.resolve()), display, text, hashlib.sha256(data).hexdigest(), parsed)


# --------------------------------------------------------------------------- presets


def preset_dirs() -> list[Path]:
    """Search path: $AWPOLICY_PRESET_PATH (os.pathsep list), the user's config dir, the bundled ones."""
    dirs: list[Path] = []
    env = os.environ.get(PRESET_ENV)
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    dirs.append(Path(config) / "awpolicy" / "presets")
    dirs.append(Path(__file__).resolve().parent.parent / "presets")
    return dirs


def available_presets() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in reversed(preset_dirs()):
        if directory.is_dir():
            for entry in sorted(directory.glob("*.awp")):
                found[entry.name[: -len(".awp")]] = entry
    return dict(sorted(found.items()))


def bundled_preset_dir() -> Path:
    return preset_dirs()[-1]


def is_preset_name(target: str) -> bool:
    return "/" not in target and not target.endswith(DSL_SUFFIXES + YAML_SUFFIXES)


def load_preset(name: str, span: Span | None = None) -> Source:
    presets = available_presets()
    if name not in presets:
        hint = did_you_mean(name, presets) or ("available presets: " + ", ".join(presets))
        raise PolicyError(Diagnostic("AWP022", f"unknown preset '{name}'", span or Span(name, 1, 1), hint=hint))
    path = presets[name]
    source = read_source(path, f"preset:{name}")
    return Source(f"preset:{name}", f"preset:{name}", source.text, source.sha256, source.file)


# --------------------------------------------------------------------------- includes


@dataclass(frozen=True)
class Unit:
    """A statement with the source it came from and the scope of its layer."""

    statement: ast.Statement
    source: Source
    scope: str


def expand_includes(top: Source, scope: str, display_for) -> tuple[list[Unit], list[Source]]:
    """Flatten a top-level source and everything it includes, in source order.

    Returns the units and every source file read (for the manifest)."""
    units: list[Unit] = []
    sources: list[Source] = []
    seen: set[str] = set()

    def visit(source: Source, stack: tuple[tuple[str, Span | None], ...]) -> None:
        if source.real in seen:
            return
        seen.add(source.real)
        sources.append(source)
        declared = source.file.scope
        if declared is not None and declared != scope:
            raise PolicyError(Diagnostic(
                "AWP024", f"included file declares scope '{declared}' but is included into the {scope} layer",
                source.file.scope_span or Span(source.display, 1, 1),
                hint="remove the 'scope' line from the included file; it takes the scope of the file that includes it",
            ))
        for statement in source.file.statements:
            if not isinstance(statement, ast.Include):
                units.append(Unit(statement, source, scope))
                continue
            child = _resolve_include(statement, source, display_for)
            chain = [real for real, _ in stack] + [source.real]
            if child.real in chain:
                names = [display for display in _chain_names(stack, source)] + [child.display]
                raise PolicyError(Diagnostic(
                    "AWP021", "include cycle: " + " -> ".join(names), statement.span,
                    hint="remove one of the includes in the cycle",
                ))
            visit(child, (*stack, (source.real, statement.span)))

    def _chain_names(stack, source):
        by_real = {s.real: s.display for s in sources}
        return [by_real.get(real, real) for real, _ in stack] + [source.display]

    visit(top, ())
    return units, sources


def _resolve_include(statement: ast.Include, includer: Source, display_for) -> Source:
    target = statement.target
    if is_preset_name(target):
        return load_preset(target, statement.span)
    if includer.real.startswith("preset:"):
        base = Path(available_presets()[includer.real[len("preset:"):]]).parent
    else:
        base = Path(includer.real).parent
    path = (base / target).resolve()
    if not path.exists():
        raise PolicyError(Diagnostic(
            "AWP022", f"included file '{target}' not found", statement.span,
            hint=f"paths are relative to the including file's folder ({base})",
        ))
    return read_source(path, display_for(path))
