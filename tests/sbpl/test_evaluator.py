"""The Seatbelt model: one test per documented fact and per labelled modelling choice.

Expected answers come from the facts in FACTS.md (quoted in the evaluator's
docstring); there is no Seatbelt on this machine to ask instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sbpl.vendor_like import IMPORTS, PARAMS, vendor_like_profile

from aw_policy.diagnostics import PolicyError
from aw_policy.sbpl.evaluator import Request, evaluate, load_profile

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("AWPOLICY_FUZZ_EXAMPLES", "150"))


def verdict(body: str, request: Request, params=None, header="(version 1)\n(deny default)\n"):
    return evaluate(load_profile(header + body, params or {}, "t.sb"), request)


def allowed(body: str, request: Request, params=None, **kw) -> bool:
    return verdict(body, request, params, **kw).allowed


def read(path):
    return Request("file-read-data", path=path)


def load_error(text: str, params=None, **kw):
    with pytest.raises(PolicyError) as info:
        load_profile(text, params or {}, "bad.sb", **kw)
    (diag,) = info.value.diagnostics
    assert diag.span.file in ("bad.sb", "lib.sb") and diag.hint
    return diag


# ----------------------------------------------------------------------------- rule order


def test_last_matching_filtered_rule_wins_not_the_most_specific():
    deny_then_allow = '(deny file-read* (subpath "/a/secret"))\n(allow file-read* (subpath "/a"))'
    allow_then_deny = '(allow file-read* (subpath "/a"))\n(deny file-read* (subpath "/a/secret"))'
    assert allowed(deny_then_allow, read("/a/secret/key"))  # the broader allow is last
    assert not allowed(allow_then_deny, read("/a/secret/key"))
    v = verdict(deny_then_allow, read("/a/secret/key"))
    assert v.rule.effect == "allow" and v.rule.span.line == 4 and "last matching" in v.reason


def test_an_unfiltered_allow_never_beats_a_matching_filtered_deny():
    body = '(deny file-read* (subpath "/secret"))\n(allow file-read*)'
    assert not allowed(body, read("/secret/x"))
    assert allowed(body, read("/elsewhere"))  # the unfiltered allow is the fallback
    body = '(allow file-read*)\n(deny file-read* (subpath "/secret"))'
    assert not allowed(body, read("/secret/x")) and allowed(body, read("/elsewhere"))


def test_unfiltered_rules_set_the_fallback_wherever_written_and_the_last_one_counts():
    # M1: between unfiltered rules the last written sets the fallback
    assert not allowed("(allow file-read*)\n(deny file-read*)", read("/x"))
    assert allowed("(deny file-read*)\n(allow file-read*)", read("/x"))
    # (allow default) written after filtered rules still only sets the fallback
    body = '(deny file-write* (subpath "/x"))\n(allow default)'
    assert not allowed(body, Request("file-write-data", path="/x/y"))
    assert allowed(body, Request("file-write-data", path="/y"))


def test_several_filters_in_one_rule_are_ored():
    body = '(allow file-read* (literal "/a") (subpath "/b"))'
    assert allowed(body, read("/a")) and allowed(body, read("/b/c")) and not allowed(body, read("/c"))


# ----------------------------------------------------------------------------- operation hierarchy


@pytest.mark.parametrize(
    ("rule_op", "request_op", "applies"),
    [
        ("file-read*", "file-read-data", True),
        ("file-read*", "file-read-metadata", True),
        ("file*", "file-write-unlink", True),
        ("file-read*", "file-write-data", False),
        ("file-read-data", "file-read-metadata", False),
        ("ipc*", "ipc-posix-shm-write-data", True),
        ("ipc-posix-shm*", "ipc-posix-shm-write-create", True),
        ("process-exec", "process-exec*", True),  # the common spelling of process-exec*
        ("network*", "network-outbound", True),
    ],
)
def test_operations_fall_back_along_their_hierarchy(rule_op, request_op, applies):
    request = Request(request_op, path="/x", name="/x", host="localhost", port=1)
    assert allowed(f"(allow {rule_op})", request) is applies
    if applies:
        assert verdict(f"(allow {rule_op})", request).rule.operations


def test_wildcard_and_exact_rules_share_one_order():
    body = '(deny file-read-data (subpath "/a"))\n(allow file-read* (subpath "/a"))'
    assert allowed(body, read("/a/x"))  # the file-read* rule is written last
    body = '(allow file-read* (subpath "/a"))\n(deny file-read-data (subpath "/a"))'
    assert not allowed(body, read("/a/x"))
    assert allowed(body, Request("file-read-metadata", path="/a/x"))


def test_an_operation_no_rule_names_gets_the_default():
    v = verdict('(allow file-read* (subpath "/"))', Request("file-write-data", path="/x"))
    assert not v.allowed and v.rule is None and "default rule at t.sb:2:1" in v.reason
    assert allowed("(allow file-read* (literal \"/x\"))", Request("file-write-data", path="/x"),
                   header="(version 1)\n(allow default)\n")


def test_no_default_rule_at_all_denies():  # M2
    v = verdict("(allow file-read* (literal \"/x\"))", read("/y"), header="(version 1)\n")
    assert not v.allowed and v.rule is None and "M2" in v.reason


@pytest.mark.parametrize(
    ("operation", "rule_op"),
    [
        ("process-info-pidinfo", "process-info*"),
        ("process-info-listpids", "process-info-listpids"),
        ("file-map-executable", "file-map-executable"),
        ("dynamic-code-generation", "dynamic-code-generation"),
        ("nvram-get", "nvram*"),
        ("iokit-get-properties", "iokit-get-properties"),
    ],
)
def test_deny_default_does_not_cover_some_operations(operation, rule_op):
    request = Request(operation, path="/x", target="others", name="x")
    v = verdict("", request)
    assert v.allowed and v.rule is None and "not covered by (deny default)" in v.reason
    assert not allowed(f"(deny {rule_op})", request)  # unless a rule names them


def test_deny_default_covers_ordinary_operations():
    assert not allowed("", Request("file-write-data", path="/x"))
    assert not allowed("", Request("network-outbound", host="localhost", port=80))


def test_a_process_may_always_signal_itself():
    body = "(deny signal)\n(deny signal (target self))"
    v = verdict(body, Request("signal", target="self"))
    assert v.allowed and v.rule is None and "itself" in v.reason
    assert not allowed(body, Request("signal", target="children"))


# ----------------------------------------------------------------------------- path filters


@pytest.mark.parametrize(
    ("flt", "path", "match"),
    [
        ('(literal "/a/b")', "/a/b", True),
        ('(literal "/a/b")', "/a/b/c", False),
        ('(path "/a/b")', "/a/b", True),
        ('(subpath "/a")', "/a", True),
        ('(subpath "/a")', "/a/b/c", True),
        ('(subpath "/a")', "/ab", False),
        ('(subpath "/")', "/anything", True),
        ('(subpath "/a/")', "/a", False),  # M4
        ('(subpath "/a/")', "/a/b", False),  # M4
        ('(prefix "/a")', "/ab", True),
        ('(prefix "/a/")', "/a", False),
        ('(regex #"^/a/[^/]+$")', "/a/b", True),
        ('(regex #"^/a/[^/]+$")', "/a/b/c", False),
        ('(regex #"/\\.ssh")', "/Users/x/.ssh/id", True),  # unanchored: searched anywhere
        ('(regex #"^/a/[[:digit:]]+$")', "/a/42", True),
        ('(regex #"^/a/[[:digit:]]+$")', "/a/4x", False),
        ('(regex #"^/a/[\\]x$")', "/a/\\x", True),  # backslash is literal in brackets (M7)
        ('(regex #"^/a$")', "/a\n", False),  # POSIX $ is the very end (M7)
        ('(regex #"^/a.b$")', "/a\nb", True),  # and . matches a newline
        ('(regex #"^/a/[&|~]$")', "/a/|", True),
        ('(literal "/Users/a/.ssh")', "/Users/a/.SSH", False),  # case-sensitive
        ('(subpath "/Users/a/.ssh")', "/Users/a/.SSH/id", False),
    ],
)
def test_path_filters(flt, path, match):
    assert allowed(f"(allow file-read* {flt})", read(path)) is match


def test_path_filters_never_match_a_request_without_a_path():
    assert not allowed('(allow mach-lookup (subpath "/"))', Request("mach-lookup", name="x"))


def test_require_all_any_not_combine_filters():
    body = ('(allow file-write* (require-all (subpath "/w") '
            '(require-not (subpath "/w/.git")) (require-any (literal "/w/a") (prefix "/w/b"))))')
    write = lambda p: Request("file-write-data", path=p)
    assert allowed(body, write("/w/a")) and allowed(body, write("/w/bz"))
    assert not allowed(body, write("/w/c")) and not allowed(body, write("/w/.git/a"))


# ----------------------------------------------------------------------------- params and scheme


def test_params_fill_filters_and_string_append_joins():
    body = '(allow file-read* (subpath (string-append (param "HOME") "/work")))'
    assert allowed(body, read("/Users/u/work/x"), {"HOME": "/Users/u"})
    assert not allowed(body, read("/Users/other/work/x"), {"HOME": "/Users/u"})


def test_a_missing_param_fails_the_load_at_its_place():
    diag = load_error('(version 1)\n(allow file-read* (subpath (param "HOME")))')
    assert diag.code == "AWP511" and (diag.span.line, diag.span.col) == (2, 28) and "-D HOME=" in diag.hint


def test_define_let_if_and_procedures():
    body = """
