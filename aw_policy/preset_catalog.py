"""Presets: named policy fragments that ``include`` and ``--profile`` compose.

The search path and the lookup are :mod:`aw_policy.lang.load`'s (a directory
named by ``$AWPOLICY_PRESET_PATH``, then the user's config dir, then the ones
shipped in the package; a name found earlier hides a later one). This module
adds what a person browsing them needs: where each one comes from and a
one-line description taken from its header comment, whose first line reads
``# NAME (version N): what it grants``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aw_policy.lang.load import available_presets, bundled_preset_dir, preset_dirs

_HEADER = re.compile(r"#\s*(?P<name>[\w.-]+)\s*(?:\((?P<version>[^)]*)\))?\s*:\s*(?P<rest>.*)")


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    origin: str  # "bundled", "user" or "env" (the $AWPOLICY_PRESET_PATH directories)
    description: str


def describe(text: str, name: str) -> str:
    """The one-line description in a preset's header comment: the text after 'NAME (version N):'
    up to its first ': ' or '. ' (the header may wrap over several comment lines)."""
    header = []
    for line in text.lstrip("\ufeff").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    match = _HEADER.fullmatch(header[0].strip()) if header else None
    if match is None or match["name"] != name:
        return "(no description: the first line should read '# " + name + " (version 1): what it grants')"
    rest = " ".join([match["rest"].strip()] + [line.lstrip("#").strip() for line in header[1:]]) + " "
    cut = min((i for i in (rest.find(": "), rest.find(". ")) if i >= 0), default=len(rest))
    return rest[:cut].rstrip(":.").strip()


def origin_of(path: Path) -> str:
    directory = path.parent.resolve()
    if directory == bundled_preset_dir().resolve():
        return "bundled"
    dirs = [d.resolve() for d in preset_dirs()]
    return "user" if directory == dirs[-2] else "env"


def list_presets() -> list[PresetInfo]:
    """Every preset visible on the search path, by name."""
    out = []
    for name, path in available_presets().items():
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        out.append(PresetInfo(name, path, origin_of(path), describe(text, name)))
    return out


def show_preset(name: str, sources, bundle, fmt: str, fail) -> str:
    """What `awpolicy show --preset NAME` prints: the preset's source text, or with
    --format json its compiled rules. ``fail`` turns a PolicyError into the CLI's error."""
    import click

    from aw_policy.diagnostics import PolicyError
    from aw_policy.lang.load import load_preset

    if sources or bundle:
        raise click.UsageError("--preset shows one preset; give no SOURCE files or --bundle with it")
    try:
        source = load_preset(name)
        if fmt == "text":
            return source.text if source.text.endswith("\n") else source.text + "\n"
        import json

        from aw_policy.merge import merge

        policy = merge([(source, "project")]).policy
        return json.dumps(policy.to_json(), indent=2, sort_keys=True) + "\n"
    except PolicyError as exc:
        raise fail(exc) from None
