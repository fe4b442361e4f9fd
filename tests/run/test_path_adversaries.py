"""Hostile path names against a real sandbox: quotes, newlines, parens, very long paths, Unicode forms.

Linux file names are byte strings: NFC and NFD spellings of a name are two
different files, so a rule on one spelling neither grants nor denies the other
(macOS, where APFS treats them as one file, is the threat model's known gap).
"""

from __future__ import annotations

import json
import unicodedata

from helpers import run_cli

ODD = ['quote"d', "new\nline", "paren (allow default)", "back\\slash", "semi;colon", "sp ace", "tab\tbed"]

PROBE = r"""
import json, os, sys
args = json.loads(sys.argv[1])
out = {}
for name, path in args.items():
    try:
        with open(path) as f:
            f.read()
        out[name] = "ok"
    except OSError as e:
        out[name] = e.__class__.__name__
print(json.dumps(out))
"""


def _probe(machine, bundle, paths: dict[str, str]) -> dict[str, str]:
    result = machine.py(bundle, PROBE, json.dumps(paths), opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_odd_names_in_the_workspace_are_readable_and_in_ssh_are_not(machine, golden_bundle):
    paths = {}
    for i, name in enumerate(ODD):
        (machine.ws / name).write_text("x")
        (machine.home / ".ssh" / name).write_text("k")
        paths[f"ws{i}"] = str(machine.ws / name)
        paths[f"ssh{i}"] = str(machine.home / ".ssh" / name)
    report = _probe(machine, golden_bundle, paths)
    assert {k: v for k, v in report.items() if k.startswith("ws")} == {f"ws{i}": "ok" for i in range(len(ODD))}
    assert {k: v for k, v in report.items() if k.startswith("ssh")} == {
        f"ssh{i}": "PermissionError" for i in range(len(ODD))}


def test_a_deny_on_an_odd_name_is_enforced_exactly(machine, extra_bundle):
    name = 'odd "name" (deny)\nx'
    (machine.ws / name).mkdir()
    (machine.ws / name / "f").write_text("x")
    (machine.ws / "plain").write_text("x")
    bundle = extra_bundle('fs { deny read "${WORKSPACE}/' + name.replace("\\", "\\\\").replace('"', '\\"')
                          .replace("\n", "\\n") + '" }\n')
    report = _probe(machine, bundle, {"odd": str(machine.ws / name / "f"), "plain": str(machine.ws / "plain")})
    assert report == {"odd": "PermissionError", "plain": "ok"}


def test_unicode_spellings_are_distinct_files_on_linux_and_each_is_decided_by_its_own_rule(machine, extra_bundle):
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    for spelling in (nfc, nfd):
        (machine.ws / spelling).mkdir()
        (machine.ws / spelling / "f").write_text(spelling)
    bundle = extra_bundle(f'fs {{ deny read "${{WORKSPACE}}/{nfc}" }}\n')
    report = _probe(machine, bundle, {"nfc": str(machine.ws / nfc / "f"), "nfd": str(machine.ws / nfd / "f")})
    # the deny names the NFC directory; the NFD one is another directory that the workspace grant covers
    assert report == {"nfc": "PermissionError", "nfd": "ok"}


def test_very_long_paths_compile_or_are_refused_with_a_diagnostic(tmp_path):
    long_component = "d" * 255
    deep = "/".join([long_component] * 20)  # 5,119 characters: longer than PATH_MAX
    src = tmp_path / "long.awp"
    src.write_text(f'scope project\nfs {{ allow read "/srv/{deep}" ; deny read "/srv/{deep}/x" }}\n')
    result = run_cli("compile", str(src), "-o", str(tmp_path / "bundle"))
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        explain = run_cli("explain", "--bundle", str(tmp_path / "bundle"), "read", f"/srv/{deep}/x/y",
                          "--format", "json")
        assert explain.returncode == 0 and json.loads(explain.stdout)["effect"] == "deny"
    else:
        assert result.returncode == 2 and "long.awp:" in result.stderr
