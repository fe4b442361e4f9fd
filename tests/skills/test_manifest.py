"""skill.json: what loads, what each mistake reports, and where (file:line:col of the bad value)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aw_policy import skills
from aw_policy.diagnostics import PolicyError

GOOD = {"name": "fmt", "description": "Format the tree", "command": ["sh", "${SKILL_DIR}/run.sh", "--all"],
        "cwd": "${WORKTREE}/src", "env": {"OUT": "${WORKTREE}/out", "MY_TOKEN": "x"}}


def errors(repo, skill, manifest) -> list:
    directory = skill("fmt", manifest)
    with pytest.raises(PolicyError) as info:
        skills.load_manifest(directory / "skill.json", repo, skills.COMMITTED)
    return list(info.value.diagnostics)


def at(diagnostic) -> tuple[int, int]:
    return diagnostic.span.line, diagnostic.span.col


def test_a_valid_manifest_loads_and_expands(repo, skill):
    (repo / "src").mkdir()
    manifest = dict(GOOD, env={"OUT": "${WORKTREE}/out", "MY_TOKEN": "x", "DOLLAR": "$HOME stays $1"})
    directory = skill("fmt", manifest)
    loaded = skills.load_manifest(directory / "skill.json", repo, skills.COMMITTED)
    assert (loaded.name, loaded.scope, loaded.dir, loaded.worktree) == ("fmt", "committed", directory, repo)
    assert loaded.command == ("sh", "${SKILL_DIR}/run.sh", "--all")
    assert loaded.expanded_command() == ["sh", f"{directory}/run.sh", "--all"]
    assert loaded.expanded_cwd() == repo / "src"
    assert loaded.expanded_env() == {"OUT": f"{repo}/out", "MY_TOKEN": "x", "DOLLAR": "$HOME stays $1"}
    default_cwd = skill("other", {"name": "other", "description": "d", "command": ["true"]})
    assert skills.load_manifest(default_cwd / "skill.json", repo, "local").expanded_cwd() == default_cwd


def test_json_syntax_error_is_located(repo, skill):
    [d] = errors(repo, skill, '{\n  "name": "fmt",\n  "command": ["x",]\n}\n')
    assert d.code == skills.NOT_JSON and "not valid JSON" in d.message
    assert at(d) == (3, 19) and d.span.file.endswith("skills/fmt/skill.json")


def test_schema_errors_point_at_the_bad_value(repo, skill):
    text = ('{\n  "name": "fmt",\n  "description": "",\n  "command": "make fmt",\n'
            '  "env": {"OK": "v", "1BAD": "v", "N": 3},\n  "comand": []\n}\n')
    found = {d.message: (at(d), d.hint) for d in errors(repo, skill, text)}
    assert found["description must not be empty"][0] == (3, 18)
    argv_hint = 'write the command as an argv list: ["program", "arg", ...]'
    assert found["command must be an array, not a string"] == ((4, 14), argv_hint)
    assert found['env: "1BAD" is not a valid environment variable name'][0] == (5, 22)  # the key itself
    assert found["env.N must be a string, not a number"][0] == (5, 40)
    assert found["unknown field 'comand'"] == ((6, 3), "did you mean 'command'?")
    assert len(found) == 5


def test_missing_fields_point_at_the_object_and_say_what_to_add(repo, skill):
    found = errors(repo, skill, '\n\n  {"name": "fmt"}\n')
    assert sorted(d.message for d in found) == ["missing required field 'command'",
                                                "missing required field 'description'"]
    assert all(at(d) == (3, 3) for d in found)
    assert any("argv list" in d.hint for d in found)


@pytest.mark.parametrize("manifest,message,where", [
    (dict(GOOD, name="other"), 'name "other" differs from its directory \'fmt\'', (2, 11)),
    (dict(GOOD, command=["sh", "${HOME}/x"]), "command[1]: unknown placeholder ${HOME}", (6, 5)),
    (dict(GOOD, cwd="${WORKTREE"), "cwd: '${' without a closing '}'", (9, 10)),
    (dict(GOOD, env={"AWPOLICY_SKILL": "x"}), "env.AWPOLICY_SKILL: names starting with AWPOLICY_ are reserved",
     (11, 5)),
    (dict(GOOD, cwd="../../.."), "cwd resolves to", (9, 10)),
    (dict(GOOD, cwd="/etc"), "cwd resolves to /etc, outside the worktree", (9, 10)),
])
def test_rules_a_schema_cannot_say(repo, skill, manifest, message, where):
    [d] = errors(repo, skill, json.dumps(manifest, indent=2))
    assert d.code == skills.INVALID and d.message.startswith(message) and at(d) == where
    assert d.hint


def test_a_skill_directory_linked_out_of_the_worktree_is_refused(repo, tmp_path):
    outside = tmp_path / "elsewhere" / "fmt"
    outside.mkdir(parents=True)
    (outside / "skill.json").write_text(json.dumps(dict(GOOD, cwd=".")))
    (repo / "skills").mkdir()
    (repo / "skills" / "fmt").symlink_to(outside)
    with pytest.raises(PolicyError, match="outside the worktree"):
        skills.load_manifest(repo / "skills" / "fmt" / "skill.json", repo, skills.COMMITTED)


def test_placeholder_rules():
    assert skills.placeholder_problem("${WORKTREE}/a${SKILL_DIR}") is None
    assert skills.placeholder_problem("$WORKTREE and $$ and {x}") is None
    assert skills.placeholder_problem("${worktree}") == "unknown placeholder ${worktree}"
    assert skills.placeholder_problem("a${") == "'${' without a closing '}'"
    assert skills.expand("${WORKTREE}:${SKILL_DIR}", {"WORKTREE": "/w", "SKILL_DIR": "/s"}) == "/w:/s"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 0, 2]))
def test_value_offsets_find_every_value_of_any_document(value, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=bool(indent))

    def walk(node, path):
        yield path, node
        if isinstance(node, dict):
            for key, child in node.items():
                yield from walk(child, path + (key,))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                yield from walk(child, path + (i,))

    spans = skills.value_offsets(text)
    for path, node in walk(value, ()):
        start, end, key_start = spans[path]
        assert json.loads(text[start:end]) == node
        if path and isinstance(path[-1], str):
            assert json.JSONDecoder().raw_decode(text, key_start)[0] == path[-1]
