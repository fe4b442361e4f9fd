"""The SBPL backend's own promises: case-insensitive denies, hosts Seatbelt cannot name,
signal targets, mach prefixes, defaults, launch parameters and determinism.

Each is checked by loading the rendered profile in the Seatbelt model and
asking it, next to decide() on the same policy.
"""

from __future__ import annotations

import os
import re

import pytest
from helpers import GOLDEN_SOURCES, policy_from_texts
from hypothesis import given, settings
from hypothesis import strategies as st
from sbpl_backend._oracle import load, profile_for

from aw_policy import bundle, ir
from aw_policy.backends import sbpl
from aw_policy.sbpl import evaluator
from aw_policy.sbpl.parser import parse_sbpl

PARAMS = {"HOME": "/Users/agent", "WORKSPACE": "/Users/agent/src/app"}


def sbpl_allows(policy, operation, supervised=False, params=PARAMS, **request) -> bool:
    _, loaded = profile_for(policy, params, supervised)
    return evaluator.evaluate(loaded, evaluator.Request(operation, **request)).allowed


# --------------------------------------------------------------------------- case-insensitivity

SSH = policy_from_texts(
    ("org", 'fs { enforce deny read,write "~/.ssh" }\n'),
    ("user", 'fs { allow read,write "~"\n allow read literal "~/.ssh/known_hosts" }\n'),
)


@pytest.mark.parametrize("path", [
    "/Users/agent/.ssh/id_ed25519", "/Users/agent/.SSH/id_ed25519", "/Users/agent/.Ssh",
    "/users/AGENT/.ssh/config", "/USERS/agent/.sSh/known_hosts",
])
@pytest.mark.parametrize("operation", ["file-read-data", "file-write-data"])
def test_a_deny_on_ssh_holds_for_every_spelling_of_the_path(path, operation):
    assert not sbpl_allows(SSH, operation, path=path)


CAFE = policy_from_texts(("org", 'fs { enforce deny read "~/Caf\u00e9" }\n'), ("user", 'fs { allow read "~" }\n'))


@pytest.mark.parametrize("spelling", ["Caf\u00e9", "Cafe\u0301", "CAF\u00c9", "CAFE\u0301", "caf\u00e9"])
def test_a_deny_holds_for_composed_and_decomposed_spellings(spelling):
    # APFS resolves NFC and NFD spellings (and case variants) to the same directory
    assert not sbpl_allows(CAFE, "file-read-data", path=f"/Users/agent/{spelling}/menu.txt")
    assert sbpl_allows(CAFE, "file-read-data", path="/Users/agent/Cafe/menu.txt")  # a different name


KUBE = policy_from_texts(
    ("org", 'fs { enforce deny read "~/.kube" "~/A\U0002f800" "~/B\u0344" }\n'), ("user", 'fs { allow read "~" }\n'))


@pytest.mark.parametrize("spelling", [".\u212aube", ".\u212aUBE", "A\U0002f800", "a\u4e3d", "b\u0344", "B\u0308\u0301"])
def test_a_deny_holds_for_characters_normalization_replaces(spelling):
    # U+212A KELVIN SIGN normalizes to K, U+2F800 to U+4E3D, U+0344 to two marks: APFS takes either
    # spelling for the name, and the rule's own spelling must match too
    assert not sbpl_allows(KUBE, "file-read-data", path=f"/Users/agent/{spelling}/config")
    assert sbpl_allows(KUBE, "file-read-data", path="/Users/agent/.cube/config")


def test_case_variants_of_an_allowed_path_are_not_allowed_by_that_allow():
    assert sbpl_allows(SSH, "file-read-data", path="/Users/agent/notes.txt")
    # exact allows: the variant falls through to (deny default), which fails closed
    assert not sbpl_allows(SSH, "file-read-data", path="/USERS/agent/notes.txt")
    # enforce beats the more specific allow, in decide() and in the profile alike
    assert ir.decide(SSH, ir.normalize_request("read", "/Users/agent/.ssh/known_hosts"), PARAMS).effect == "deny"
    assert not sbpl_allows(SSH, "file-read-data", path="/Users/agent/.ssh/known_hosts")


