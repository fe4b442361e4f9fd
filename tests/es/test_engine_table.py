"""Loading an ES table: what the engine refuses, and how parameters are bound."""

from __future__ import annotations

import copy

import pytest
from aw_runtime.engine import Engine, Event, EventError, TableError, parse_event
from helpers import policy_from_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

POLICY = ("project", 'fs { allow read "${WORKSPACE}"; deny read "${WORKSPACE}/secret" }\nfs { allow write "/tmp" }')


@pytest.fixture
def table(es_table):
    return es_table(policy_from_texts(POLICY))


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.update(format="awpolicy.es/9"), "awpolicy.es/9"),
    (lambda t: t.pop("files"), "damaged"),
    (lambda t: t["files"][0]["path"].update(match="suffix"), "damaged"),
    (lambda t: t["defaults"]["unmatched"].pop("signal"), "unmatched.signal"),
    (lambda t: t["defaults"].update(non_interactive="allow"), "must be denied"),
    (lambda t: t["defaults"].update(on_deadline="allow"), "must be denied"),
    (lambda t: t["params"]["defaults"].update(WORKSPACE="${NOPE}/x"), "cannot bind"),
])
def test_a_table_the_engine_cannot_trust_is_refused(table, edit, message):
    broken = copy.deepcopy(table)
    edit(broken)
    with pytest.raises(TableError, match=message.replace(".", r"\.")):
        Engine(broken)


def test_refusing_a_non_table(table):
    with pytest.raises(TableError):
        Engine(["not", "a", "table"])


def test_parameters_are_bound_at_load_and_canonicalized(table):
    here = Engine(table, {"WORKSPACE": "/tmp/ws"})  # a workspace under an alias
    (v,) = here.decide(Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="/private/tmp/ws/secret/k", flags=("FREAD",)))
    assert v.answer == "deny" and v.request.object == "/private/tmp/ws/secret/k"
    (v,) = here.decide(Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="/tmp/ws/src/a.py", flags=("FREAD",)))
    assert v.answer == "allow" and v.request.object == "/private/tmp/ws/src/a.py"
    # The reference workspace means nothing under another binding.
    (v,) = here.decide(Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="/home/agent/workspace/a.py", flags=("FREAD",)))
    assert v.answer == "deny" and v.rule.kind == "default"


def test_open_without_flags_is_a_read_and_both_flags_decide_both(table):
    engine = Engine(table)
    (v,) = engine.decide(Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="/home/agent/workspace/a"))
    assert v.request.op == "read"
    both = engine.decide(Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="/home/agent/workspace/a", flags=("FREAD", "FWRITE")))
    assert [(v.request.op, v.answer) for v in both] == [("read", "allow"), ("write", "deny")]


def test_events_it_cannot_decide_are_errors_not_allows(table):
    engine = Engine(table)
    for event in (Event("ES_EVENT_TYPE_NOTIFY_OPEN", 0, path="/x"), Event("ES_EVENT_TYPE_AUTH_OPEN", 0),
                  Event("ES_EVENT_TYPE_AUTH_OPEN", 0, path="rel/x"), Event("NET_CONNECT", 0, address="nohost")):
        with pytest.raises(EventError):
            engine.decide(event)
    assert engine.counters.decisions == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
field_values = {
    "event": st.sampled_from(["ES_EVENT_TYPE_AUTH_OPEN", "ES_EVENT_TYPE_AUTH_RENAME", "ES_EVENT_TYPE_AUTH_SIGNAL",
                              "NET_CONNECT", "ES_EVENT_TYPE_AUTH_EXEC", "X"]) | json_values,
    "time": st.floats(allow_nan=True) | json_values,
    "path": st.sampled_from(["/a", "/tmp/../x", "rel", "/a\x00b", "//", ""]) | json_values,
    "destination": st.sampled_from(["/b", "x"]) | json_values,
    "flags": st.lists(st.sampled_from(["FREAD", "FWRITE", "FEXEC"]), max_size=3) | json_values,
    "target": st.sampled_from(["self", "others", "nobody"]) | json_values,
    "address": st.sampled_from(["localhost:80", "a:b", "[::1]:443", ":", "[::1"]) | json_values,
    "deadline": st.floats() | json_values,
    "process": st.fixed_dictionaries({}, optional={"pid": json_values, "executable": json_values}) | json_values,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=field_values) | json_values)
def test_hostile_events_are_decided_or_refused_never_crash(es_table, data):
    engine = Engine(es_table(policy_from_texts(POLICY)))
    try:
        event = parse_event(data)
        verdicts = engine.decide(event)
    except EventError as exc:
        assert str(exc)
        return
    assert verdicts and all(v.answer in ("allow", "deny") for v in verdicts)
