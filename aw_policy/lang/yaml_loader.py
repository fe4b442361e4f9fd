"""The YAML front end: ``*.awp.yaml`` -> :class:`PolicyFile`.

The document is composed into YAML nodes (so every value keeps its line and
column), converted to plain data with a bound on size and depth (alias bombs
and deep nesting are refused, not expanded), validated against
``schemas/policy.schema.json``, and then built into the same AST as the DSL.
The schema guarantees every value's type, so nodes are built with
``model_construct`` (no second, pydantic validation; see :class:`ast.Node`).
"""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache

import yaml

from aw_policy.diagnostics import Diagnostic, PolicyError, Span, did_you_mean
from aw_policy.lang import ast
from aw_policy.resources import resource_path

MAX_NODES = 200_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Located = dict  # JSON-path tuple -> Span


@lru_cache(maxsize=1)
def policy_schema() -> dict:
    return json.loads(resource_path("schemas", "policy.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(policy_schema())


@lru_cache(maxsize=1)
def _fast_check():
    """The generated acceptance check, or None when it was generated from another schema."""
    from aw_policy.lang import policy_schema_check
    from aw_policy.lang.policy_schema_codegen import schema_sha256

    if schema_sha256() != policy_schema_check.SCHEMA_SHA256:
        return None
    return policy_schema_check.validate


def schema_errors(data) -> list:
    """jsonschema's errors for ``data``, most general first; none without importing jsonschema
    when the generated check accepts the document (it accepts only what jsonschema accepts:
    tests/foundation/test_yaml_fast_check.py)."""
    check = _fast_check()
    if check is not None:
        with contextlib.suppress(Exception):  # any doubt goes to jsonschema, the authority
            check(data)
            return []
    return sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), e.message))


def _mark_span(path: str, start, end=None) -> Span:
    if end is not None and end.line == start.line:
        return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
    return Span(path, start.line + 1, start.column + 1)