@settings(max_examples=int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "60")), deadline=None)
@given(st.lists(st.sampled_from(["Users", "agent", ".ssh", ".SSH", "Docs", "docs", "a"]), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=12, max_size=12))
def test_no_deny_is_dodged_by_spelling_a_path_in_another_case(parts, flips):
    """If the profile allows one spelling of a file, decide() allows that spelling, and no
    deny that decide() would apply to another spelling of the same file outranks that allow."""
    policy = policy_from_texts(
        ("org", 'fs { enforce deny read "~/.ssh" literal "/Users/agent/Docs/x" }\n'),
        ("project", 'fs { allow read "/Users" \n deny read glob "/Users/*/docs/**" }\n'),
        ("user", 'fs { prompt read "~/Docs"\n allow read "~/Docs/a" }\n'),
    )
    path = "/" + "/".join(parts)
    variant = "".join(c.swapcase() if i < len(flips) and flips[i] else c for i, c in enumerate(path))
    bound = ir.bind(policy, PARAMS)
    position = {rid: i for i, rid in enumerate(ir.precedence_order(bound))}
    for supervised in (False, True):
        if not sbpl_allows(policy, "file-read-data", supervised, path=variant):
            continue
        winner = ir.decide(bound, ir.normalize_request("read", variant)).rule
        assert winner.effect in (("allow", "prompt") if supervised else ("allow",))
        closing = ("deny",) if supervised else ("deny", "prompt")
        for spelling in (path, variant.lower(), variant.upper()):
            for other in ir.ranked_matches(bound, ir.normalize_request("read", spelling)):
                if other.rule.effect in closing and other.rule.kind != "default":
                    assert position[other.rule.id] < position[winner.id], (spelling, other.rule.describe())


# --------------------------------------------------------------------------- hosts


def test_named_hosts_are_left_to_the_proxy_and_listed():
    policy = policy_from_texts(("project", 'net { allow connect "api.example.com:443" "localhost:8080" }\n'))
    files = bundle.build(policy, {})
    text = files["profile.sb"].decode()
    assert "api.example.com" not in "\n".join(l for l in text.splitlines() if not l.startswith(";"))
    assert "Left to the filtering proxy" in text and "api.example.com" in text
    notes = __import__("json").loads(files[sbpl.NOTES])
    assert notes["profile.sb"]["proxy_enforced"] == [policy.rules[0].id]
    manifest = __import__("json").loads(files["manifest.json"])
    assert {a["path"]: a["kind"] for a in manifest["artifacts"]}[sbpl.NOTES] == "sbpl-notes"
    assert not sbpl_allows(policy, "network-outbound", host="api.example.com", port=443)
    assert sbpl_allows(policy, "network-outbound", host="localhost", port=8080)


def test_a_wildcard_allow_beaten_by_an_unnameable_deny_is_narrowed_to_localhost():
    policy = policy_from_texts(
        ("org", 'net { enforce deny connect "169.254.169.254:*" }\n'),
        ("user", 'net { allow connect "*:80" "*:443" }\n'),
    )
    assert ir.decide(policy, ir.normalize_request("connect", "169.254.169.254:80"), PARAMS).effect == "deny"
    assert not sbpl_allows(policy, "network-outbound", host="169.254.169.254", port=80)
    assert not sbpl_allows(policy, "network-outbound", host="example.com", port=443)  # the proxy decides
    assert sbpl_allows(policy, "network-outbound", host="localhost", port=443)
    notes = __import__("json").loads(bundle.build(policy, {})[sbpl.NOTES])
    assert len(notes["profile.sb"]["localhost_only"]) == 2


def test_an_enforced_wildcard_allow_is_not_narrowed_by_a_weaker_named_deny():
    policy = policy_from_texts(
        ("org", 'net { enforce allow connect "*:443" }\n'),
        ("user", 'net { deny connect "example.com:443" }\n'),
    )
    assert ir.decide(policy, ir.normalize_request("connect", "example.com:443"), PARAMS).effect == "allow"
    assert sbpl_allows(policy, "network-outbound", host="example.com", port=443)


def test_a_net_default_allow_with_an_unnameable_deny_stays_on_localhost():
    policy = policy_from_texts(("project", 'net { default allow\n deny connect "evil.example:*" }\n'))
    assert not sbpl_allows(policy, "network-outbound", host="evil.example", port=1)
    assert sbpl_allows(policy, "network-outbound", host="localhost", port=1)
    assert sbpl_allows(policy, "network-bind", host="localhost", port=1)


# --------------------------------------------------------------------------- signals, mach, defaults


def test_others_means_none_of_the_named_targets():
    policy = policy_from_texts(("project", "signal { allow others }\n"))
    for target, want in [("others", True), ("children", False), ("pgrp", False), ("same-sandbox", False)]:
        assert sbpl_allows(policy, "signal", target=target) is want
        assert (ir.decide(policy, ir.normalize_request("signal", target)).effect == "allow") is want


def test_mach_prefix_and_exact_names():
    policy = policy_from_texts(("project", 'mach { allow "com.apple.*"\n deny "com.apple.secret" }\n'))
    assert sbpl_allows(policy, "mach-lookup", name="com.apple.logd")
    assert not sbpl_allows(policy, "mach-lookup", name="com.apple.secret")
    assert not sbpl_allows(policy, "mach-lookup", name="org.example")


