"""AWP206 preset-writes-outside-workspace: a preset or profile grants writes outside the workspace.

What it does
    Finds ``allow write`` rules that come from a preset (``include "NAME"``,
    ``--profile NAME``, or a file in a preset directory linted directly) whose
    path, bound under the reference binding, lies outside the places a
    session owns: ``${WORKSPACE}``, ``${TMPDIR}``, the repository's
    ``${GIT_COMMON_DIR}`` and the device nodes under ``/dev``.

Why is this bad?
    A preset is included by name and rarely read; a write grant it carries is
    easy to miss, and one outside the workspace lets the agent change what
    outlives the session (shell startup files, other tools' config, caches
    other programs trust).

Example
    ``allow read,write "~/.cache/pip"`` in a preset.

Use instead
    Redirect the tool into the workspace with the preset's env block
    (``PIP_CACHE_DIR = "${WORKSPACE}/.awpolicy/cache/pip"``), or, for state the
    tool must keep (an agent's login), keep the grant and say why on the line
    with ``# awpolicy: ignore[AWP206] reason``.
"""

from __future__ import annotations

from pathlib import Path

from aw_policy import ir, paths
from aw_policy.diagnostics import Diagnostic, Severity, Span

CODE = "AWP206"
NAME = "preset-writes-outside-workspace"

#: code -> (name, category, severity, stage), the columns of aw_policy.lint.registry.RULES.
RULES = {CODE: (NAME, "risk", Severity.WARNING, "policy")}

OWNED_PARAMS = ("WORKSPACE", "TMPDIR", "GIT_COMMON_DIR")
OWNED_ROOTS = ("/dev",)


def _from_preset(origin_file: str, preset_dirs: list[Path]) -> str | None:
    """The preset's name when the rule came from one, else None."""
    if origin_file.startswith("preset:"):
        return origin_file[len("preset:"):]
    path = Path(origin_file)
    if path.suffix == ".awp" and any(path.resolve().parent == d for d in preset_dirs):
        return path.stem
    return None


def _inside(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return root == "/" or path == root or path.startswith(root + "/")


def check(policy: ir.Policy, params: dict[str, str] | None = None) -> list[Diagnostic]:
    """AWP206 findings for ``policy`` under ``params`` (default: the reference binding)."""
    from aw_policy.lang.load import preset_dirs

    values = policy.param_defaults() | dict(params or {})
    resolved = paths.resolve_params(values)
    owned = [resolved[p] for p in OWNED_PARAMS if p in resolved] + list(OWNED_ROOTS)
    dirs = [d.resolve() for d in preset_dirs()]
    out: list[Diagnostic] = []
    for rule in policy.rules:
        if rule.op != "write" or rule.effect != "allow" or rule.kind not in ("subtree", "literal", "glob"):
            continue
        preset = _from_preset(rule.origin.file, dirs)
        if preset is None:
            continue
        bound = paths.bind_path(rule.kind, rule.pattern, resolved)
        fixed = bound.text if rule.kind != "glob" else "/" + "/".join(bound.text.split("/")[1 : bound.depth + 1])
        if any(_inside(fixed, root) for root in owned):
            continue
        out.append(Diagnostic(
            CODE, f"preset '{preset}' grants writes outside the workspace: {rule.describe()}",
            Span(rule.origin.file, rule.origin.line, rule.origin.col), Severity.WARNING,
            hint="redirect the tool into ${WORKSPACE}/.awpolicy with the preset's env block, or keep the "
                 "grant with '# awpolicy: ignore[AWP206] why' on the line",
        ))
    return out
