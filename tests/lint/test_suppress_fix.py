"""Inline suppressions, unused suppressions and --fix."""

from __future__ import annotations

import os

from helpers import run_cli

from aw_policy.lint import lint_paths
from aw_policy.lint.config import Config


def codes(result):
    return [d.code for d in result.diagnostics]


def test_suppression_on_the_line_silences_the_code(write):
    path = write("p/project.awp", 'scope project\nfs { allow read "~" }  # awpolicy: ignore[AWP201] throwaway VM\n')
    assert codes(lint_paths([str(path)])) == []


def test_suppression_alone_on_a_line_applies_to_the_next_code_line(write):
    path = write("p/project.awp", 'scope project\nfs {\n  # awpolicy: ignore[AWP201] throwaway VM\n\n'
                                  '  allow read "~"\n}\n')
    assert codes(lint_paths([str(path)])) == []


def test_suppression_of_another_code_does_not_silence_and_is_reported_unused(write):
    path = write("p/project.awp", 'scope project\nfs { allow read "~" }  # awpolicy: ignore[AWP202] not this one\n')
    result = lint_paths([str(path)])
    assert codes(result) == ["AWP201", "AWP031"]
    assert "AWP202 silences nothing" in result.diagnostics[1].message


def test_suppression_without_reason_is_not_applied(write):
    path = write("p/project.awp", 'scope project\nfs { allow read "~" }  # awpolicy: ignore[AWP201]\n')
    assert sorted(codes(lint_paths([str(path)]))) == ["AWP030", "AWP201"]


def test_unused_suppression_is_only_reported_for_checks_that_ran(write):
    path = write("p/project.awp", 'scope project\nfs { allow read "/usr" }  # awpolicy: ignore[AWP201] ok\n')
    assert codes(lint_paths([str(path)])) == ["AWP031"]
    assert codes(lint_paths([str(path)], Config(ignore=("AWP201",)))) == []


def test_input_errors_cannot_be_suppressed(write):
    path = write("p/project.awp", 'scope project\nfs { alow read "/usr" }  # awpolicy: ignore[AWP003] no\n')
    result = lint_paths([str(path)])
    assert codes(result) == ["AWP003"] and result.exit_code() == 2


def test_suppression_in_yaml_and_sbpl(write):
    yaml = write("y/user.awp.yaml", 'scope: user\nfs:\n  - allow: read\n    paths: ["~"]  # awpolicy: ignore[AWP201] demo\n')
    assert codes(lint_paths([str(yaml)])) == []
    sb = write("s/profile.sb", '(version 1)\n(allow default) ; awpolicy: ignore[AWP504] a demo profile\n')
    assert "AWP504" not in codes(lint_paths([str(sb)]))
    assert "AWP504" in codes(lint_paths([str(write("s2/profile.sb", "(version 1)\n(allow default)\n"))]))


def test_fix_policy_paths_is_idempotent_and_keeps_everything_else(write):
    text = ('scope project\n# keep this comment\nfs {\n  allow read "/usr/share/" "/opt//tools/./bin"  '
            '# and this\n  allow read "~/" literal "/etc/hosts"\n}\n')
    path = write("p/project.awp", text)
    os.chmod(path, 0o640)
    first = run_cli("lint", "--fix", str(path))
    fixed = path.read_text()
    assert fixed == text.replace('"/usr/share/"', '"/usr/share"').replace('"/opt//tools/./bin"', '"/opt/tools/bin"') \
        .replace('"~/"', '"~"')
    assert "AWP032" not in first.stdout and "1 file(s) fixed" in first.stderr
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    second = run_cli("lint", "--fix", str(path))
    assert path.read_text() == fixed and "fixed" not in second.stderr
    assert sorted(p.name for p in path.parent.iterdir()) == ["project.awp"]  # no temp files left


def test_fix_yaml_paths(write):
    path = write("y/user.awp.yaml", "scope: user\nfs:\n  - allow: read\n    paths: ['/usr/share/', /opt/x/]\n")
    run_cli("lint", "--fix", str(path))
    assert path.read_text() == "scope: user\nfs:\n  - allow: read\n    paths: ['/usr/share', /opt/x]\n"
    assert codes(lint_paths([str(path)])) == []


def test_fix_sbpl_is_idempotent(write):
    path = write("s/profile.sb", '(version 1)\n(deny default)\n(allow file-read* (subpath "/tmp/"))\n')
    before = codes(lint_paths([str(path)]))
    assert {"AWP505", "AWP506"} <= set(before)
    run_cli("lint", "--fix", str(path))
    once = path.read_text()
    assert once != '(version 1)\n(deny default)\n(allow file-read* (subpath "/tmp/"))\n'
    assert not {"AWP505", "AWP506"} & set(codes(lint_paths([str(path)])))
    run_cli("lint", "--fix", str(path))
    assert path.read_text() == once
