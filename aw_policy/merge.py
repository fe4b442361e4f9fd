"""Merge: sources of every scope -> one IR :class:`~aw_policy.ir.Policy`.

Layers are taken org -> project -> user -> session (command-line order within a
scope); every rule keeps its provenance (file, position, scope). This is also
where a statement's meaning is checked: paths normalize, hosts parse, params
exist, ``enforce`` appears only where it can hold. All problems found are
reported together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aw_policy import ir, paths
from aw_policy.diagnostics import Diagnostic, PolicyError, Span, did_you_mean
from aw_policy.lang import ast
from aw_policy.lang.load import Source, Unit, expand_includes, read_source

ENFORCE_SCOPES = ("org", "project")


@dataclass(frozen=True)
class Merged:
    policy: ir.Policy
    sources: tuple[Source, ...]  # every file read, top-level and included, in merge order


def display_relative_to(base: Path | None) -> Callable[[Path], str]:
    """How a file is named in diagnostics and in the bundle: relative to ``base`` when given."""

    def name(path: Path) -> str:
        if base is None:
            rel = os.path.relpath(path)
            return str(path.absolute()) if rel.startswith("..") else rel
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()

    return name


def load_layers(
    files: Sequence[str | Path],
    *,
    display_for: Callable[[Path], str] | None = None,
    default_scope: str | None = None,
    extra: Sequence[Source] = (),
) -> list[tuple[Source, str]]:
    """Read each top-level source and decide its scope; returns (source, scope) in merge order."""
    display_for = display_for or display_relative_to(None)
    layers: list[tuple[Source, str]] = []
    errors: list[Diagnostic] = []
    for raw in files:
        path = Path(raw)
        try:
            source = read_source(path, display_for(path) if path.exists() else str(raw))
        except PolicyError as exc:
            errors.extend(exc.diagnostics)
            continue
        scope = source.file.scope or default_scope
        if scope is None:
            errors.append(Diagnostic(
                "AWP024", "policy file declares no scope", Span(source.display, 1, 1),
                hint="add a first line such as 'scope project' (org, project, user or session)",
            ))
            continue
        layers.append((source, scope))
    for source in extra:
        layers.append((source, source.file.scope or "session"))
    if errors:
        raise PolicyError(errors)
    order = {s: i for i, s in enumerate(ast.SCOPES)}
    return sorted(layers, key=lambda pair: order[pair[1]])  # stable: command-line order within a scope


def merge(layers: Sequence[tuple[Source, str]], *, display_for: Callable[[Path], str] | None = None) -> Merged:
    display_for = display_for or display_relative_to(None)
    units: list[Unit] = []
    sources: list[tuple[Source, str]] = []
    for source, scope in layers:
        u, s = expand_includes(source, scope, display_for)
        units += u
        sources += [(one, scope) for one in s]
    return Merged(_build_policy(units, sources), tuple(s for s, _ in sources))


def compile_sources(files: Sequence[str | Path], **kwargs) -> Merged:
    display_for = kwargs.pop("display_for", None)
    return merge(load_layers(files, display_for=display_for, **kwargs), display_for=display_for)


# --------------------------------------------------------------------------- building


def _origin(span: Span, scope: str) -> ir.Origin:
    return ir.Origin(span.file, span.line, span.col, scope)


def _build_policy(units: list[Unit], sources: list[tuple[Source, str]]) -> ir.Policy:
    errors: list[Diagnostic] = []
    rules: list[ir.Rule] = []
    params: dict[str, ir.ParamDecl] = {}
    branches: dict[str, ir.BranchSpec] = {}
    env_set: dict[str, str] = {}
    env_pass: list[str] = []
    param_uses: list[tuple[str, Span]] = []

    def add_rule(**fields) -> None:
        rules.append(ir.Rule(id=f"r{len(rules) + 1}", **fields))

    def path_pattern(target: ast.Target, *, exec_any: bool = False) -> str | None:
        value = target.value
        if exec_any and value == "*" and target.kind == "subtree":
            return "/"
        if target.kind == "subtree" and any(c in value for c in "*?"):
            errors.append(Diagnostic(
                "AWP025", f"path {value!r} contains a wildcard", target.span,
                hint=f'write glob "{value}" for a pattern, or literal "{value}" for a name containing * or ?',
            ))
            return None
        try:
            pattern = paths.normalize_pattern(value, target.kind)
        except paths.PathError as exc:
            errors.append(Diagnostic("AWP025", f"invalid path: {exc}", target.span))
            return None
        param_uses.extend((name, target.span) for name in paths.params_in(pattern))
        return pattern

    for unit in units:
        st, scope = unit.statement, unit.scope
        if isinstance(st, ast.Rule):
            if st.enforce and scope not in ENFORCE_SCOPES:
                errors.append(Diagnostic(
                    "AWP023", f"'enforce' is not allowed in {scope} scope", st.span,
                    hint="only org and project policies can enforce a rule; drop 'enforce' "
                         "or move the rule to the org or project policy",
                ))
                continue
            for target in st.targets:
                pattern = _target_pattern(st, target, path_pattern, errors)
                if pattern is None:
                    continue
                for op in st.ops:
                    add_rule(
                        op="mach" if st.section == "mach" else op, cls=st.section, effect=st.effect,
                        kind=target.kind, pattern=pattern, scope=scope,
                        origin=_origin(target.span, scope), enforce=st.enforce, audit=st.audit,
                    )
        elif isinstance(st, ast.Default):
            for cls in (ir.CLASSES if st.section == "all" else (st.section,)):
                add_rule(op="*", cls=cls, effect=st.effect, kind="default", pattern="*",
                         scope=scope, origin=_origin(st.span, scope))
        elif isinstance(st, ast.Param):
            if st.name in paths.BUILTIN_PARAMS:
                errors.append(Diagnostic(
                    "AWP027", f"${{{st.name}}} is built in and bound at launch", st.span,
                    hint="remove this declaration; pass --param to set its reference value",
                ))
            elif st.name in params and params[st.name].default != st.default:
                first = params[st.name].origin
                errors.append(Diagnostic(
                    "AWP027", f"parameter {st.name} is declared twice with different defaults", st.span,
                    hint="keep one declaration",
                    related=(("first declared here", Span(first.file, first.line, first.col)),),
                ))
            else:
                params.setdefault(st.name, ir.ParamDecl(st.name, st.default, _origin(st.span, scope)))
                if st.default:
                    param_uses.extend((n, st.span) for n in paths.params_in(st.default))
        elif isinstance(st, ast.Branch):
            spec = _branch(st, scope, path_pattern, errors)
            if spec is not None:
                if st.name in branches:
                    first = branches[st.name].origin
                    errors.append(Diagnostic(
                        "AWP028", f"branch '{st.name}' is defined twice", st.span,
                        hint="give each branch its own name",
                        related=(("first defined here", Span(first.file, first.line, first.col)),),
                    ))
                else:
                    branches[st.name] = spec
        elif isinstance(st, ast.EnvSet):
            env_set[st.name] = st.value  # inner layers come later and win
            param_uses.extend((n, st.span) for n in paths.params_in(st.value))
        elif isinstance(st, ast.EnvPass) and st.name not in env_pass:
            env_pass.append(st.name)

    known = set(paths.BUILTIN_PARAMS) | set(params)
    for name, span in param_uses:
        if name not in known:
            hint = did_you_mean(name, known)
            errors.append(Diagnostic(
                "AWP020", f"unknown parameter ${{{name}}}", span,
                hint=(hint + " " if hint else "") + f"declare it with: param {name} = \"VALUE\"",
            ))
    for spec in branches.values():
        if spec.parent is not None and spec.parent not in branches:
            errors.append(Diagnostic(
                "AWP028", f"branch '{spec.name}' names unknown parent '{spec.parent}'",
                Span(spec.origin.file, spec.origin.line, spec.origin.col),
                hint=did_you_mean(spec.parent, branches) or "define the parent branch",
            ))
    if errors:
        raise PolicyError(_dedupe(errors))
    builtin = tuple(ir.ParamDecl(n, None, None) for n in paths.BUILTIN_PARAMS)
    return ir.Policy(
        rules=tuple(rules),
        params=builtin + tuple(params[n] for n in sorted(params)),
        branches=tuple(branches[n] for n in sorted(branches)),
        env_set=tuple(sorted(env_set.items())),
        env_pass=tuple(sorted(env_pass)),
        sources=tuple(ir.SourceInfo(s.display, scope, s.sha256) for s, scope in sources),
    )


def _dedupe(errors: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for d in errors:
        key = (d.code, d.span, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _target_pattern(rule: ast.Rule, target: ast.Target, path_pattern, errors) -> str | None:
    if target.kind in ("subtree", "literal", "glob"):
        return path_pattern(target, exec_any=rule.ops == ("exec",))
    if target.kind == "host":
        try:
            return ir.check_host_pattern(target.value)
        except ir.RequestError as exc:
            errors.append(Diagnostic("AWP026", f"invalid network target: {exc}", target.span))
            return None
    if target.kind == "mach":
        name = target.value
        if not name or "*" in name[:-1] or any(c.isspace() for c in name):
            errors.append(Diagnostic(
                "AWP026", f"invalid mach service name {name!r}", target.span,
                hint='write a reverse-DNS name such as "com.apple.SecurityServer"; a trailing * matches a prefix',
            ))
            return None
        return name
    if target.kind == "debug" and target.value not in ast.DEBUG_TARGETS:
        if target.value in ("others", "any"):
            why = "it names processes outside the sandbox, and those can never be debugged from inside it"
        else:
            why = ("debugging is fenced at the sandbox's boundary (Landlock and the PID namespace on Linux), "
                   "so a narrower set of processes cannot be enforced")
        errors.append(Diagnostic(
            "AWP026", f"debug target '{target.value}' cannot be used: {why}", target.span,
            hint="write `debug { allow same-sandbox }` to let a debugger inside the sandbox attach to what "
                 "runs there; debugging anything else is always denied and needs no rule",
        ))
        return None
    return target.value  # signal targets are checked by the grammar and the schema


def _branch(st: ast.Branch, scope: str, path_pattern, errors) -> ir.BranchSpec | None:
    base_target = ast.Target.model_construct(span=st.span, kind="subtree", value=st.base or "${WORKSPACE}")
    base = path_pattern(base_target)
    hide = [path_pattern(t) for t in st.hide]
    readonly = [path_pattern(t) for t in st.readonly]
    if base is None or None in hide or None in readonly:
        return None
    for target, pattern in zip((*st.hide, *st.readonly), (*hide, *readonly)):
        if not (pattern == base or pattern.startswith(base.rstrip("/") + "/")):
            errors.append(Diagnostic(
                "AWP028", f"{pattern!r} is not inside the branch base {base!r}", target.span,
                hint="hidden and read-only entries must be under the branch's base",
            ))
            return None
    return ir.BranchSpec(st.name, base, st.cow, tuple(hide), tuple(readonly), st.on_exit, st.parent,
                         _origin(st.span, scope))
