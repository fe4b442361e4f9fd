"""Debug mode in every backend: the SBPL profile (snapshot, Seatbelt model), the ES table, the Linux plan.

Each backend's output is checked against ``ir.decide`` for the debug requests:
``same-sandbox`` allowed only with a rule (or ``--debug``), ``others`` never.
"""

from __future__ import annotations

import json

import pytest
from helpers import policy_from_texts
from syrupy.extensions.single_file import SingleFileSnapshotExtension

from aw_policy import ir, session_layer
from aw_policy.backends import es, linux, sbpl
from aw_policy.sbpl import evaluator

DEBUG_POLICY = (
    ("org", "debug { enforce deny same-sandbox }\n"),
    ("project", 'fs { allow read "/usr" }\ndebug { allow same-sandbox }\n'),
    ("user", "debug { audit allow same-sandbox }\n"),
)


class SbplSnapshot(SingleFileSnapshotExtension):
    file_extension = "sb"


def loaded_profile(policy: ir.Policy, supervised: bool = False):
    text, _ = sbpl.render_profile(policy, {}, supervised)
    return text, evaluator.load_profile(text, sbpl.launch_params(policy.param_defaults()), "profile.sb")


def task_port(loaded, target: str) -> evaluator.Verdict:
    return evaluator.evaluate(loaded, evaluator.Request("mach-priv-task-port", target=target))


# --------------------------------------------------------------------------- SBPL


def test_profile_snapshot(snapshot):
    policy = policy_from_texts(("project", "debug { allow same-sandbox }\n"), ("user", "debug { deny same-sandbox }\n"),
                               ("session", "debug { audit allow same-sandbox }\n"))
    text, _ = sbpl.render_profile(policy, {}, supervised=False)
    assert text.encode() == snapshot(extension_class=SbplSnapshot)


@pytest.mark.parametrize("supervised", [False, True])
def test_seatbelt_model_agrees_with_decide(supervised):
    layers = [
        (("project", "debug { allow same-sandbox }\n"),),
        (("project", "debug { deny same-sandbox }\n"), ("session", "debug { allow same-sandbox }\n")),
        (("project", "debug { prompt same-sandbox }\n"),),
        DEBUG_POLICY,
        DEBUG_POLICY[1:],
        (("project", "default allow\n"),),
    ]
    for texts in layers:
        policy = policy_from_texts(*texts)
        text, loaded = loaded_profile(policy, supervised)
        for target in ir.DEBUG_TARGETS:
            decision = ir.decide(policy, ir.normalize_request("debug", target))
            want = decision.effect == "allow" or (decision.effect == "prompt" and supervised)
            verdict = task_port(loaded, target)
            assert verdict.allowed is want, (texts, target, text)
            if decision.rule.kind != "default":
                assert verdict.report is decision.audit


def test_allow_is_one_target_filtered_rule_and_off_means_none():
    policy = policy_from_texts(("project", "debug { allow same-sandbox }\n"))
    text, loaded = loaded_profile(policy)
    assert "(allow mach-priv-task-port (target same-sandbox))" in text
    assert not task_port(loaded, "others").allowed  # falls to (deny default)
    plain, loaded = loaded_profile(policy_from_texts(("project", 'fs { allow read "/usr" }\n')))
    assert "mach-priv-task-port" not in plain
    assert not task_port(loaded, "same-sandbox").allowed and not task_port(loaded, "others").allowed


def test_enforced_deny_comes_last_in_the_profile():
    text, loaded = loaded_profile(policy_from_texts(*DEBUG_POLICY))
    rules = [line for line in text.splitlines() if "mach-priv-task-port" in line]
    assert rules[-1].startswith("(deny mach-priv-task-port") and len(rules) == 3
    verdict = task_port(loaded, "same-sandbox")
    assert not verdict.allowed and verdict.rule is not None


def test_profile_lints_clean():
    from aw_policy.sbpl.lint import lint_sbpl

    text, _ = loaded_profile(policy_from_texts(*DEBUG_POLICY[1:]))
    assert [f"{d.code} {d.message}" for d in lint_sbpl(text, "profile.sb")] == []


# --------------------------------------------------------------------------- ES table


def test_es_table_carries_debug_rules_for_auth_get_task():
    table = es.table(policy_from_texts(*DEBUG_POLICY), {})
    entries = table["debug"]
    assert [e["decision"] for e in entries] == ["deny", "allow", "allow"]  # highest precedence first
    assert all(e["events"] == ["ES_EVENT_TYPE_AUTH_GET_TASK"] and e["target"] == "same-sandbox" for e in entries)
    assert entries[0]["locked"] and entries[1]["audit"]
    assert table["defaults"]["unmatched"]["debug"]["decision"] == "deny"