(define base (param "W"))
(define (under rel) (subpath (string-append base rel)))
(define (both . fs) (apply require-any fs))
(let* ((a "/src") (b (string-append a "/gen")))
  (if (equal? (param "MODE") "ro")
      (allow file-read* (under a))
      (allow file-write* (both (under a) (under b)))))
(for-each (lambda (n) (deny file-write* (under n))) '("/src/gen/keep"))
"""
    params = {"W": "/w", "MODE": "rw"}
    assert allowed(body, Request("file-write-data", path="/w/src/x"), params)
    assert not allowed(body, Request("file-write-data", path="/w/src/gen/keep/x"), params)
    params["MODE"] = "ro"
    assert not allowed(body, Request("file-write-data", path="/w/src/x"), params)
    assert allowed(body, read("/w/src/x"), params)


def test_the_procedures_vendor_profiles_use():
    body = """
(if (positive? (string-length (param "X"))) (allow file-read* (subpath (param "X"))))
(allow system-fsctl (fsctl-command (_IO "h" 47)))
(allow file-read* (literal (string-append "/n" (number->string (+ 1 2 (- 5 3))))))
(when (and (< 1 2 3) (= 2 2) (> 3 1) (not (null? '(a))) (string? "s") (symbol? 'a))
  (allow file-write* (literal (string-append "/" (symbol->string 'abc)))))
(allow file-read* (literal (car (cdr (list "/a" "/b")))) (literal (string-append "/" (car (cons "c" '())))))
(cond ((string-prefix? "/U" (param "X")) (allow mach-lookup (global-name "yes")))
      (else (allow mach-lookup (global-name "no"))))
"""
    loaded = load_profile("(version 1)\n(deny default)\n" + body, {"X": "/x"}, "t.sb")
    assert evaluate(loaded, read("/x/y")).allowed and evaluate(loaded, read("/n5")).allowed
    assert evaluate(loaded, Request("file-write-data", path="/abc")).allowed
    assert evaluate(loaded, read("/b")).allowed and evaluate(loaded, read("/c")).allowed
    assert not evaluate(loaded, read("/a")).allowed
    assert evaluate(loaded, Request("mach-lookup", name="no")).allowed
    assert not evaluate(loaded, Request("system-fsctl")).allowed  # opaque filter on an allow (M3)


def test_import_runs_the_imported_profile_in_place():
    lib = '(allow file-read* (subpath "/lib"))\n(define libdir "/opt")'
    text = '(version 1)\n(deny default)\n(import "lib.sb")\n(allow file-read* (subpath libdir))'
    loaded = load_profile(text, {}, "t.sb", importer={"lib.sb": lib}.get)
    v = evaluate(loaded, read("/lib/x"))
    assert v.allowed and v.rule.span.file == "lib.sb" and v.rule.span.line == 1
    assert evaluate(loaded, read("/opt/y")).allowed


@pytest.mark.parametrize(
    ("text", "importer", "words"),
    [
        ('(import "lib.sb")', None, "no importer"),
        ('(import "x.sb")', {}.get, "does not know"),
        ('(import "lib.sb")', {"lib.sb": '(import "lib.sb")'}.get, "cycle"),
    ],
)
def test_import_errors(text, importer, words):
    assert words in load_error("(version 1)\n" + text, importer=importer).message


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("(version 1)\n(allow file-raed* (literal \"/a\"))", "AWP502", "unknown operation"),
        ('(version 1)\n(allow network-outbound (remote tcp "10.0.0.1:80"))', "AWP507", "only * or localhost"),
        ('(version 1)\n(allow network-outbound (remote tcp "example.com:80"))', "AWP507", "only * or localhost"),
        ('(version 1)\n(allow network-outbound (remote tcp "localhost"))', "AWP507", "host:port"),
        ("(version 2)", "AWP511", "version"),
        ("(version 1)\n(define (f) (f))\n(f)", "AWP511", "deep"),
        ("(version 1)\n(define (f x) (if (> x 0) (begin (f (- x 1)) (f (- x 1))) 0))\n(f 40)", "AWP511",
         "too long"),
        ("(version 1)\n(allow file-read* (literal 3))", "AWP511", "expects a string"),
        ('(version 1)\n(allow file-read* (regex #"^(a"))', "AWP511", "invalid regex"),
        ('(version 1)\n(allow file-read* (regex #"(?i)^/a$"))', "AWP511", "not POSIX"),
        ('(version 1)\n(allow file-read* (regex #"^/a\\d$"))', "AWP511", "not POSIX"),
        ('(version 1)\n(allow file-read* (regex #"^/a.*?$"))', "AWP511", "not POSIX"),
        ("(version 1)\n(nonsense 1 2)", "AWP511", "not a procedure"),
        ("(version 1)\n(string-length 3)", "AWP511", "the number 3"),
        ("(version 1)\n(symbol->string \"a\")", "AWP511", "expects a symbol"),
        ("(version 1)\n(positive?)", "AWP511", "takes one argument"),
        ("(version 1)\n(car '())", "AWP511", "empty list"),
        ("(version 1)\n(map car 1)", "AWP511", "expects a list"),
        ("(version 1)\n(deny signal (target everyone))", "AWP511", "target"),
        ("(version 1)\n(deny file-read* (with shout))", "AWP511", "modifier"),
        ("(version 1)\n(allow (subpath \"/a\"))", "AWP511", "names no operation"),
        ("(version 1)\n`(a ,b)", "AWP511", "not supported"),
    ],
)
def test_profiles_that_would_not_load_raise_located_errors(text, code, words):
    diag = load_error(text)
    assert diag.code == code and words in diag.message and diag.span.line >= 1


# ----------------------------------------------------------------------------- network


@pytest.mark.parametrize(
    ("rule", "request_", "match"),
    [
        ('(allow network-outbound (remote tcp "localhost:8080"))', ("network-outbound", "127.0.0.1", 8080, "tcp"), True),
        ('(allow network-outbound (remote tcp "localhost:8080"))', ("network-outbound", "::1", 8080, "tcp"), True),
        ('(allow network-outbound (remote tcp "localhost:8080"))', ("network-outbound", "10.1.1.1", 8080, "tcp"), False),
        ('(allow network-outbound (remote tcp "localhost:8080"))', ("network-outbound", "localhost", 8081, "tcp"), False),
        ('(allow network-outbound (remote tcp "localhost:8080"))', ("network-outbound", "localhost", 8080, "udp"), False),
        ('(allow network-outbound (remote ip "*:53"))', ("network-outbound", "9.9.9.9", 53, "udp"), True),
        ('(allow network-outbound (remote ip "*:*"))', ("network-outbound", "9.9.9.9", 1, "tcp"), True),
        ('(allow network-outbound (remote tcp4 "*:443"))', ("network-outbound", "9.9.9.9", 443, "tcp"), True),
        ("(allow network-outbound (remote ip))", ("network-outbound", "9.9.9.9", 7, "udp"), True),
        ('(allow network-bind (local tcp "localhost:*"))', ("network-bind", "127.0.0.1", 5000, "tcp"), True),
        ('(allow network-bind (remote tcp "*:*"))', ("network-bind", "127.0.0.1", 5000, "tcp"), False),  # M5
        ('(allow network-outbound (local tcp "*:*"))', ("network-outbound", "1.1.1.1", 80, "tcp"), False),  # M5
        ('(allow network-outbound (remote unix-socket (path-literal "/private/var/run/x.sock")))',
         ("network-outbound", None, None, "unix"), True),
        ('(allow network-outbound (remote tcp "*:*"))', ("network-outbound", None, None, "unix"), False),
    ],
)
def test_network_filters(rule, request_, match):
    op, host, port, proto = request_
    path = "/private/var/run/x.sock" if proto == "unix" else None
    assert allowed(rule, Request(op, host=host, port=port, protocol=proto, path=path)) is match


# ----------------------------------------------------------------------------- signals and mach


@pytest.mark.parametrize(
    ("flt", "target", "match"),
    [
        ("(target children)", "children", True),
        ("(target children)", "pgrp", False),
        ("(target pgrp)", "pgrp", True),
        ("(target same-sandbox)", "same-sandbox", True),
        ("(target others)", "children", True),  # M6
        ("(target others)", "others", True),
    ],
)
def test_signal_targets(flt, target, match):
    assert allowed(f"(allow signal {flt})", Request("signal", target=target)) is match


@pytest.mark.parametrize(
    ("flt", "name", "namespace", "match"),
    [
        ('(global-name "com.apple.x")', "com.apple.x", "global", True),
        ('(global-name "com.apple.x")', "com.apple.x", "local", False),
        ('(global-name "com.apple.x")', "com.apple.xy", "global", False),
        ('(local-name "com.example.a")', "com.example.a", "local", True),
        ('(global-name-prefix "com.apple.")', "com.apple.y", "global", True),
        ('(global-name-regex #"^com\\.apple\\.[a-z]+$")', "com.apple.abc", "global", True),
        ('(global-name-regex #"^com\\.apple\\.[a-z]+$")', "com.applexabc", "global", False),
    ],
)
def test_mach_names(flt, name, namespace, match):
    assert allowed(f"(allow mach-lookup {flt})", Request("mach-lookup", name=name, namespace=namespace)) is match


def test_vnode_type_filter():
    body = "(allow file-read* (vnode-type DIRECTORY SYMLINK))"
    assert allowed(body, Request("file-read-data", path="/d", vnode_type="DIRECTORY"))
    assert not allowed(body, Request("file-read-data", path="/d", vnode_type="REGULAR-FILE"))
    assert not allowed(body, Request("file-read-data", path="/d"))


# ----------------------------------------------------------------------------- modifiers


def test_modifiers_are_recorded_and_report_reaches_the_verdict():
    body = """(allow file-read* (subpath "/a") (with report))
(deny file-write* (subpath "/a") (with send-signal SIGKILL))
(deny file-read* (literal "/a/quiet") (with no-log))"""
    v = verdict(body, read("/a/x"))
    assert v.allowed and v.report
    v = verdict(body, Request("file-write-data", path="/a/x"))
    assert not v.allowed and not v.report and v.rule.signal == "SIGKILL"
    v = verdict(body, read("/a/quiet"))
    assert not v.allowed and [m.name for m in v.rule.modifiers] == ["no-log"]


def test_filters_the_model_cannot_decide_lean_to_deny():  # M3
    allow = '(allow file-read* (extension "com.apple.app-sandbox.read"))'
    deny = '(deny file-read* (extension "com.apple.app-sandbox.read"))'
    assert not allowed(allow, read("/x"))
    v = verdict('(allow file-read*)\n' + deny, read("/x"))
    assert not v.allowed and "M3" in v.reason
    # require-not of an undecidable filter is still undecidable
    assert not allowed('(allow file-read* (require-not (extension "x")))', read("/x"))


# ----------------------------------------------------------------------------- whole profiles


def test_the_constructs_fixture_loads_and_decides():
    text = (FIXTURES / "constructs.sb").read_text(encoding="utf-8")
    params = {"HOME": "/Users/agent", "WORKSPACE": "/Users/agent/w", "MODE": "dev"}
    loaded = load_profile(text, params, "constructs.sb", importer=lambda n: (FIXTURES / n).read_text())
    decide = lambda **kw: evaluate(loaded, Request(**kw)).allowed
    assert decide(operation="file-read-data", path="/usr/lib/libc.dylib")  # imported
    assert decide(operation="file-write-data", path="/Users/agent/w/src/a.c")
    assert not decide(operation="file-write-data", path="/Users/agent/w/.git/HEAD")
    assert not decide(operation="file-write-data", path="/Users/agent/.aws/credentials")
    assert not decide(operation="file-read-data", path="/Users/agent/.ssh/id_ed25519")
    assert decide(operation="file-read-metadata", path='/Users/agent/quote"d')
    assert decide(operation="file-read-metadata", path="/Users/agent/tab\there")
    assert decide(operation="file-read-metadata", path="/Users/agent/ABC")
    assert decide(operation="network-outbound", host="localhost", port=8080)
    assert not decide(operation="network-outbound", host="localhost", port=8081)
    assert decide(operation="process-exec", path="/usr/bin/git")
    assert not decide(operation="process-exec", path="/usr/bin/curl")
    assert not decide(operation="signal", target="others")
    assert decide(operation="mach-lookup", name="com.apple.distributed_notifications@1v3")
    params["MODE"] = "strict"
    strict = load_profile(text, params, "constructs.sb", importer=lambda n: (FIXTURES / n).read_text())
    assert not evaluate(strict, Request("network-outbound", host="localhost", port=8080)).allowed


def test_the_vendor_sized_profile_loads_and_decides():
    loaded = load_profile(vendor_like_profile(40), PARAMS, "vendor.sb", importer=IMPORTS.get)
    assert len(loaded.rules) > 600
    assert evaluate(loaded, Request("file-write-data", path="/Users/agent/work/out7/a", vnode_type="REGULAR-FILE")).allowed
    assert not evaluate(loaded, Request("file-write-data", path="/Users/agent/work/out7/.git/a",
                                         vnode_type="REGULAR-FILE")).allowed
    v = evaluate(loaded, Request("network-outbound", host="example.com", port=30007))
    assert not v.allowed and v.rule.signal == "SIGKILL"
    # operations (deny default) leaves open are closed by the explicit denials, one is reopened
    assert not evaluate(loaded, Request("nvram-get", name="boot-args")).allowed
    assert not evaluate(loaded, Request("iokit-get-properties", name="IOService")).allowed
    assert evaluate(loaded, Request("process-info-pidinfo", target="self")).allowed
    assert evaluate(loaded, Request("process-info-setcontrol", target="self")).allowed
    assert not evaluate(loaded, Request("process-info-setcontrol", target="children")).allowed


_WORDS = st.sampled_from(
    ["allow", "deny", "file-read*", "file-write*", "default", "subpath", "literal", "regex", "param",
     "string-append", "define", "let", "if", "with", "report", "target", "self", "remote", "tcp",
     "require-not", "require-any", "lambda", "apply", "f", "x", '"/a"', '"*:80"', '#"^/a"', '"X"', "1", "#t"]
)


@st.composite
def _sexprs(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(_WORDS)
    items = draw(st.lists(st.deferred(lambda: _sexprs(depth=depth + 1)), max_size=4))
    return "(" + " ".join(items) + ")"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(_sexprs(), max_size=6))
def test_any_profile_loads_or_fails_with_a_policy_error(forms):
    text = "(version 1)\n(deny default)\n" + "\n".join(forms)
    try:
        loaded = load_profile(text, {"X": "/a"}, "f.sb")
    except PolicyError as exc:
        assert exc.diagnostics[0].code.startswith("AWP5")
        return
    evaluate(loaded, Request("file-read-data", path="/a/b"))


# ----------------------------------------------------------------------------- the rule index


_SEGMENTS = st.sampled_from(["a", "b", "ab", ".git", "x.y"])
_PATHS = st.lists(_SEGMENTS, min_size=0, max_size=3).map(lambda parts: "/" + "/".join(parts))
_PATH_FILTERS = st.one_of(
    _PATHS.map(lambda p: f'(literal "{p}")'),
    _PATHS.map(lambda p: f'(subpath "{p}")'),
    _PATHS.map(lambda p: f'(prefix "{p}")'),
    st.sampled_from(['(regex #"^/a/[^/]+$")', '(regex #"^/a|/b$")', '(regex #"^/ab*")', '(regex #"b$")',
                     '(regex #"^/a\\.?b")', '(regex #"^/[ab]/")', "(vnode-type DIRECTORY)",
                     '(global-name "a")', '(extension "x")']),
)


@st.composite
def _filters(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return draw(_PATH_FILTERS)
    combinator = draw(st.sampled_from(["require-any", "require-all", "require-not"]))
    count = 1 if combinator == "require-not" else draw(st.integers(1, 3))
    return f"({combinator} " + " ".join(draw(_filters(depth + 1)) for _ in range(count)) + ")"


_RULES = st.tuples(st.sampled_from(["allow", "deny"]), st.sampled_from(["file-read*", "file-read-data", "file*"]),
                   st.lists(_filters(), min_size=0, max_size=2))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(_RULES, min_size=1, max_size=40), st.lists(st.tuples(_PATHS, st.sampled_from(
    [None, "DIRECTORY", "REGULAR-FILE"])), min_size=1, max_size=8))
def test_the_rule_index_decides_exactly_like_a_full_scan(rules, requests):
    from aw_policy.sbpl import evaluator

    body = "\n".join(f"({effect} {op} {' '.join(filters)})" for effect, op, filters in rules)
    loaded = load_profile("(version 1)\n(deny default)\n" + body, {}, "t.sb")
    threshold = evaluator.INDEX_THRESHOLD
    evaluator.INDEX_THRESHOLD = 0  # index every operation, however few its rules
    try:
        for path, vnode in requests:
            for request in (read(path), Request("file-read-data", path=path, vnode_type=vnode, name="a")):
                indexed, scanned = evaluate(loaded, request), evaluate(loaded, request, full_scan=True)
                assert (indexed.allowed, indexed.rule, indexed.reason) == (scanned.allowed, scanned.rule,
                                                                          scanned.reason)
    finally:
        evaluator.INDEX_THRESHOLD = threshold