def test_prompt_is_deny_unsupervised_and_allow_supervised():
    policy = policy_from_texts(("user", 'fs { prompt read "~/Documents" }\n'))
    path = "/Users/agent/Documents/a.txt"
    assert not sbpl_allows(policy, "file-read-data", supervised=False, path=path)
    assert sbpl_allows(policy, "file-read-data", supervised=True, path=path)


def test_profiles_start_with_version_and_deny_default_and_never_allow_default():
    files = bundle.build(policy_from_texts(("project", "default allow\n")), {})
    for name in (sbpl.PROFILE, sbpl.SUPERVISED):
        profile = parse_sbpl(files[name].decode(), name)
        forms = [profile.source(f) for f in profile.forms]
        assert forms[:2] == ["(version 1)", "(deny default)"]
        assert "(allow file-read*)" in forms  # the policy's default allow is a per-operation fallback
        assert not any(f.startswith("(allow default") for f in forms)


def test_paths_are_resolved_and_subpaths_have_no_trailing_slash():
    policy = policy_from_texts(("project", 'fs { allow read "/tmp/x" "/etc" literal "/var/db/x" }\n'))
    text, _ = sbpl.render_profile(policy, bundle.reference_params(policy, {}), False)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(";"))
    assert '(subpath "/private/tmp/x")' in text and '(subpath "/private/etc")' in text
    assert '(literal "/private/var/db/x")' in text
    assert '"/tmp' not in text and not re.search(r'\(subpath "[^"]*/"\)', text)


# --------------------------------------------------------------------------- parameters and order


def test_launch_params_resolve_canonicalize_and_quote():
    values = sbpl.launch_params({"TMPDIR": "/tmp", "HOME": "/Users/a.b", "GIT": "${HOME}/g"})
    assert values["TMPDIR"] == "/private/tmp" and values["GIT"] == "/Users/a.b/g"
    assert values["AWP_RE_HOME"] == r"/Users/a\.b"
    assert values["AWP_CI_RE_HOME"] == r"/[uU][sS][eE][rR][sS]/[aA]\.[bB]"
    with pytest.raises(ValueError):
        sbpl.launch_params({"HOME": "/"})
    with pytest.raises(ValueError):
        sbpl.launch_params({"AWP_RE_HOME": "/x"})


def test_a_binding_that_reorders_rules_needs_the_re_render_and_gets_it_right():
    # depth of ${WORKSPACE} decides whether the glob or the subtree is more specific
    policy = policy_from_texts(("project", 'fs { allow read "/r/a"\n deny read glob "${WORKSPACE}/*" }\n'))
    shallow, deep = {"WORKSPACE": "/r"}, {"WORKSPACE": "/r/a/b/c"}
    order = {name: ir.precedence_order(ir.bind(policy, bundle.reference_params(policy, p)))
             for name, p in (("shallow", shallow), ("deep", deep))}
    assert order["shallow"] != order["deep"]
    # the profile compiled for one binding is wrong for the other: that is why the runtime re-renders
    _, stale = load(policy, bundle.reference_params(policy, deep), {"WORKSPACE": "/r"}, False)
    effect = ir.decide(policy, ir.normalize_request("read", "/r/a"), shallow).effect
    stale_allowed = evaluator.evaluate(stale, evaluator.Request("file-read-data", path="/r/a")).allowed
    assert effect == "allow" and not stale_allowed
    _, fresh = profile_for(policy, shallow, False)
    for req in (ir.normalize_request("read", p) for p in ("/r/a", "/r/b", "/r/a/x")):
        want = ir.decide(policy, req, shallow).effect == "allow"
        assert evaluator.evaluate(fresh, evaluator.Request("file-read-data", path=req.object)).allowed == want


def test_golden_profiles_are_deterministic(tmp_path):
    from aw_policy.merge import compile_sources

    policy = compile_sources(GOLDEN_SOURCES).policy
    first = sbpl.render(policy, bundle.reference_params(policy, {}))
    second = sbpl.render(compile_sources(list(GOLDEN_SOURCES)).policy, bundle.reference_params(policy, {}))
    assert [(a.path, a.data) for a in first] == [(a.path, a.data) for a in second]
    assert all(str(tmp_path) not in a.data.decode() and "/work/" not in a.data.decode() for a in first)


def test_no_character_after_the_scanned_range_has_a_decomposition():
    import unicodedata

    last = max(cp for cp in range(0x110000) if unicodedata.decomposition(chr(cp)))
    assert last == sbpl.LAST_DECOMPOSABLE
