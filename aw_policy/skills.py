"""Skills: small repository-local commands that run inside the agent's sandbox.

A skill is a directory holding a ``skill.json`` manifest (schema:
``schemas/skill.schema.json``):

* committed skills: ``<worktree>/skills/NAME/skill.json``;
* local-only skills: ``<worktree>/.awpolicy/skills/NAME/skill.json`` (git
  ignores ``.awpolicy/``). A local skill **shadows** a committed one of the
  same name, so a developer can try a change to a shared skill without
  touching the tracked file; ``skills list`` and the registry name the
  shadowed one.

This module is the model (:class:`Skill`), discovery, validation (JSON Schema,
then the rules a schema cannot say; every error located at file:line:col),
the runner contract (:data:`CONTRACT`, :func:`contract_env`) and the
``--json`` envelope of ``skills run``, and the run itself (:func:`run`). The
command line is ``aw_policy.commands.skills``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from aw_runtime.launcher import SANDBOX_ENV  # set by the launcher in every sandboxed command's environment

from aw_policy.diagnostics import Diagnostic, PolicyError, Span, did_you_mean

MANIFEST = "skill.json"
COMMITTED = "committed"
LOCAL = "local"
#: Where each scope's skills live, relative to the worktree; the first listed wins a name clash.
SCOPE_DIRS = ((LOCAL, Path(".awpolicy") / "skills"), (COMMITTED, Path("skills")))
RESULTS_DIR = Path(".awpolicy") / "skill-results"

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PLACEHOLDER_RE = re.compile(r"\$\{([^}]*)\}")
PLACEHOLDERS = ("WORKTREE", "SKILL_DIR")
RESERVED_PREFIX = "AWPOLICY_"
PR_GET_NO_NEW_PRIVS = 39  # prctl option (linux/prctl.h)

RUN_FORMAT = "awpolicy.skill-run/1"
REGISTRY_FORMAT = "awpolicy.skill-registry/1"
CONTRACT_FORMAT = "awpolicy.skill-contract/1"
DEFAULT_MAX_OUTPUT = 1 << 20  # bytes kept of each of stdout and stderr in a --json envelope

# Diagnostic codes (0xx: input).
NOT_JSON = "AWP040"
SCHEMA = "AWP041"
INVALID = "AWP042"


#: The runner contract: what every `skills run` puts in the skill's environment, in this order.
CONTRACT_ENV = (
    ("AWPOLICY_SKILL_CONTRACT", "version of this contract (1)"),
    ("AWPOLICY_WORKTREE", "absolute path of the worktree the skill belongs to"),
    ("AWPOLICY_SKILL", "the skill's name"),
    ("AWPOLICY_SKILL_SCOPE", "'committed' (skills/) or 'local' (.awpolicy/skills/)"),
    ("AWPOLICY_SKILL_DIR", "absolute path of the skill's directory"),
    ("AWPOLICY_SESSION", "id of this invocation (also the envelope's 'session')"),
    ("AWPOLICY_SKILL_ARGS_JSON", "JSON array of the arguments given after `--` (also appended to the command)"),
    ("AWPOLICY_RESULT_PATH", ("absolute path inside the worktree where the skill MAY write its result; "
                              "the file does not exist when the skill starts")),
    ("AWPOLICY_RESULT_FORMAT", "format of the result file: 'json' (one JSON document)"),
    (SANDBOX_ENV, ("'1': set by the launcher for every sandboxed command; `skills run` inside a sandbox "
                   "runs the skill directly instead of nesting a sandbox")),
)

CONTRACT = {
    "format": CONTRACT_FORMAT,
    "env": [{"name": name, "meaning": meaning} for name, meaning in CONTRACT_ENV],
    "result": {
        "path_env": "AWPOLICY_RESULT_PATH",
        "format_env": "AWPOLICY_RESULT_FORMAT",
        "formats": ["json"],
        "meaning": "optional: a skill that writes one JSON document to $AWPOLICY_RESULT_PATH has it parsed "
                   "into the --json envelope's result.value (or result.error if it is not JSON)",
    },
    "envelope": RUN_FORMAT,
    "exit": "`skills run` exits with the skill's exit code (128+N when signal N killed it), with or without "
            "--json; 2 when the skill cannot be started (bad manifest, no bundle, policy not enforceable)",
    "env_precedence": "the sandbox's filtered environment, then the manifest's env, then this contract; "
                      "a variable the policy itself sets (env { NAME = ... }) keeps the policy's value",
}


class SkillError(Exception):
    """A skill that cannot be found, created or run; the message says why and what to do (exit 2)."""


@dataclass(frozen=True)
class Skill:
    name: str
    scope: str  # COMMITTED or LOCAL
    dir: Path  # absolute
    worktree: Path  # absolute
    description: str
    command: tuple[str, ...]  # as written (placeholders unexpanded)
    cwd: str | None  # as written; None: the skill directory
    env: dict[str, str] = field(default_factory=dict)  # as written
    shadows: Path | None = None  # the committed skill of the same name this local one hides

    @property
    def manifest(self) -> Path:
        return self.dir / MANIFEST

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.worktree).as_posix()
        except ValueError:
            return str(path)

    def variables(self) -> dict[str, str]:
        return {"WORKTREE": str(self.worktree), "SKILL_DIR": str(self.dir)}

    def expanded_command(self) -> list[str]:
        return [expand(part, self.variables()) for part in self.command]

    def expanded_env(self) -> dict[str, str]:
        return {name: expand(value, self.variables()) for name, value in self.env.items()}

    def expanded_cwd(self) -> Path:
        """The directory the command runs in (checked to lie inside the worktree when loaded)."""
        if self.cwd is None:
            return self.dir
        return Path(os.path.normpath(self.dir / expand(self.cwd, self.variables())))

    def to_json(self) -> dict:
        """The registry entry: paths relative to the worktree, so it reads the same in every checkout."""
        return {
            "name": self.name,
            "scope": self.scope,
            "dir": self.relative(self.dir),
            "manifest": self.relative(self.manifest),
            "description": self.description,
            "command": list(self.command),
            "cwd": self.cwd,
            "env": dict(sorted(self.env.items())),
            "shadows": None if self.shadows is None else self.relative(self.shadows),
            "run": ["awpolicy", "skills", "run", self.name, "--"],
        }


# --------------------------------------------------------------------------- placeholders


def expand(value: str, variables: dict[str, str]) -> str:
    """``${WORKTREE}`` and ``${SKILL_DIR}`` replaced; anything else was rejected when the manifest loaded."""
    return PLACEHOLDER_RE.sub(lambda m: variables[m.group(1)], value)


def placeholder_problem(value: str) -> str | None:
    """Why ``value`` cannot be expanded, or None."""
    for match in PLACEHOLDER_RE.finditer(value):
        if match.group(1) not in PLACEHOLDERS:
            return f"unknown placeholder ${{{match.group(1)}}}"
    if "${" in PLACEHOLDER_RE.sub("", value):
        return "'${' without a closing '}'"
    return None


# --------------------------------------------------------------------------- locating JSON values

_WS = re.compile(r"[ \t\n\r]*")


def value_offsets(text: str) -> dict[tuple, tuple[int, int, int | None]]:
    """For each JSON path (tuple of keys and indexes): (value start, value end, key start or None).

    ``text`` must already be valid JSON (``json.loads`` accepted it)."""
    decoder = json.JSONDecoder()
    spans: dict[tuple, tuple[int, int, int | None]] = {}

    def skip(i: int) -> int:
        return _WS.match(text, i).end()

    def value(i: int, path: tuple, key_start: int | None) -> int:
        i = skip(i)
        start = i
        if text[i] in "{[":
            closing = "}" if text[i] == "{" else "]"
            i, index = skip(i + 1), 0
            while text[i] != closing:
                if closing == "}":
                    key_at = i
                    key, i = decoder.raw_decode(text, i)
                    i = value(skip(i) + 1, path + (key,), key_at)  # past the ':'
                else:
                    i = value(i, path + (index,), None)
                    index += 1
                i = skip(i)
                if text[i] == ",":
                    i = skip(i + 1)
            i += 1
        else:
            i = decoder.raw_decode(text, i)[1]
        spans[path] = (start, i, key_start)
        return i

    value(0, (), None)
    return spans


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def span_of(file: str, text: str, path: tuple, *, key: bool = False) -> Span:
    """Where the value at ``path`` is written (its key with ``key=True``); 1:1 when it cannot be found."""
    try:
        start, end, key_start = value_offsets(text)[tuple(path)]
    except (KeyError, ValueError, IndexError):
        return Span(file)
    if key and key_start is not None:
        start, end = key_start, json.JSONDecoder().raw_decode(text, key_start)[1]
    line, col = _position(text, start)
    end_line, end_col = _position(text, end)
    return Span(file, line, col, end_line, end_col)


def pointer_text(path: tuple) -> str:
    """``command[0]``, ``env.NAME``: a path the way a reader of the manifest thinks of it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the manifest"


