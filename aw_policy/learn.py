"""`awpolicy learn`: turn recorded denials into a proposed policy layer, explained.

Input: the JSONL denial records written by ``awpolicy run --trace``
(``{"op": ..., "path": ...}`` or ``{"op": ..., "object": ...}``) or captured
macOS unified-log text with Seatbelt's ``Sandbox: ... deny(1) OP TARGET`` lines.

Output: a DSL policy (user or project scope) whose rules are as narrow as the
evidence allows:

* a file path becomes a ``literal`` rule on that path; three or more denied
  files directly inside one ordinary directory become one subtree rule on that
  directory, with every file it covers listed above it;
* a proposal is never widened to ``/``, the home directory, the workspace root
  or a secrets directory: those denials stay literal, and denials *inside* a
  secrets directory are not proposed at all, with the reason in a comment;
* when the policy the denials were recorded under is given, a denial decided
  by an ``enforce`` rule is never proposed (an inner scope cannot loosen it; the
  comment names the rule), and a denial that the policy already allows is
  dropped as stale.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from aw_policy import ir, paths
from aw_policy.diagnostics import Diagnostic, PolicyError, Span

FS_OPS = ("read", "write", "exec")
GROUP_AT = 3  # files under one directory before they become one subtree rule

#: Never granted by learn, whatever the denials say (relative to HOME).
SECRET_DIRS = (".ssh", ".aws", ".gnupg", ".config/gh", ".kube", ".docker", ".netrc", ".git-credentials",
               "Library/Keychains", "Library/Cookies", ".password-store", ".config/gcloud", ".azure")


@dataclass(frozen=True)
class Denial:
    op: str
    obj: str
    where: str  # file:line of the record, for the explanation


@dataclass(frozen=True)
class Proposal:
    op: str
    kind: str  # literal | subtree | net | signal | mach
    pattern: str  # as written in the policy (params and ~ substituted back)
    covers: tuple[Denial, ...]
    note: str = ""


@dataclass(frozen=True)
class Skipped:
    denial: Denial
    reason: str


@dataclass
class Learned:
    proposals: list[Proposal] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _record_denial(record: object, where: str, span: Span) -> Denial:
    if not isinstance(record, dict) or not isinstance(record.get("op"), str):
        raise PolicyError(Diagnostic("AWP030", "a denial record must be a JSON object with an 'op'", span,
                                     hint='write one record per line, e.g. {"op": "read", "path": "/x"}'))
    obj = record.get("path", record.get("object"))
    if not isinstance(obj, str) or not obj:
        raise PolicyError(Diagnostic("AWP030", "a denial record needs a 'path' or an 'object' string", span,
                                     hint='add "path" (files) or "object" (host:port, signal target, mach name)'))
    return Denial(record["op"], obj, where)


def read_denials(path: Path, display: str | None = None) -> list[Denial]:
    """Denials from one file (JSONL records or macOS log text); PolicyError with file:line when malformed."""
    display = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(Diagnostic("AWP007", f"cannot read denials: {exc.strerror or exc}",
                                     Span(display, 1, 1), hint="check the path")) from None
    text = data.decode("utf-8", "replace")
    if "Sandbox:" in text and not text.lstrip().startswith("{"):
        from aw_policy.trace import parse_macos_log

        return [_record_denial(r, f"{display}", Span(display, 1, 1)) for r in parse_macos_log(text)]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        span = Span(display, number, 1)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PolicyError(Diagnostic("AWP030", f"not a JSON record: {exc.msg}", Span(display, number, exc.colno),
                                         hint="each line must be one JSON object (awpolicy run --trace writes them)"))
        out.append(_record_denial(record, f"{display}:{number}", span))
    return out


# --------------------------------------------------------------------------- proposing


def _symbolic(path: str, params: dict[str, str]) -> str:
    """Write a concrete path the way policies do: the longest param prefix, ~ for HOME."""
    best = ("", "")
    for name, value in params.items():
        value = value.rstrip("/")
        if value and (path == value or path.startswith(value + "/")) and len(value) > len(best[1]):
            best = (name, value)
    name, value = best
    if not name:
        return path
    rest = path[len(value):]
    return ("~" + rest) if name == "HOME" else "${" + name + "}" + rest


def _is_secret(path: str, home: str) -> bool:
    home = home.rstrip("/")
    return any(path == f"{home}/{s}" or path.startswith(f"{home}/{s}/") for s in SECRET_DIRS)


def _too_broad(directory: str, params: dict[str, str]) -> bool:
    roots = {"/"} | {v.rstrip("/") or "/" for k, v in params.items() if k in ("HOME", "WORKSPACE", "TMPDIR")}
    return directory in roots or directory.count("/") < 2 or _is_secret(directory, params.get("HOME", "~"))


def _existing_decision(bound, denial: Denial) -> ir.Decision | None:
    if bound is None:
        return None
    try:
        return ir.decide(bound, ir.normalize_request(denial.op, denial.obj))
    except (ir.RequestError, ValueError):
        return None


def propose(denials: list[Denial], params: dict[str, str], bound=None) -> Learned:
    """Minimal rules covering ``denials`` (deduplicated, deterministic order)."""
    learned = Learned()
    fs: dict[str, dict[str, list[Denial]]] = defaultdict(lambda: defaultdict(list))
    other: dict[tuple[str, str], list[Denial]] = defaultdict(list)
    home = params.get("HOME", "")
    for denial in denials:
        if denial.op not in ir.OP_CLASS:
            learned.skipped.append(Skipped(denial, f"operation {denial.op!r} has no policy rule"))
            continue
        try:
            request = ir.normalize_request(denial.op, denial.obj)
        except (ir.RequestError, ValueError) as exc:
            learned.skipped.append(Skipped(denial, f"not a valid {denial.op} object: {exc}"))
            continue
        denial = Denial(denial.op, request.object, denial.where)
        decision = _existing_decision(bound, denial)
        if decision is not None and decision.effect == "allow":
            learned.skipped.append(Skipped(denial, f"already allowed by {decision.rule.id} ({decision.rule.origin})"))
            continue
        if decision is not None and decision.rule.enforce:
            learned.skipped.append(Skipped(denial, f"denied by enforced rule {decision.rule.id} "
                                                   f"({decision.rule.origin}); an inner scope cannot loosen it"))
            continue
        if ir.OP_CLASS[denial.op] == "fs":
            if home and _is_secret(denial.obj, home):
                learned.skipped.append(Skipped(denial, "a secrets location: grant it by hand if you really mean it"))
                continue
            fs[denial.op][os.path.dirname(denial.obj)].append(denial)
        else:
            other[(denial.op, denial.obj)].append(denial)

    for op in FS_OPS:
        for directory, found in sorted(fs[op].items()):
            files = sorted({d.obj for d in found})
            if len(files) >= GROUP_AT and not _too_broad(directory, params):
                learned.proposals.append(Proposal(op, "subtree", _symbolic(directory, params), tuple(found),
                                                  f"{len(files)} denied files in this directory"))
                continue
            note = "kept literal: the directory is too broad to grant" if len(files) >= GROUP_AT else ""
            for path in files:
                covered = tuple(d for d in found if d.obj == path)
                learned.proposals.append(Proposal(op, "literal", _symbolic(path, params), covered, note))
    for (op, obj), found in sorted(other.items()):
        learned.proposals.append(Proposal(op, ir.OP_CLASS[op], obj, tuple(found)))
    return learned


# --------------------------------------------------------------------------- rendering


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _covers_comment(p: Proposal) -> list[str]:
    wheres = sorted({d.where for d in p.covers})
    shown = ", ".join(wheres[:4]) + (f" and {len(wheres) - 4} more" if len(wheres) > 4 else "")
    objects = sorted({d.obj for d in p.covers})
    lines = [f"  # covers {len(p.covers)} denial(s) from {shown}"]
    if p.kind == "subtree":
        lines += [f"  #   {o}" for o in objects]
    if p.note:
        lines.append(f"  # {p.note}")
    return lines


def render(learned: Learned, scope: str) -> str:
    out = ["# Proposed by `awpolicy learn` from recorded denials. Review every rule before you commit it.",
           f"scope {scope}", ""]
    blocks = (("fs", FS_OPS), ("net", ("connect", "bind")), ("signal", ("signal",)), ("mach", ("mach",)))
    for block, ops in blocks:
        chosen = [p for p in learned.proposals if p.op in ops]
        if not chosen:
            continue
        out.append(f"{block} {{")
        for p in chosen:
            out += _covers_comment(p)
            if block == "fs":
                literal = "literal " if p.kind == "literal" else ""
                out.append(f"  allow {p.op} {literal}{_quote(p.pattern)}")
            elif block == "net":
                out.append(f"  allow {p.op} {_quote(p.pattern)}")
            elif block == "signal":
                out.append(f"  allow {p.pattern}")
            else:
                out.append(f"  allow {_quote(p.pattern)}")
        out += ["}", ""]
    if learned.skipped:
        out.append("# Not proposed:")
        for s in learned.skipped:
            out.append(f"#   {s.denial.op} {s.denial.obj} ({s.denial.where}): {s.reason}")
        out.append("")
    return "\n".join(out)


def default_params(given: dict[str, str]) -> dict[str, str]:
    """HOME, TMPDIR and WORKSPACE as the runtime binds them, overridden by --param."""
    values = {"HOME": os.environ.get("HOME", ""), "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
              "WORKSPACE": os.getcwd()}
    values.update(given)
    return {k: paths.normalize_request_path(v) for k, v in values.items() if v and v.startswith("/")}
