"""The decision engine: answers Endpoint Security AUTH events from ``es-rules.json``.

(event, process, path) -> allow | deny, with the rule that decided. The same
engine serves the ES client on macOS, the Linux supervisor and
``awpolicy es replay``. Its semantics are exactly :func:`aw_policy.ir.decide`
on macOS-resolved paths: every rule gets decide()'s precedence key
(tier, specificity, scope, effect, merge order) under the real binding, and the
best matching rule wins. Only the search differs: path rules sit in a trie of
path components (subtree and literal rules at their node, globs at the node of
their fixed leading components, tried as compiled regexes), so a lookup visits
the request's ancestors instead of scanning every rule.

A rule whose effect is ``prompt`` is resolved to allow or deny here:

1. a live approval (see :mod:`aw_runtime.approvals`) answers at once;
2. with no one to ask (non-interactive) the answer is deny;
3. otherwise one question is asked per (rule, access, directory): events under
   a directory that already has a question pending join it (coalescing);
4. an answer that does not arrive before ``deadline_fraction`` of the event's
   deadline is too late for this event (deny), but is remembered when it comes.

Stdlib only: importable without lark, pydantic, jsonschema or the compiler's
front end (``aw_policy.ir``, ``aw_policy.paths`` and
``aw_policy.backends.macos_paths`` are stdlib only; a test checks it).
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aw_runtime.approvals import Approval, ApprovalStore, subjects
from aw_runtime.audit import AuditLog

from aw_policy import ir, paths
from aw_policy.backends.macos_paths import canonical, canonical_params

FORMAT = "awpolicy.es/1"
_E = "ES_EVENT_TYPE_AUTH_"
OPEN, EXEC, SIGNAL = _E + "OPEN", _E + "EXEC", _E + "SIGNAL"
GET_TASK = _E + "GET_TASK"  # a process asks for another's task control port (a debugger attaching)
#: Network requests come from the loopback proxy or a Network Extension filter (ES cannot gate connects).
NET_EVENTS = {"NET_CONNECT": "connect", "NET_BIND": "bind"}
MATCH_KIND = {"prefix": "subtree", "literal": "literal", "regex": "glob"}
DECISION_CACHE_SIZE = 65536


class TableError(ValueError):
    """An ES table this engine cannot use (wrong format, damaged); the message says which part."""


class EventError(ValueError):
    """An event that cannot be decided; the message names the field and what it should be."""


@dataclass(frozen=True)
class Process:
    pid: int
    executable: str = ""


@dataclass(frozen=True)
class Event:
    event: str  # ES_EVENT_TYPE_AUTH_* or NET_CONNECT / NET_BIND
    time: float  # seconds, the clock approvals expire on
    process: Process = Process(0)
    path: str | None = None
    destination: str | None = None
    flags: tuple[str, ...] = ()  # OPEN: FREAD and/or FWRITE
    target: str | None = None  # SIGNAL: self children pgrp same-sandbox others; GET_TASK: same-sandbox others
    address: str | None = None  # NET_*: host:port
    deadline: float | None = None  # seconds after ``time`` by which ES needs the answer


@dataclass(frozen=True)
class Question:
    """One prompt shown to a person: may PROCESS do ACCESS under SUBJECT (rule RULE)?"""

    rule: ir.Rule
    access: str
    subject: str
    process: Process
    example: str  # the request that raised it


@dataclass(frozen=True)
class Reply:
    answer: str  # allow | deny
    scope: str  # where the answer is remembered: session user project org
    after: float  # seconds the person took


class Prompter(Protocol):
    def ask(self, question: Question, budget: float) -> Reply | None:
        """Ask a person; ``None`` when nobody will ever answer."""


@dataclass(frozen=True)
class Candidate:
    key: tuple
    rule: ir.Rule
    entry: dict
    test: Callable[[str], bool] | None = None  # for globs and hosts: does the rule match this object


@dataclass(frozen=True)
class Verdict:
    """The outcome for one request of an event."""

    request: ir.Request
    answer: str  # allow | deny: what the enforcer is told
    effect: str  # the deciding rule's effect: allow deny prompt
    rule: ir.Rule
    reason: str  # rule approval answered non-interactive deadline
    cacheable: bool  # may the enforcer cache this answer (ES cache)
    audit: bool
    coalesced: bool = False


@dataclass
class Counters:
    events: int = 0
    decisions: int = 0
    allowed: int = 0
    denied: int = 0
    prompts: int = 0  # questions asked
    coalesced: int = 0  # prompt events that joined a pending question
    approval_hits: int = 0
    non_interactive_denials: int = 0
    deadline_denials: int = 0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def cache_hit_rate(self) -> float:
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else 0.0

    def to_json(self) -> dict:
        data = dict(self.__dict__)
        data["cache_hit_rate"] = round(self.cache_hit_rate, 4)
        return data


# --------------------------------------------------------------------------- the table


def _rule(entry: dict, op: str, cls: str, kind: str, pattern: str) -> ir.Rule:
    o = entry.get("origin") or {"file": "<built-in>", "line": 0, "col": 0}
    return ir.Rule(id=entry["id"], op=op, cls=cls, effect=entry["decision"], kind=kind, pattern=pattern,
                   scope=entry["scope"], origin=ir.Origin(o["file"], o["line"], o["col"], entry["scope"]),
                   enforce=entry.get("locked", False), audit=entry.get("audit", False))


class _Node:
    __slots__ = ("children", "globs", "literal", "subtree")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.subtree: list[Candidate] = []
        self.literal: list[Candidate] = []
        self.globs: list[Candidate] = []


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


class PathIndex:
    """Path rules of one access, by the components of their fixed part."""

    def __init__(self) -> None:
        self.root = _Node()

    def add(self, bound: paths.BoundPath, cand: Candidate) -> None:
        comps = _components(bound.text)
        node = self.root
        for comp in comps[: bound.depth] if bound.kind == "glob" else comps:
            node = node.children.setdefault(comp, _Node())
        {"subtree": node.subtree, "literal": node.literal, "glob": node.globs}[bound.kind].append(cand)

    def freeze(self) -> None:
        """Best first in every node, so a lookup stops at the first hit."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            for bucket in (node.subtree, node.literal, node.globs):
                bucket.sort(key=lambda c: c.key, reverse=True)
            stack.extend(node.children.values())

    def best(self, path: str) -> Candidate | None:
        best: Candidate | None = None

        def visit(node: _Node) -> None:
            nonlocal best
            if node.subtree and (best is None or node.subtree[0].key > best.key):
                best = node.subtree[0]
            for cand in node.globs:
                if best is not None and cand.key <= best.key:
                    break
                if cand.test(path):
                    best = cand
                    break

        node = self.root
        visit(node)
        for comp in _components(path):
            node = node.children.get(comp)
            if node is None:
                return best
            visit(node)
        if node.literal and (best is None or node.literal[0].key > best.key):
            best = node.literal[0]
        return best


