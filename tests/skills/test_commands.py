"""`awpolicy skills init|list|describe|path|registry|contract`: everything but `run`."""

from __future__ import annotations

import json
import os
import stat

from agent_helpers import git

from aw_policy import skills, worktree


def manifest(name: str, description: str = "does things", **extra) -> dict:
    return {"name": name, "description": description, "command": ["true"], **extra}


def test_init_writes_a_valid_skill_from_the_template_and_never_overwrites(cli, repo):
    code, out, err = cli("skills", "init", "fmt", "--description", 'Format "all" the code')
    assert code == 0, err
    directory = repo / "skills" / "fmt"
    assert f"created {directory}" in out
    assert sorted(p.name for p in directory.iterdir()) == ["README.md", "run.sh", "skill.json"]
    data = json.loads((directory / "skill.json").read_text())
    assert data["name"] == "fmt" and data["description"] == 'Format "all" the code'
    assert data["command"] == ["sh", "${SKILL_DIR}/run.sh"]
    assert os.stat(directory / "run.sh").st_mode & stat.S_IXUSR
    readme = (directory / "README.md").read_text()
    assert "awpolicy skills run fmt" in readme and "AWPOLICY_RESULT_PATH" in readme
    assert skills.find(repo, "fmt").description == 'Format "all" the code'

    (directory / "run.sh").write_text("# mine\n")
    code, _, err = cli("skills", "init", "fmt")
    assert code == 2 and "already exists" in err
    assert (directory / "run.sh").read_text() == "# mine\n"  # untouched

    code, _, err = cli("skills", "init", "../evil")
    assert code == 2 and "not a skill name" in err
    assert not (repo / "evil").exists()


def test_init_local_lands_under_dot_awpolicy_and_stays_out_of_git(cli, repo):
    code, _, err = cli("skills", "init", "scratch", "--local")
    assert code == 0, err
    assert (repo / ".awpolicy" / "skills" / "scratch" / "skill.json").is_file()
    assert not (repo / "skills").exists()
    assert git("status", "--porcelain", cwd=repo) == ""  # .awpolicy/ is ignored
    assert skills.find(repo, "scratch").scope == "local"


def test_list_sorts_by_name_marks_shadowing_and_skips_non_skills(cli, repo, skill):
    skill("zeta", manifest("zeta", "last"))
    skill("alpha", manifest("alpha", "committed alpha"))
    skill("alpha", manifest("alpha", "my local alpha"), local=True)
    (repo / "skills" / "_lib").mkdir()  # no skill.json: a helper directory, not a skill
    (repo / "skills" / "NOTES.md").write_text("x")
    code, out, err = cli("skills", "list")
    assert code == 0, err
    assert out.splitlines() == ["alpha\tlocal (shadows committed)\t.awpolicy/skills/alpha\tmy local alpha",
                                "zeta\tcommitted\tskills/zeta\tlast"]
    code, out, _ = cli("skills", "list", "--format", "json")
    entries = json.loads(out)
    assert [(e["name"], e["scope"], e["shadows"]) for e in entries] == [("alpha", "local", "skills/alpha"),
                                                                        ("zeta", "committed", None)]
    assert skills.find(repo, "alpha").shadows == repo / "skills" / "alpha"


def test_list_reports_broken_manifests_located_and_exits_2_but_still_lists_the_rest(cli, skill):
    skill("good", manifest("good"))
    skill("broken", '{"name": "broken",\n "description": "x",\n "command": [1]}')
    skill("bad name", manifest("bad name"))
    code, out, err = cli("skills", "list")
    assert code == 2
    assert out.splitlines() == ["good\tcommitted\tskills/good\tdoes things"]
    assert "skills/broken/skill.json:3:14: error[AWP041]: command[0] must be a string, not a number" in err
    assert "skills/bad name/skill.json:1:1: error[AWP042]: directory name 'bad name' is not a valid" in err


def test_empty_worktree_says_how_to_start(cli):
    code, out, err = cli("skills", "list")
    assert code == 0 and out == "" and "skills init NAME" in err


def test_a_broken_neighbour_does_not_hide_a_good_skill(cli, skill):
    skill("good", manifest("good"))
    skill("broken", "{")
    code, _, err = cli("skills", "describe", "good")
    assert code == 0, err
    code, _, err = cli("skills", "describe", "broken")
    assert code == 2 and "skills/broken/skill.json:1:2: error[AWP040]: not valid JSON" in err


