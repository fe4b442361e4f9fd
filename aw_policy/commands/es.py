"""`awpolicy es`: the Endpoint Security rule table at work (``es replay``).

``es replay BUNDLE EVENTS.jsonl`` verifies the bundle, loads its
``es-rules.json`` into the decision engine and decides each recorded event
(format: ``schemas/es-events.schema.json``), printing one JSON line per event.
With ``--answers FILE`` prompts are answered from a script (one JSON object per
line: ``{"path": PREFIX, "access": "read", "answer": "allow", "scope":
"session", "after": 2.5}``; ``path`` may also be an address or a signal
target, ``access`` is optional); without it the replay is non-interactive and
every prompt is denied, as on a machine with no one to ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from aw_policy.cli import EXIT_OK, InputError, _render, param_option

ES_TABLE = "es-rules.json"
EVENT_ERROR, ANSWER_ERROR, TABLE_ERROR = "AWP610", "AWP611", "AWP612"
SCOPES = ("session", "user", "project", "org")


@click.group("es")
def es_group() -> None:
    """Endpoint Security rule table: replay recorded events through the decision engine."""


def _diag(code: str, message: str, file: str, line: int = 1, col: int = 1, hint: str | None = None):
    from aw_policy.diagnostics import Diagnostic, Span

    return Diagnostic(code, message, Span(file, line, col), hint=hint)


def _read_jsonl(path: str, code: str, parse, hint: str) -> list[tuple[int, object]]:
    """Parse every line of a JSONL file into (line number, item); the first bad line is a
    diagnostic with file:line:col. Blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(_render([_diag(code, f"not UTF-8 text ({exc.reason})", path)])) from None
    except OSError as exc:
        raise InputError(_render([_diag(code, f"cannot read: {exc.strerror or exc}", path)])) from None
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(_render([_diag(code, f"not JSON: {exc.msg}", path, number, exc.colno, hint)])) from None
        try:
            items.append((number, parse(data)))
        except (ValueError, TypeError) as exc:
            raise InputError(_render([_diag(code, str(exc), path, number, 1, hint)])) from None
    return items


@dataclass(frozen=True)
class ScriptedAnswer:
    match: str
    access: str | None
    answer: str
    scope: str | None
    after: float

    def applies(self, access: str, obj: str) -> bool:
        if self.access is not None and self.access != access:
            return False
        return obj == self.match or (self.match.startswith("/") and obj.startswith(self.match.rstrip("/") + "/"))


def _parse_answer(data) -> ScriptedAnswer:
    if not isinstance(data, dict):
        raise TypeError("an answer is a JSON object")
    extra = sorted(set(data) - {"path", "access", "answer", "scope", "after"})
    if extra:
        raise ValueError(f"{extra[0]}: unknown field; an answer has path, access, answer, scope, after")
    if not isinstance(data.get("path"), str) or not data["path"]:
        raise ValueError("path: required, the path prefix (or address, or signal target) the answer is for")
    if data.get("answer") not in ("allow", "deny"):
        raise ValueError("answer: required, \"allow\" or \"deny\"")
    if data.get("access") not in (None, "read", "write", "exec", "connect", "bind", "signal", "debug"):
        raise ValueError("access: one of read, write, exec, connect, bind, signal, debug (or leave it out)")
    if data.get("scope") not in (None, *SCOPES):
        raise ValueError(f"scope: one of {', '.join(SCOPES)} (or leave it out for the rule's own scope)")
    after = data.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, (int, float)) or after < 0:
        raise ValueError("after: seconds the person takes to answer (a number >= 0)")
    from aw_policy.backends.macos_paths import canonical

    # Questions name resolved paths (/private/tmp), so the script's /tmp means the same place.
    return ScriptedAnswer(canonical(data["path"]), data.get("access"), data["answer"], data.get("scope"), float(after))