# --------------------------------------------------------------------------- validation


@functools.cache
def _validator():
    import jsonschema

    from aw_policy.resources import resource_path

    schema = json.loads(resource_path("schemas", "skill.schema.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def _schema_diagnostic(error, file: str, text: str) -> Diagnostic:
    path = tuple(error.absolute_path)
    where = pointer_text(path)
    kind = error.validator
    instance = error.instance
    span = span_of(file, text, path)
    hint = None
    if kind == "required":
        missing = next((k for k in error.validator_value if k not in instance and f"'{k}'" in error.message), "?")
        message = f"missing required field '{missing}'"
        hint = {"name": 'add "name": "<the directory name>"',
                "description": 'add "description": "what the skill does, in one line"',
                "command": 'add "command": ["program", "arg", ...] (an argv list)'}.get(missing)
    elif kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        message = f"unknown field '{extra[0]}'" if extra else error.message
        if extra:
            span = span_of(file, text, path + (extra[0],), key=True)
        hint = did_you_mean(extra[0], allowed) if extra else None
        hint = hint or f"the fields are: {', '.join(allowed)}"
    elif "propertyNames" in error.schema_path:  # a key failed; the error sits on the object, the key is the instance
        message = f"{where}: {json.dumps(instance)} is not a valid environment variable name"
        span = span_of(file, text, path + (instance,), key=True)
        hint = "use letters, digits and '_', not starting with a digit"
    elif kind == "type":
        expected = error.validator_value
        found = type(instance).__name__ if instance is not None else "null"
        found = {"str": "a string", "int": "a number", "float": "a number", "list": "a list", "dict": "an object",
                 "bool": "true/false"}.get(found, found)
        message = f"{where} must be {'an' if expected in ('array', 'object', 'integer') else 'a'} {expected}, " \
                  f"not {found}"
        if path == ("command",):
            hint = 'write the command as an argv list: ["program", "arg", ...]'
    elif kind == "pattern" and path == ("name",):
        message = f"name {json.dumps(instance)} is not a valid skill name"
        hint = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    elif kind == "minItems":
        message = f"{where} is empty"
        hint = 'name at least the program to run: ["program", ...]'
    elif kind == "minLength":
        message = f"{where} must not be empty"
    elif kind == "maxLength":
        message = f"{where} is longer than {error.validator_value} characters"
    else:
        message = f"{where}: {error.message}"
    return Diagnostic(SCHEMA, message, span, hint=hint or "see `awpolicy skills contract` and "
                                                          "schemas/skill.schema.json")


def load_manifest(manifest: Path, worktree: Path, scope: str) -> Skill:
    """Read and validate one ``skill.json``. Raises PolicyError with every problem located."""
    file = str(manifest)
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError(Diagnostic(NOT_JSON, f"cannot read the manifest: {reason}", Span(file),
                                     hint="make skill.json a readable UTF-8 file")) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(Diagnostic(NOT_JSON, f"not valid JSON: {exc.msg}", Span(file, exc.lineno, exc.colno),
                                     hint="fix the JSON syntax (quotes around keys and strings, "
                                          "no trailing commas)")) from None
    diagnostics = [_schema_diagnostic(e, file, text) for e in _validator().iter_errors(data)]
    if diagnostics:
        raise PolicyError(sorted(diagnostics, key=lambda d: (d.span.line, d.span.col)))
    directory = manifest.parent
    worktree_real = Path(os.path.realpath(worktree))
    diagnostics = _semantic_problems(data, directory, worktree_real, file, text)
    if diagnostics:
        raise PolicyError(sorted(diagnostics, key=lambda d: (d.span.line, d.span.col)))
    return Skill(name=data["name"], scope=scope, dir=Path(os.path.realpath(directory)), worktree=worktree_real,
                 description=data["description"], command=tuple(data["command"]), cwd=data.get("cwd"),
                 env=dict(data.get("env", {})))


def _semantic_problems(data: dict, directory: Path, worktree: Path, file: str, text: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []

    def problem(path: tuple, message: str, hint: str, key: bool = False) -> None:
        out.append(Diagnostic(INVALID, message, span_of(file, text, path, key=key), hint=hint))

    if data["name"] != directory.name:
        problem(("name",), f"name {json.dumps(data['name'])} differs from its directory '{directory.name}'",
                f'rename the directory, or write "name": {json.dumps(directory.name)}')
    values = [(("command", i), v) for i, v in enumerate(data["command"])]
    if "cwd" in data:
        values.append((("cwd",), data["cwd"]))
    values += [(("env", k), v) for k, v in data.get("env", {}).items()]
    for path, value in values:
        why = placeholder_problem(value)
        if why:
            problem(path, f"{pointer_text(path)}: {why}",
                    "only ${WORKTREE} and ${SKILL_DIR} are expanded; write other values literally")
    for name in data.get("env", {}):
        if name.startswith(RESERVED_PREFIX):
            problem(("env", name), f"env.{name}: names starting with {RESERVED_PREFIX} are reserved for the "
                    "runner contract", "pick another name; `awpolicy skills contract` lists the reserved ones",
                    key=True)
    real_dir = Path(os.path.realpath(directory))
    if not _inside(real_dir, worktree):
        problem(("name",), f"the skill directory resolves to {real_dir}, outside the worktree {worktree}",
                "a skill directory must not be a symbolic link leading out of the worktree")
    elif "cwd" in data and not placeholder_problem(data["cwd"]):
        variables = {"WORKTREE": str(worktree), "SKILL_DIR": str(real_dir)}
        cwd = Path(os.path.realpath(real_dir / expand(data["cwd"], variables)))
        if not _inside(cwd, worktree):
            problem(("cwd",), f"cwd resolves to {cwd}, outside the worktree {worktree}",
                    "use a directory inside the worktree, e.g. \"${WORKTREE}\" or a path relative to the skill")
    return out


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --------------------------------------------------------------------------- discovery


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise SkillError(f"{name!r} is not a skill name: use 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def skill_dir(worktree: Path, scope: str, name: str) -> Path:
    return worktree / dict(SCOPE_DIRS)[scope] / name


@dataclass
class Catalog:
    """Every skill of a worktree: the effective ones by name, and the manifests that failed."""

    worktree: Path
    skills: dict[str, Skill] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)


def discover(worktree: Path) -> Catalog:
    """Load every manifest of both scopes; a local skill shadows the committed one of its name."""
    catalog = Catalog(Path(os.path.realpath(worktree)))
    for scope, relative in SCOPE_DIRS:
        root = worktree / relative
        entries = sorted(root.iterdir()) if root.is_dir() else []
        for entry in entries:
            manifest = entry / MANIFEST
            if not manifest.is_file():
                continue  # not a skill (a shared helper directory, a README...)
            if not NAME_RE.fullmatch(entry.name):
                catalog.problems.append(Diagnostic(
                    INVALID, f"directory name '{entry.name}' is not a valid skill name", Span(str(manifest)),
                    hint="rename it to 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
                continue
            try:
                skill = load_manifest(manifest, worktree, scope)
            except PolicyError as exc:
                catalog.problems.extend(exc.diagnostics)
                continue
            if skill.name in catalog.skills:  # committed, hidden by the local one loaded first
                local = catalog.skills[skill.name]
                catalog.skills[skill.name] = replace(local, shadows=skill.dir)
            else:
                catalog.skills[skill.name] = skill
    catalog.skills = dict(sorted(catalog.skills.items()))
    return catalog


def find(worktree: Path, name: str) -> Skill:
    """The skill ``name`` (local first). Only its own manifest is read: a broken neighbour does not matter.

    Raises SkillError when there is none, PolicyError when its manifest is invalid."""
    check_name(name)
    found: list[tuple[str, Path]] = [(scope, skill_dir(worktree, scope, name)) for scope, _ in SCOPE_DIRS]
    found = [(scope, d) for scope, d in found if (d / MANIFEST).is_file()]
    if not found:
        known = sorted(discover(worktree).skills)
        hint = did_you_mean(name, known) or (f"known skills: {', '.join(known)}" if known
                                             else "create one with `awpolicy skills init NAME`")
        raise SkillError(f"no skill named {name!r} in {worktree} (looked in skills/{name}/ and "
                         f".awpolicy/skills/{name}/); {hint}")
    scope, directory = found[0]
    skill = load_manifest(directory / MANIFEST, worktree, scope)
    if len(found) > 1:
        skill = replace(skill, shadows=Path(os.path.realpath(found[1][1])))
    return skill


# --------------------------------------------------------------------------- worktree


def resolve_worktree(name: str | None, *, cwd: str, environ, create: bool = False) -> Path:
    """The worktree skills live in: ``--worktree NAME`` (the session worktree), else the git top level
    of ``cwd``, else ``cwd`` itself."""
    from aw_runtime.launcher import git_paths

    from aw_policy import worktree

    if name is None:
        top, _ = git_paths(cwd, environ)
        return Path(os.path.realpath(top or cwd))
    try:
        if create:
            return worktree.ensure(name, start=cwd).path
        worktree.check_name(name)
        repo, _ = worktree.find_repo(cwd)
    except worktree.WorktreeError as exc:
        raise SkillError(f"--worktree {name}: {exc}") from None
    path = repo / worktree.WORKTREES / name
    if not path.is_dir():
        raise SkillError(f"--worktree {name}: no such worktree ({path}); `awpolicy run --worktree {name} ...` "
                         "or `awpolicy skills init --worktree NAME ...` creates it")
    return Path(os.path.realpath(path))


# --------------------------------------------------------------------------- init


def init(worktree: Path, name: str, *, local: bool, description: str | None = None) -> Path:
    """Write skill.json, run.sh and README.md for a new skill from templates/skill/; its directory."""
    from aw_runtime.atomic import write_atomic

    check_name(name)
    if description is not None and not _one_line_of_text(description):
        raise SkillError("--description must be one non-empty line of UTF-8 text")
    scope = LOCAL if local else COMMITTED
    directory = skill_dir(worktree, scope, name)
    if directory.exists():
        raise SkillError(f"{directory} already exists; pick another name, or edit that skill "
                         f"(`awpolicy skills path {name}`)")
    files = render_template(name, description or f"TODO: say in one line what {name} does", scope)
    if local:
        from aw_policy.worktree import _ignore_awpolicy_dir

        _ignore_awpolicy_dir(worktree)  # local skills stay out of git
    directory.mkdir(parents=True)
    for filename, (text, mode) in files.items():
        write_atomic(directory / filename, text.encode("utf-8"), mode=mode)
    load_manifest(directory / MANIFEST, worktree, scope)  # the template is valid, or this is a bug
    return directory


def _one_line_of_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an undecodable byte of the command line
        return False
    return bool(text.strip()) and len(text) <= 500 and not any(c in text for c in "\r\n")


TEMPLATE_FILES = (("skill.json", 0o644), ("run.sh", 0o755), ("README.md", 0o644))


def render_template(name: str, description: str, scope: str) -> dict[str, tuple[str, int]]:
    import jinja2

    from aw_policy.resources import resource_path

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_path("templates", "skill"))),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    context = {"name": name, "description": description, "scope": scope,
               "contract": CONTRACT, "run_format": RUN_FORMAT}
    return {filename: (env.get_template(filename + ".j2").render(context), mode)
            for filename, mode in TEMPLATE_FILES}


# --------------------------------------------------------------------------- registry


def registry(catalog: Catalog) -> dict:
    """The machine-readable registry: every effective skill, by name, with the contract inlined."""
    return {"format": REGISTRY_FORMAT, "contract": CONTRACT,
            "skills": [skill.to_json() for skill in catalog.skills.values()]}


def dumps(data) -> str:
    """JSON for people and programs: UTF-8 as is, unless a value holds an undecodable byte of an
    argument or path (a lone surrogate), which only an escape can carry."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return text


# --------------------------------------------------------------------------- the contract at run time


def new_session_id(name: str) -> str:
    label = name if NAME_RE.fullmatch(name) else "skill"
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{label}-{secrets.token_hex(3)}"


def result_path(skill: Skill, session: str, requested: str | None = None) -> Path:
    """Where the skill may write its result: ``--result PATH`` (inside the worktree), else
    ``<worktree>/.awpolicy/skill-results/SESSION.json``."""
    if requested is None:
        return skill.worktree / RESULTS_DIR / f"{session}.json"
    path = Path(os.path.realpath(os.path.join(skill.worktree, requested)))
    if not _inside(path, skill.worktree) or path == skill.worktree:
        raise SkillError(f"--result {requested}: resolves to {path}, which is not a file inside the worktree "
                         f"{skill.worktree}; give a path inside it, e.g. .awpolicy/tmp/result.json")
    return path


def contract_env(skill: Skill, *, session: str, args: list[str], result: Path) -> dict[str, str]:
    return {
        "AWPOLICY_SKILL_CONTRACT": "1",
        "AWPOLICY_WORKTREE": str(skill.worktree),
        "AWPOLICY_SKILL": skill.name,
        "AWPOLICY_SKILL_SCOPE": skill.scope,
        "AWPOLICY_SKILL_DIR": str(skill.dir),
        "AWPOLICY_SESSION": session,
        "AWPOLICY_SKILL_ARGS_JSON": json.dumps(list(args)),
        "AWPOLICY_RESULT_PATH": str(result),
        "AWPOLICY_RESULT_FORMAT": "json",
    }


# --------------------------------------------------------------------------- the --json envelope


@dataclass(frozen=True)
class Captured:
    data: bytes  # at most the cap
    total: int  # bytes the stream carried

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)

    def to_json(self) -> dict:
        return {"text": self.data.decode("utf-8", errors="replace"), "bytes": self.total,
                "truncated": self.truncated}


NOTHING = Captured(b"", 0)


def read_result(path: Path | None, max_bytes: int = DEFAULT_MAX_OUTPUT) -> dict | None:
    if path is None:
        return None
    out = {"path": str(path), "format": "json", "present": path.is_file(), "value": None, "error": None}
    if not out["present"]:
        return out
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            out["error"] = f"the result file is larger than {max_bytes} bytes; not parsed"
        else:
            out["value"] = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        out["error"] = f"cannot read the result file: {exc}"
    except json.JSONDecodeError as exc:
        out["error"] = f"the result file is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return out


def envelope(*, session: str, exit_code: int, skill: Skill | None, worktree: Path | None,
             command: list[str] | None = None, args: list[str] = (), sandbox: str | None = None,
             bundle: str | None = None, stdout: Captured = NOTHING, stderr: Captured = NOTHING,
             runtime: str = "", result: dict | None = None, error: dict | None = None) -> dict:
    """The one JSON document `skills run --json` prints (schema: schemas/skill-run.schema.json)."""
    return {
        "format": RUN_FORMAT,
        "ok": exit_code == 0 and error is None,
        "exit_code": exit_code,
        "session": session,
        "skill": None if skill is None else {"name": skill.name, "scope": skill.scope, "dir": str(skill.dir),
                                             "manifest": str(skill.manifest)},
        "worktree": None if worktree is None else str(worktree),
        "sandbox": sandbox,
        "bundle": bundle,
        "command": command,
        "args": list(args),
        "stdout": stdout.to_json(),
        "stderr": stderr.to_json(),
        "runtime": runtime,
        "result": result,
        "error": error,
    }


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class RunOptions:
    bundle: str | None = None  # None: aw_policy.bundle_choice decides
    params: dict[str, str] = field(default_factory=dict)
    best_effort: bool = False
    capture: bool = False  # --json: capture the streams for the envelope
    max_output: int = DEFAULT_MAX_OUTPUT
    result: str | None = None  # --result PATH, relative to the worktree


def inside_sandbox(environ) -> bool:
    """True when this process already runs under an awpolicy sandbox.

    The launcher sets ``AWPOLICY_SANDBOX=1`` for every sandboxed command; the
    variable alone proves nothing (anyone can set it), so the kernel must agree:
    on Linux the process has no_new_privs (the launcher always sets it and it
    cannot be unset), on macOS ``sandbox_check`` says the process is sandboxed.
    The variable without the kernel's word is refused, never taken as a reason
    to run unsandboxed."""
    if environ.get(SANDBOX_ENV) != "1":
        return False
    if not _kernel_says_sandboxed():
        raise SkillError(f"{SANDBOX_ENV}=1 is set, but this process is not sandboxed (no no_new_privs / "
                         f"sandbox_check); unset {SANDBOX_ENV}: a skill never runs outside a sandbox")
    return True


def _kernel_says_sandboxed() -> bool:
    import sys

    if sys.platform == "darwin":
        import ctypes

        try:
            check = ctypes.CDLL(None).sandbox_check
        except (OSError, AttributeError):
            return False
        check.restype = ctypes.c_int
        return check(os.getpid(), None, 0) == 1
    if not sys.platform.startswith("linux"):
        return False
    from aw_runtime.linux import _libc

    try:  # a system call, not /proc/self/status: the sandbox may not let its commands read /proc
        return _libc.prctl(PR_GET_NO_NEW_PRIVS, label="prctl(PR_GET_NO_NEW_PRIVS)") == 1
    except OSError:
        return False


def run(skill: Skill, args: list[str], options: RunOptions, *, environ, err) -> tuple[int, dict | None]:
    """Run the skill inside the sandbox: (exit code, the --json envelope or None).

    Raises SkillError only when capture is off; with capture every
    failure becomes an envelope (exit 2 when the skill could not start)."""
    session = new_session_id(skill.name)
    base = {"session": session, "skill": skill, "worktree": skill.worktree, "args": args}
    try:
        result = result_path(skill, session, options.result)
        argv = skill.expanded_command() + list(args)
        cwd = skill.expanded_cwd()
        if not cwd.is_dir():
            raise SkillError(f"skill {skill.name}: its cwd {cwd} is not a directory; create it or fix "
                             f"\"cwd\" in {skill.manifest}")
        extra = skill.expanded_env()
        contract = contract_env(skill, session=session, args=args, result=result)
        inherited = inside_sandbox(environ)
        bundle = None if inherited else _choose_bundle(options.bundle, skill, environ)
        _fresh_result_file(skill, result)
    except SkillError as exc:
        if not options.capture:
            raise
        return 2, envelope(**base, exit_code=2, error={"message": str(exc), "diagnostics": []})
    base |= {"command": argv, "sandbox": "inherited" if inherited else "launched", "bundle": bundle}

    runtime = err
    if options.capture:
        import io

        runtime = io.StringIO()
    if inherited:
        env = {**environ, **extra, **contract}

        def launch() -> int:
            return _run_direct(argv, env, cwd)
    else:
        def launch() -> int:
            return _run_sandboxed(bundle, argv, cwd, skill, extra, contract, options, environ, runtime)
    refused = None

    def guarded() -> int:
        nonlocal refused
        from aw_runtime.launcher import EXIT_REFUSED, Refused

        try:
            return launch()
        except Refused as exc:
            refused = exc
            return EXIT_REFUSED

    if not options.capture:
        status = guarded()
        if refused is not None:
            err.write(refused.text)
        return status, None
    status, out, errs = capture_streams(guarded, options.max_output)
    error = None if refused is None else {"message": refused.text, "diagnostics": []}
    parsed = None if refused else read_result(result, options.max_output)
    if options.result is None:
        result.unlink(missing_ok=True)  # the envelope carries it now; a --result file stays where it was asked
    return status, envelope(**base, exit_code=status, stdout=out, stderr=errs, runtime=runtime.getvalue(),
                            result=parsed, error=error)


def _choose_bundle(explicit: str | None, skill: Skill, environ) -> str:
    from aw_policy.bundle_choice import BundleChoiceError, resolve_bundle

    try:
        return resolve_bundle(explicit, cwd=str(skill.worktree), environ=environ)
    except BundleChoiceError as exc:
        raise SkillError(str(exc)) from None


def _fresh_result_file(skill: Skill, result: Path) -> None:
    """The result file's directory exists (git-ignored under .awpolicy/) and no stale result is left in it."""
    from aw_policy.worktree import _ignore_awpolicy_dir

    if _inside(result, skill.worktree / ".awpolicy"):
        _ignore_awpolicy_dir(skill.worktree)
    try:
        result.parent.mkdir(parents=True, exist_ok=True)
        result.unlink(missing_ok=True)
    except OSError as exc:
        raise SkillError(f"cannot prepare the result file {result}: {exc.strerror or exc}") from None


def _run_direct(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """Already inside the sandbox: the skill inherits it."""
    import subprocess

    try:
        code = subprocess.run(argv, env=env, cwd=cwd, check=False).returncode
    except OSError as exc:
        os.write(2, f"awpolicy skills run: cannot execute {argv[0]}: {exc.strerror or exc}\n".encode())
        return 127
    return 128 - code if code < 0 else code


def _run_sandboxed(bundle: str, argv: list[str], cwd: Path, skill: Skill, extra: dict[str, str],
                   contract: dict[str, str], options: RunOptions, environ, err) -> int:
    """The launch path of `awpolicy run` (prepare, then the platform's sandbox), with the skill's
    environment added after the launcher filtered the caller's. Raises launcher.Refused."""
    import sys

    from aw_runtime import launcher

    params = {"WORKSPACE": str(skill.worktree)} | dict(options.params)
    req = launcher.RunRequest(bundle=bundle, argv=tuple(argv), params=params, best_effort=options.best_effort)
    prep = launcher.prepare(req, environ, str(cwd))
    policy_sets = {name for name, _ in prep.policy.env_set}
    for name in sorted(policy_sets & set(extra)):
        err.write(f"awpolicy skills run: note: env.{name} of {skill.manifest} is ignored: the policy sets it\n")
    env = {**prep.env.env, **{k: v for k, v in extra.items() if k not in policy_sets}, **contract}
    prep = prep.replace(env=prep.env.replace(env=env))
    err.flush()
    if sys.platform == "darwin":
        import subprocess

        sandbox_argv = launcher.macos_argv(prep, req)
        launcher.make_dirs(prep.redirect_dirs)
        code = subprocess.run(sandbox_argv, env=launcher.launch_env(prep), cwd=cwd, check=False).returncode
        return 128 - code if code < 0 else code
    if not sys.platform.startswith("linux"):
        raise launcher.Refused(launcher.NO_TARGET, f"no sandbox for platform {sys.platform!r}",
                               "awpolicy runs on Linux and macOS")
    return launcher.run_linux(prep, req, str(cwd), err)


def capture_streams(launch, max_bytes: int) -> tuple[int, Captured, Captured]:
    """Run ``launch()`` with file descriptors 1 and 2 on pipes (the sandboxed command inherits them);
    keep the first ``max_bytes`` of each and count the rest."""
    import sys
    import threading

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    pipes = [os.pipe(), os.pipe()]
    kept: list[list] = [[bytearray(), 0], [bytearray(), 0]]

    def drain(fd: int, into: list) -> None:
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                room = max_bytes - len(into[0])
                if room > 0:
                    into[0] += chunk[:room]
                into[1] += len(chunk)

    readers = [threading.Thread(target=drain, args=(r, into), daemon=True) for (r, _), into in zip(pipes, kept)]
    try:
        for target, (_, w) in zip((1, 2), pipes):
            os.dup2(w, target)
            os.close(w)
        for reader in readers:
            reader.start()
        status = launch()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for target, fd in zip((1, 2), saved):
            os.dup2(fd, target)
            os.close(fd)
    for reader in readers:
        reader.join(timeout=10)  # a descendant that outlives the skill must not hang the envelope
    return status, Captured(bytes(kept[0][0]), kept[0][1]), Captured(bytes(kept[1][0]), kept[1][1])