def test_describe_shows_the_manifest_and_its_expansion(cli, repo, skill):
    directory = skill("fmt", manifest("fmt", command=["sh", "${SKILL_DIR}/run.sh"], cwd="${WORKTREE}",
                                      env={"OUT": "${WORKTREE}/out"}))
    code, out, err = cli("skills", "describe", "fmt")
    assert code == 0, err
    assert f"fmt (committed)  {directory}/skill.json" in out
    assert f"-> sh {directory}/run.sh" in out
    assert f"cwd      ${{WORKTREE}} -> {repo}" in out
    assert f"env      OUT=${{WORKTREE}}/out -> {repo}/out" in out
    code, out, _ = cli("skills", "describe", "fmt", "--format", "json")
    data = json.loads(out)
    assert data["expanded"] == {"dir": str(directory), "command": ["sh", f"{directory}/run.sh"],
                                "cwd": str(repo), "env": {"OUT": f"{repo}/out"}}
    assert data["manifest"] == "skills/fmt/skill.json"


def test_unknown_skill_suggests_a_close_name(cli, skill):
    skill("format", manifest("format"))
    code, _, err = cli("skills", "describe", "fromat")
    assert code == 2 and "no skill named 'fromat'" in err and "did you mean 'format'?" in err


def test_path_prints_the_directory_or_a_file_inside_it(cli, skill):
    directory = skill("fmt", manifest("fmt"))
    assert cli("skills", "path", "fmt") == (0, f"{directory}\n", "")
    assert cli("skills", "path", "fmt", "--file", "run.sh") == (0, f"{directory}/run.sh\n", "")
    code, _, err = cli("skills", "path", "fmt", "--file", "../../README")
    assert code == 2 and "leaves the skill directory" in err


def test_contract_text_and_json(cli, registry_schema):
    code, out, _ = cli("skills", "contract")
    assert code == 0
    for name, _meaning in skills.CONTRACT_ENV:
        assert name in out
    assert "awpolicy.skill-run/1" in out
    code, out, _ = cli("skills", "contract", "--format", "json")
    contract = json.loads(out)
    assert contract == skills.CONTRACT
    registry_schema.validate({"format": skills.REGISTRY_FORMAT, "contract": contract, "skills": []})


def test_registry_is_deterministic_valid_and_written_atomically(cli, repo, skill, registry_schema):
    skill("b", manifest("b", env={"Z": "1", "A": "${SKILL_DIR}"}))
    skill("a", manifest("a"), local=True)
    code, printed, err = cli("skills", "registry")
    assert code == 0, err
    data = json.loads(printed)
    registry_schema.validate(data)
    assert data["format"] == "awpolicy.skill-registry/1" and data["contract"] == skills.CONTRACT
    assert [s["name"] for s in data["skills"]] == ["a", "b"]
    assert data["skills"][1] == {
        "name": "b", "scope": "committed", "dir": "skills/b", "manifest": "skills/b/skill.json",
        "description": "does things", "command": ["true"], "cwd": None, "env": {"A": "${SKILL_DIR}", "Z": "1"},
        "shadows": None, "run": ["awpolicy", "skills", "run", "b", "--"]}
    assert str(repo) not in printed  # paths relative to the worktree: the same bytes in every checkout

    target = repo / "registry.json"
    code, _, err = cli("skills", "registry", "-o", str(target))
    assert code == 0 and "wrote" in err
    assert target.read_text() == printed
    assert [p.name for p in repo.iterdir() if p.name.startswith(".registry")] == []  # no temporary left

    skill("c", '{"name": "c"}')
    code, _, err = cli("skills", "registry", "-o", str(target))
    assert code == 2 and "missing required field" in err
    assert target.read_text() == printed  # an invalid manifest fails the registry; the old file stays


def test_worktree_option_selects_a_session_worktree(cli, repo):
    code, _, err = cli("skills", "list", "--worktree", "nope")
    assert code == 2 and "no such worktree" in err
    tree = worktree.ensure("ai", start=repo)
    code, _, err = cli("skills", "init", "wt-skill", "--worktree", "ai")
    assert code == 0, err
    assert (tree.path / "skills" / "wt-skill" / "skill.json").is_file()
    code, out, _ = cli("skills", "list", "--worktree", "ai")
    assert out.startswith("wt-skill\tcommitted\tskills/wt-skill\t")
    assert cli("skills", "list")[1] == ""  # the main tree has none


def test_run_of_an_unknown_skill_with_json_is_an_envelope_too(cli, envelope_schema):
    code, out, err = cli("skills", "run", "nope", "--json", "--", "x")
    assert code == 2 and "no skill named 'nope'" in err
    data = json.loads(out)
    envelope_schema.validate(data)
    assert (data["ok"], data["exit_code"], data["skill"], data["result"]) == (False, 2, None, None)
    assert "no skill named 'nope'" in data["error"]["message"]
    code, out, err = cli("skills", "run", "nope")
    assert (code, out) == (2, "") and "create one with `awpolicy skills init NAME`" in err


def test_init_refuses_a_description_that_is_not_one_line_of_text(cli, repo):
    for bad in ("two\nlines", "   ", "undecodable \udcff byte"):
        code, _, err = cli("skills", "init", "x", "--description", bad)
        assert code == 2 and "one non-empty line of UTF-8 text" in err
    assert not (repo / "skills").exists()