class ScriptedPrompter:
    """A person who answers from a script: the first line that applies, or never."""

    def __init__(self, answers: list[ScriptedAnswer]):
        self.answers = answers

    def ask(self, question, budget: float):
        from aw_runtime.engine import Reply

        for a in self.answers:
            if a.applies(question.access, question.example):
                scope = a.scope or (question.rule.scope if question.rule.scope in SCOPES else "session")
                return Reply(a.answer, scope, a.after)
        return None


@es_group.command("replay")
@click.argument("bundle", type=click.Path())
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False),
              help="Answer prompts from this JSONL script (else non-interactive: prompts are denied).")
@click.option("--audit-log", "audit_path", type=click.Path(dir_okay=False),
              help="Append audit records (denials, prompts, audited rules) to this JSONL file.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Keep user/project/org approvals here (else every approval lives only for the replay).")
@param_option
def replay_cmd(bundle: str, events: str, answers_file: str | None, audit_path: str | None,
               state_dir: str | None, params: dict[str, str]) -> None:
    """Decide the recorded EVENTS (JSONL) against BUNDLE's ES table; print one JSON line per event."""
    from aw_runtime.engine import Engine, EventError, TableError, answer_of, parse_event, verdict_json
    from aw_runtime.verify import BundleError, verify_bundle

    try:
        verified = verify_bundle(bundle)
    except BundleError as exc:
        raise InputError(exc.render()) from None
    table_path = str(Path(bundle) / ES_TABLE)
    try:
        table = verified.json(ES_TABLE)
    except KeyError:
        raise InputError(_render([_diag(TABLE_ERROR, f"the bundle has no {ES_TABLE}", table_path,
                                        hint="recompile it with an awpolicy that has the ES backend")])) from None
    except ValueError as exc:
        raise InputError(_render([_diag(TABLE_ERROR, f"not JSON: {exc}", table_path,
                                        hint="recompile the bundle")])) from None
    hint = "see schemas/es-events.schema.json for the event format"
    recorded = _read_jsonl(events, EVENT_ERROR, parse_event, hint)
    prompter = None
    if answers_file is not None:
        script = _read_jsonl(answers_file, ANSWER_ERROR, _parse_answer,
                             "one JSON object per line: path, answer, and optionally access, scope, after")
        prompter = ScriptedPrompter([answer for _, answer in script])
    binding = dict(verified.params)
    binding.update(params)
    try:
        engine = Engine(table, binding, prompter=prompter, audit_path=audit_path, state_dir=state_dir)
    except TableError as exc:
        raise InputError(_render([_diag(TABLE_ERROR, str(exc), table_path)])) from None
    for line, event in recorded:  # every event is checked before any is decided: all or nothing
        try:
            engine.requests(event)
        except EventError as exc:
            raise InputError(_render([_diag(EVENT_ERROR, str(exc), events, line, 1, hint)])) from None
    out = click.get_text_stream("stdout")
    try:
        for line, event in recorded:
            verdicts = engine.decide(event)
            decisive = answer_of(verdicts)
            out.write(json.dumps({
                "line": line, "time": event.time, "event": event.event, "pid": event.process.pid,
                "answer": decisive.answer, "rule": decisive.rule.id, "reason": decisive.reason,
                "cacheable": all(v.cacheable for v in verdicts),
                "requests": [verdict_json(v) for v in verdicts],
            }, sort_keys=True, separators=(",", ":")) + "\n")
        engine.flush()
    except OSError as exc:  # the audit log or the state directory
        from aw_runtime.atomic import os_error_text

        raise InputError(f"{exc.filename or audit_path or state_dir}: error: cannot write: "
                         f"{os_error_text(exc)}\n") from None
    finally:
        engine.close()
    click.echo("es replay: " + json.dumps(engine.counters.to_json(), sort_keys=True), err=True)
    for ignored in engine.approvals.ignored_files:
        click.echo(f"{ignored}: warning: damaged approvals file ignored (prompts will be asked again)", err=True)
    raise SystemExit(EXIT_OK)