class Engine:
    """Decisions for one bound ES table. Not thread-safe: one engine per event loop."""

    def __init__(self, table: dict, params: dict[str, str] | None = None, *,
                 approvals: ApprovalStore | None = None, prompter: Prompter | None = None,
                 audit_path: str | os.PathLike | None = None, state_dir: str | os.PathLike | None = None,
                 cache_size: int = DECISION_CACHE_SIZE):
        if not isinstance(table, dict) or table.get("format") != FORMAT:
            found = table.get("format") if isinstance(table, dict) else type(table).__name__
            raise TableError(f"ES table format is {found!r}; this engine reads {FORMAT!r} (recompile the bundle)")
        self.table = table
        self.prompter = prompter
        self.counters = Counters()
        self.cache_size = cache_size
        self._cache: dict[tuple[str, str], Candidate] = {}
        self._normalized: dict[tuple[str, str], ir.Request] = {}
        self._pending: dict[tuple[str, str, str], tuple[float, Question, Reply | None]] = {}
        try:
            self.aliases = dict(table["paths"]["aliases"])
            values = dict(table["params"]["defaults"])
            values.update(params or {})
            self.params = canonical_params(paths.resolve_params(values), self.aliases)
            self.views = [(v["view"], paths.bind_path("subtree", v["base"], self.params).text)
                          for v in table["paths"]["views"]]
            defaults = table["defaults"]
            self.deadline_fraction = float(defaults["deadline_fraction"])
            self.non_interactive = defaults["non_interactive"]
            self.on_deadline = defaults["on_deadline"]
            if (self.non_interactive, self.on_deadline) != ("deny", "deny"):
                raise ValueError("a prompt with no one to ask, or no answer in time, must be denied")
            self.access_events = {op: frozenset(evs) for op, evs in table["access_events"].items()}
            self.destination_events = frozenset(table["destination_events"])
            self.ttl = dict(table["approvals"]["ttl_seconds"])
            self.default_deadline = float(table["approvals"]["default_deadline_seconds"])
            self.audit_record = frozenset(table["audit"]["record"])
            max_bytes, keep = int(table["audit"]["max_bytes"]), int(table["audit"]["keep"])
            self._build(table)
        except paths.PathError as exc:
            raise TableError(f"cannot bind parameters: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, re.error) as exc:
            raise TableError(f"ES table is damaged ({type(exc).__name__}: {exc}); recompile the bundle") from None
        # Project approvals belong to the bound workspace.
        self.approvals = approvals or ApprovalStore(state_dir, project=self.params.get("WORKSPACE", ""))
        self.audit_log = None if audit_path is None else AuditLog(audit_path, max_bytes=max_bytes, keep=keep)

    def close(self) -> None:
        if self.audit_log is not None:
            self.audit_log.close()

    # ----------------------------------------------------------------- index

    def _build(self, table: dict) -> None:
        self.unmatched: dict[str, Candidate] = {}
        for cls, entry in table["defaults"]["unmatched"].items():
            rule = _rule(entry, "*", cls, "default", "*")
            self.unmatched[cls] = Candidate(ir.bind_rule(rule, {}).key(entry["seq"]), rule, entry)
        missing = {"fs", "net", "signal"} - set(self.unmatched)
        if missing:
            raise KeyError(f"defaults.unmatched.{min(missing)}")
        self.paths: dict[str, PathIndex] = {op: PathIndex() for op in ("read", "write", "exec")}
        for entry in (*table["files"], *table["exec"]):
            kind = MATCH_KIND[entry["path"]["match"]]
            rule = _rule(entry, entry["access"], "fs", kind, entry["path"]["pattern"])
            # The compiler canonicalized the pattern; parameter values were canonicalized above.
            bound = paths.bind_path(kind, rule.pattern, self.params)
            key = ir.BoundRule(rule, bound.specificity, bound.matches).key(entry["seq"])
            self.paths[rule.op].add(bound, Candidate(key, rule, entry, bound.matches))
        for index in self.paths.values():
            index.freeze()
        self.others: dict[str, list[Candidate]] = {"signal": [], "debug": [], "connect": [], "bind": []}
        for cls in ("signal", "debug"):
            for entry in table.get(cls, ()):  # a table from before debug mode has no debug rules
                rule = _rule(entry, cls, cls, cls, entry["target"])
                self.others[cls].append(Candidate(ir.bind_rule(rule, {}).key(entry["seq"]), rule, entry))
        for entry in table["network"]["rules"]:
            rule = _rule(entry, entry["operation"], "net", "host", entry["host"])
            bound = ir.bind_rule(rule, {})
            self.others[rule.op].append(Candidate(bound.key(entry["seq"]), rule, entry, bound.matcher))
        for cands in self.others.values():
            # Signal targets and hosts are a handful of rules, not paths: best first, first match wins.
            cands.sort(key=lambda c: c.key, reverse=True)

    def match(self, request: ir.Request) -> Candidate:
        """The deciding rule for a normalized request (decide()'s winner)."""
        cache_key = (request.op, request.object)
        hit = self._cache.get(cache_key)
        if hit is not None:
            self.counters.cache_hits += 1
            return hit
        self.counters.cache_misses += 1
        best = self._lookup(request)
        if self.cache_size:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[cache_key] = best
        return best

    def _lookup(self, request: ir.Request) -> Candidate:
        default = self.unmatched.get(request.cls)
        if default is None:
            raise EventError(f"this table has no {request.cls} rules (compiled before debug mode): recompile the bundle")
        if request.cls == "fs":
            found = self.paths[request.op].best(request.object)
        elif request.op in ("signal", "debug"):
            found = next((c for c in self.others[request.op]
                          if c.rule.pattern in ("any", request.object)), None)
        else:
            found = next((c for c in self.others[request.op] if c.test(request.object)), None)
        return found if found is not None and found.key > default.key else default

    # ----------------------------------------------------------------- events

    def requests(self, event: Event) -> list[ir.Request]:
        """What an event asks for, as normalized IR requests on resolved paths."""
        name = event.event
        if name in NET_EVENTS:
            return [self._request(NET_EVENTS[name], _need(event.address, "address", name))]
        if name == SIGNAL:
            return [self._request("signal", _need(event.target, "target", name))]
        if name == GET_TASK:
            return [self._request("debug", _need(event.target, "target", name))]
        path = _need(event.path, "path", name)
        if name == EXEC:
            return [self._request("exec", path)]
        if name == OPEN:
            unknown = [f for f in event.flags if f not in ("FREAD", "FWRITE")]
            if unknown:
                raise EventError(f"flags: {unknown[0]!r} is not FREAD or FWRITE")
            ops = [op for op, flag in (("read", "FREAD"), ("write", "FWRITE")) if flag in event.flags] or ["read"]
        elif name in self.access_events.get("write", ()):
            ops = ["write"]
        elif name in self.access_events.get("read", ()):
            ops = ["read"]
        else:
            raise EventError(f"event: {name!r} is not an AUTH event this table gates "
                             "(e.g. ES_EVENT_TYPE_AUTH_OPEN, ES_EVENT_TYPE_AUTH_EXEC, NET_CONNECT)")
        objects = [path]
        if name in self.destination_events:
            objects.append(_need(event.destination, "destination", name))
        return [self._request(op, obj) for obj in objects for op in ops]

    def _request(self, op: str, obj: str) -> ir.Request:
        """The normalized, resolved request (remembered: normalizing costs more than deciding)."""
        known = self._normalized.get((op, obj))
        if known is not None:
            return known
        try:
            request = ir.normalize_request(op, obj)
        except ir.RequestError as exc:
            raise EventError(str(exc)) from None
        if request.cls == "fs":
            request = ir.Request(op, self._through_views(canonical(request.object, self.aliases)))
        if self.cache_size:
            if len(self._normalized) >= self.cache_size:
                self._normalized.clear()
            self._normalized[(op, obj)] = request
        return request

    def _through_views(self, path: str) -> str:
        """A path under an AgentFS branch view, as the same path under the branch's base."""
        for view, base in self.views:
            if path == view or path.startswith(view + "/"):
                return base + path[len(view):]
        return path

    def decide(self, event: Event) -> list[Verdict]:
        """Every request of ``event`` decided; the event's answer is :func:`answer_of` them."""
        requests = self.requests(event)
        self.counters.events += 1
        self._resolve_arrived(event.time)
        verdicts = [self._verdict(event, r) for r in requests]
        for v in verdicts:
            self.counters.decisions += 1
            if v.answer == "allow":
                self.counters.allowed += 1
            else:
                self.counters.denied += 1
            if self.audit_log is not None and (v.rule.audit or v.effect in self.audit_record
                                               or v.answer in self.audit_record):
                self.audit_log.write(audit_record(event, v))
        return verdicts

    def _verdict(self, event: Event, request: ir.Request) -> Verdict:
        cand = self.match(request)
        rule, entry = cand.rule, cand.entry
        if rule.effect != "prompt":
            return Verdict(request, rule.effect, rule.effect, rule, "rule",
                           bool(entry.get("cacheable", rule.effect != "prompt")), rule.audit)

        def verdict(answer: str, reason: str, coalesced: bool = False) -> Verdict:
            return Verdict(request, answer, "prompt", rule, reason, False, rule.audit, coalesced)

        fingerprint = entry["fingerprint"]
        approval = self.approvals.lookup(fingerprint, request.op, request.object, event.time)
        if approval is not None:
            self.counters.approval_hits += 1
            return verdict(approval.answer, "approval")
        if self.prompter is None:
            self.counters.non_interactive_denials += 1
            return verdict(self.non_interactive, "non-interactive")
        deadline = event.deadline if event.deadline is not None else self.default_deadline
        budget = deadline * self.deadline_fraction
        pending = self._pending_for(fingerprint, request)
        coalesced = pending is not None
        if pending is None:
            question = Question(rule, request.op, self._subject(entry, request), event.process, request.object)
            self.counters.prompts += 1
            reply = self.prompter.ask(question, budget)
            pending = (event.time, question, reply)
            self._pending[(fingerprint, request.op, question.subject)] = pending
        else:
            self.counters.coalesced += 1
        asked_at, _, reply = pending
        if reply is not None and asked_at + reply.after <= event.time + budget:
            return verdict(reply.answer, "answered", coalesced)
        self.counters.deadline_denials += 1
        return verdict(self.on_deadline, "deadline", coalesced)

    def _subject(self, entry: dict, request: ir.Request) -> str:
        """What one question covers: the path itself for literal rules, else its directory."""
        prompt = entry.get("prompt") or {}
        if prompt.get("coalesce") != "directory":
            return request.object
        return posixpath.dirname(request.object) if request.object != "/" else "/"

    def _pending_for(self, fingerprint: str, request: ir.Request):
        for subject in subjects(request.object):
            found = self._pending.get((fingerprint, request.op, subject))
            if found is not None:
                return found
        return None

    def flush(self) -> None:
        """Remember every answer still on its way (at shutdown: the person does answer, later)."""
        self._resolve_arrived(float("inf"))

    def _resolve_arrived(self, now: float) -> None:
        """Turn answers that have arrived into approvals; forget questions nobody will answer."""
        for key, (asked_at, question, reply) in list(self._pending.items()):
            if reply is None:
                if now > asked_at + self.default_deadline:
                    del self._pending[key]
                continue
            arrived = asked_at + reply.after
            if arrived <= now:
                del self._pending[key]
                fingerprint, access, subject = key
                ttl = float(self.ttl.get(reply.scope, 0))
                self.approvals.remember(Approval(fingerprint, access, subject, reply.answer, reply.scope,
                                                 arrived + ttl), arrived)


def answer_of(verdicts: list[Verdict]) -> Verdict:
    """The verdict that decides an event: the first deny, else the first verdict."""
    return next((v for v in verdicts if v.answer != "allow"), verdicts[0])


def audit_record(event: Event, v: Verdict) -> dict:
    r = v.rule
    return {
        "time": event.time, "event": event.event, "pid": event.process.pid,
        "executable": event.process.executable, "op": v.request.op, "object": v.request.object,
        "answer": v.answer, "effect": v.effect, "reason": v.reason, "rule": r.id,
        "origin": "built-in" if r.scope == "builtin" else str(r.origin), "scope": r.scope,
    }


def _need(value, name: str, event: str):
    if value is None:
        raise EventError(f"{name}: {event} needs a {name!r} field")
    return value


def parse_event(data) -> Event:
    """An event from its JSON form (``schemas/es-events.schema.json``); EventError names the bad field."""
    if not isinstance(data, dict):
        raise EventError("an event is a JSON object")
    known = {"event", "time", "process", "path", "destination", "flags", "target", "address", "deadline"}
    extra = sorted(set(data) - known)
    if extra:
        raise EventError(f"{extra[0]}: unknown field; an event has {', '.join(sorted(known))}")
    name = data.get("event")
    if not isinstance(name, str) or not name:
        raise EventError("event: required, a string such as ES_EVENT_TYPE_AUTH_OPEN")
    time = data.get("time")
    if not _seconds(time) or time < 0:
        raise EventError("time: required, seconds (a number >= 0)")
    proc = data.get("process", {})
    if not isinstance(proc, dict) or set(proc) - {"pid", "executable"}:
        raise EventError("process: an object with pid and executable")
    pid, exe = proc.get("pid", 0), proc.get("executable", "")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid < 0 or not isinstance(exe, str):
        raise EventError("process: pid is a number >= 0, executable a string")
    for name_ in ("path", "destination", "target", "address"):
        if data.get(name_) is not None and not isinstance(data[name_], str):
            raise EventError(f"{name_}: must be a string")
    flags = data.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise EventError("flags: a list such as [\"FREAD\", \"FWRITE\"]")
    deadline = data.get("deadline")
    if deadline is not None and (not _seconds(deadline) or deadline <= 0):
        raise EventError("deadline: seconds (a number > 0)")
    return Event(name, float(time), Process(pid, exe), data.get("path"), data.get("destination"),
                 tuple(flags), data.get("target"), data.get("address"),
                 None if deadline is None else float(deadline))


def _seconds(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def verdict_json(v: Verdict) -> dict:
    r = v.rule
    return {"op": v.request.op, "object": v.request.object, "answer": v.answer, "effect": v.effect,
            "reason": v.reason, "rule": r.id, "origin": "built-in" if r.scope == "builtin" else str(r.origin),
            "cacheable": v.cacheable, "audit": v.audit, "coalesced": v.coalesced}