def test_es_table_validates_against_its_schema():
    import jsonschema

    from aw_policy.resources import resource_path

    schema = json.loads(resource_path("schemas", "es-rules.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(es.table(policy_from_texts(*DEBUG_POLICY), {}))), schema)


@pytest.mark.parametrize("texts", [DEBUG_POLICY, DEBUG_POLICY[1:], (("project", "default allow\n"),),
                                   (("project", "debug { prompt same-sandbox }\n"),)])
def test_es_engine_answers_get_task_as_decide_does(texts):
    from aw_runtime import engine

    policy = policy_from_texts(*texts)
    table = json.loads(json.dumps(es.table(policy, {})))
    decider = engine.Engine(table)
    for target in ir.DEBUG_TARGETS:
        event = engine.parse_event({"event": es.GET_TASK, "time": 1.0, "process": {"pid": 7}, "target": target})
        verdict = engine.answer_of(decider.decide(event))
        decision = ir.decide(policy, ir.normalize_request("debug", target))
        assert (verdict.request.op, verdict.effect) == ("debug", decision.effect), (texts, target)
        assert verdict.rule.id == decision.rule.id


def test_es_engine_needs_a_target_for_get_task():
    from aw_runtime import engine

    decider = engine.Engine(json.loads(json.dumps(es.table(policy_from_texts(*DEBUG_POLICY), {}))))
    with pytest.raises(engine.EventError, match="target"):
        decider.decide(engine.parse_event({"event": es.GET_TASK, "time": 1.0}))


# --------------------------------------------------------------------------- Linux plan


def plan_doc(policy: ir.Policy) -> dict:
    return linux.plan_document(policy, {})


def test_plan_debug_follows_decide():
    assert plan_doc(policy_from_texts(("project", "debug { allow same-sandbox }\n")))["debug"] is True
    assert plan_doc(policy_from_texts(("project", "default allow\n")))["debug"] is False
    assert plan_doc(policy_from_texts(*DEBUG_POLICY))["debug"] is False
    flagged = session_layer.apply_flags(policy_from_texts(("project", "")), session_layer.Flags(debug=True))
    assert plan_doc(flagged)["debug"] is True


def test_plan_keeps_the_full_deny_list_and_names_a_prompt_it_cannot_ask():
    doc = plan_doc(policy_from_texts(("project", "debug { prompt same-sandbox }\n")))
    assert doc["debug"] is False and "ptrace" in doc["seccomp_deny"]
    [entry] = [n for n in doc["narrowed"] if "ptrace" in n["reason"]]
    assert entry["rule"] == "r1" and "debug mode stays off" in entry["reason"]


def test_plan_validates_against_its_schema():
    import jsonschema

    from aw_policy.resources import resource_path

    schema = json.loads(resource_path("schemas", "linux-plan.schema.json").read_text())
    jsonschema.validate(plan_doc(policy_from_texts(("project", "debug { allow same-sandbox }\n"))), schema)


def test_seccomp_lifts_only_in_debug_mode_and_only_when_fenced():
    from aw_runtime.linux import plan as linux_plan
    from aw_runtime.linux import seccomp

    base = linux_plan.LinuxPlan(fs=(), masks=(), branch=None, network=linux_plan.Network(), scopes=frozenset(),
                                seccomp_deny=linux_plan.DEFAULT_SECCOMP_DENY, env={}, cwd="/")
    assert seccomp.deny_list(base, fenced=True) == linux_plan.DEFAULT_SECCOMP_DENY
    debug = base.replace(debug=True)
    lifted = seccomp.deny_list(debug, fenced=True)
    assert set(linux_plan.DEFAULT_SECCOMP_DENY) - set(lifted) == set(linux_plan.DEBUG_SYSCALLS)
    assert "unshare" in lifted and "bpf" in lifted
    assert seccomp.deny_list(debug, fenced=False) == linux_plan.DEFAULT_SECCOMP_DENY  # no fence, no debugging


def test_plan_round_trips_and_refuses_a_non_boolean():
    from aw_runtime.linux import PlanError
    from aw_runtime.linux.plan import plan_from_dict, plan_to_dict

    doc = {"cwd": "/", "debug": True}
    assert plan_to_dict(plan_from_dict(doc))["debug"] is True
    assert plan_to_dict(plan_from_dict({"cwd": "/"}))["debug"] is False  # absent: off
    with pytest.raises(PlanError, match="debug must be true or false"):
        plan_from_dict({"cwd": "/", "debug": "yes"})