class _Converter:
    def __init__(self, path: str):
        self.path = path
        self.spans: Located = {}
        self.key_spans: Located = {}
        self.count = 0
        self._scalar = yaml.SafeLoader("")

    def convert(self, node, where: tuple, depth: int = 0):
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            what = "deeply nested" if depth > MAX_DEPTH else "large (aliases expand too far)"
            raise PolicyError(Diagnostic(
                "AWP012", f"YAML document is too {what}", _mark_span(self.path, node.start_mark),
                hint=f"policies are small documents: at most {MAX_DEPTH} levels and "
                     f"{MAX_NODES} values; remove anchors and aliases that repeat content",
            ))
        self.spans[where] = _mark_span(self.path, node.start_mark, node.end_mark)
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                key = self.convert(key_node, (*where, "<key>"), depth + 1)
                if not isinstance(key, str):
                    raise PolicyError(Diagnostic(
                        "AWP011", f"mapping key {key!r} is not a string",
                        _mark_span(self.path, key_node.start_mark, key_node.end_mark),
                        hint="quote the key",
                    ))
                if key in out:
                    raise PolicyError(Diagnostic(
                        "AWP011", f"duplicate key '{key}'",
                        _mark_span(self.path, key_node.start_mark, key_node.end_mark),
                        hint="merge the two entries into one",
                    ))
                self.key_spans[(*where, key)] = _mark_span(self.path, key_node.start_mark, key_node.end_mark)
                out[key] = self.convert(value_node, (*where, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, (*where, i), depth + 1) for i, v in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        try:
            return self._scalar.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:  # '!!int x', '!!python/...', '='
            raise PolicyError(Diagnostic(
                "AWP010", f"YAML value {node.value!r} with tag {node.tag!r} cannot be read: "
                          f"{getattr(exc, 'problem', None) or exc}",
                _mark_span(self.path, node.start_mark, node.end_mark),
                hint="write plain values (strings, true/false, numbers) without YAML tags; quote a lone '='",
            )) from None


def _compose(text: str, path: str):
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = _mark_span(path, mark) if mark else Span(path, 1, 1)
        problem = exc.problem or "invalid YAML"
        hint = "check the indentation: items of one list or mapping must start in the same column"
        if "tab" in problem:
            hint = "YAML indentation uses spaces, not tabs"
        return PolicyError(Diagnostic("AWP010", f"YAML syntax error: {problem}", span, hint=hint))
    except yaml.YAMLError as exc:
        return PolicyError(Diagnostic("AWP010", f"YAML error: {exc}", Span(path, 1, 1)))
    except RecursionError:
        return PolicyError(Diagnostic("AWP012", "YAML document is too deeply nested", Span(path, 1, 1)))


def _schema_diagnostic(error, conv: _Converter) -> Diagnostic:
    where = tuple(error.absolute_path)
    span = conv.spans.get(where) or Span(conv.path, 1, 1)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            key = extra[0]
            span = conv.key_spans.get((*where, key), span)
            hint = did_you_mean(key, allowed) or "allowed keys: " + ", ".join(sorted(allowed))
            return Diagnostic("AWP011", f"unknown key '{key}'", span, hint=hint)
    if error.validator == "oneOf" and isinstance(error.instance, dict) and error.context:
        # A rule: explain with the variant that matches the effect key the user wrote.
        effects = [k for k in ("allow", "deny", "prompt") if k in error.instance]
        if len(effects) != 1:
            return Diagnostic(
                "AWP011",
                "a rule needs exactly one effect key: allow, deny or prompt"
                + (f" (found {', '.join(effects)})" if effects else ""),
                span, hint="write one rule per effect",
            )
        for sub in sorted(error.context, key=lambda e: len(e.absolute_path), reverse=True):
            about_effect = tuple(sub.absolute_path)[len(where):][:1] == (effects[0],)  # its value is wrong
            if about_effect or effects[0] in sub.schema.get("required", ()) \
                    or effects[0] in sub.schema.get("properties", {}):
                return _schema_diagnostic(sub, conv)
    label = "/".join(str(p) for p in where) or "document"
    message = error.message
    if error.validator in ("enum", "oneOf") and "enum" in str(error.schema):
        choices = error.schema.get("enum") or [
            v for s in error.schema.get("oneOf", []) for v in s.get("enum", [])
        ]
        if choices and isinstance(error.instance, str):
            hint = did_you_mean(error.instance, [str(c) for c in choices]) or (
                "one of: " + ", ".join(map(str, choices)))
            return Diagnostic("AWP011", f"invalid value {error.instance!r} for {label}", span, hint=hint)
    if len(message) > 200:
        message = message[:200] + "..."
    return Diagnostic("AWP011", f"{label}: {message}", span,
                      hint="see `awpolicy schema` for the policy format")


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_yaml(text: str, path: str) -> ast.PolicyFile:
    node = _compose(text, path)
    if isinstance(node, PolicyError):
        raise node
    if node is None:
        return ast.PolicyFile.model_construct(span=Span(path, 1, 1), path=path)
    conv = _Converter(path)
    data = conv.convert(node, ())
    if not isinstance(data, dict):
        raise PolicyError(Diagnostic(
            "AWP011", "a policy document must be a mapping", conv.spans[()],
            hint="start with keys such as 'scope:', 'fs:', 'net:'",
        ))
    errors = schema_errors(data)
    if errors:
        raise PolicyError([_schema_diagnostic(e, conv) for e in errors[:1]])
    return _build(data, conv)


def _build(data: dict, conv: _Converter) -> ast.PolicyFile:
    path = conv.path
    S = conv.spans.get
    statements: list = []

    def at(*where) -> Span:
        return S(tuple(where)) or Span(path, 1, 1)

    def targets(where: tuple, kind: str, values) -> list[ast.Target]:
        if isinstance(values, str):
            return [ast.Target.model_construct(span=at(*where), kind=kind, value=values)]
        return [ast.Target.model_construct(span=at(*where, i), kind=kind, value=v)
                for i, v in enumerate(values or [])]

    default = data.get("default")
    if isinstance(default, str):
        statements.append(ast.Default.model_construct(span=at("default"), section="all", effect=default))
    elif isinstance(default, dict):
        for cls, effect in default.items():
            statements.append(ast.Default.model_construct(span=at("default", cls), section=cls,
                                                          effect=effect))
    for i, name in enumerate(data.get("include", [])):
        statements.append(ast.Include.model_construct(span=at("include", i), target=name))
    for name, value in (data.get("params") or {}).items():
        statements.append(ast.Param.model_construct(span=conv.key_spans.get(("params", name), at("params")),
                                                    name=name, default=value))
    for section in ("fs", "exec", "net", "signal", "debug", "mach"):
        for i, item in enumerate(data.get(section, [])):
            effect = next(k for k in ("allow", "deny", "prompt") if k in item)
            base = (section, i)
            value = item[effect]
            tgts: list[ast.Target] = []
            if section == "fs":
                cls, ops = "fs", tuple(dict.fromkeys(_as_list(value)))
            elif section == "exec":
                cls, ops = "fs", ("exec",)
                tgts += targets((*base, effect), "subtree", value)
            elif section == "net":
                cls, ops = "net", tuple(dict.fromkeys(_as_list(value)))
                tgts += targets((*base, "hosts"), "host", item.get("hosts", []))
            elif section == "signal":
                cls, ops = "signal", ("signal",)
                tgts += targets((*base, effect), "signal", value)
            elif section == "debug":
                cls, ops = "debug", ("debug",)
                tgts += targets((*base, effect), "debug", value)
            else:
                cls, ops = "mach", ("lookup",)
                tgts += targets((*base, effect), "mach", value)
            if section in ("fs", "exec"):
                for key, kind in (("paths", "subtree"), ("literal", "literal"), ("glob", "glob")):
                    if key in item:
                        tgts += targets((*base, key), kind, item[key])
            if not tgts:
                raise PolicyError(Diagnostic(
                    "AWP011", f"{section} rule has no targets", at(*base),
                    hint="add 'paths:' (or literal/glob) for fs rules, 'hosts:' for net rules",
                ))
            statements.append(ast.Rule.model_construct(
                span=at(*base), section=cls, effect=effect, ops=ops, targets=tuple(tgts),
                enforce=bool(item.get("enforce", False)), audit=bool(item.get("audit", False)),
            ))
    for name, spec in (data.get("branch") or {}).items():
        where = ("branch", name)
        statements.append(ast.Branch.model_construct(
            span=conv.key_spans.get(where, at("branch")), name=name, base=spec.get("base"),
            cow=bool(spec.get("cow", False)),
            hide=tuple(targets((*where, "hide"), "subtree", spec.get("hide", []))),
            readonly=tuple(targets((*where, "readonly"), "subtree", spec.get("readonly", []))),
            on_exit=spec.get("on_exit", "discard"), parent=spec.get("parent"),
        ))
    env = data.get("env") or {}
    for name, value in (env.get("set") or {}).items():
        statements.append(ast.EnvSet.model_construct(span=conv.key_spans.get(("env", "set", name), at("env")),
                                                     name=name, value=value))
    for i, name in enumerate(env.get("pass") or []):
        statements.append(ast.EnvPass.model_construct(span=at("env", "pass", i), name=name))
    scope = data.get("scope")
    return ast.PolicyFile.model_construct(
        span=Span(path, 1, 1), path=path, scope=scope,
        scope_span=at("scope") if scope else None, statements=tuple(statements),
    )
