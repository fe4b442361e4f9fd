"""Same inputs, same bytes: the working directory, TZ, locale, hash seed and umask do not leak into a bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from helpers import GOLDEN, GOLDEN_SOURCES

ENVIRONMENTS = [
    {"TZ": "UTC", "LC_ALL": "C", "PYTHONHASHSEED": "0"},
    {"TZ": "Pacific/Kiritimati", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "12345"},
    {"TZ": "America/St_Johns", "LC_ALL": "tr_TR.UTF-8", "LANG": "de_DE.UTF-8", "PYTHONHASHSEED": "random"},
]


def compile_in(cwd, env_changes, sources, out, umask: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "TZ")}
    env.update(env_changes)
    code = ("import os, sys; os.umask(int(sys.argv[1], 8)); sys.argv = ['awpolicy'] + sys.argv[2:]; "
            "from aw_policy.cli import run; run()")
    result = subprocess.run([sys.executable, "-c", code, oct(umask), "compile", *sources, "-o", str(out)],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_cwd_tz_locale_hash_seed_and_umask_do_not_change_the_bytes(tmp_path, tree):
    """The golden sources compiled to one output path from three working directories, each time
    naming the sources differently (absolute, relative to the cwd, through ..), in three environments."""
    work = tmp_path / "work"
    (work / "deep" / "er").mkdir(parents=True)
    shutil.copytree(GOLDEN / "src", work / "src")
    out = tmp_path / "bundle"
    names = [p.name for p in GOLDEN_SOURCES]
    runs = [
        (work, [f"src/{n}" for n in names], 0o022),
        (work / "deep" / "er", [f"../../src/{n}" for n in names], 0o077),
        (tmp_path, [str(work / "src" / n) for n in names], 0o000),
    ]
    trees = []
    for (cwd, sources, umask), env in zip(runs, ENVIRONMENTS):
        compile_in(cwd, env, sources, out, umask)
        trees.append(tree(out))
        shutil.rmtree(out)
    assert trees[0] == trees[1] == trees[2]
    assert len(trees[0]) >= 4  # manifest and IR at least, with their modes


def test_no_absolute_build_machine_path_in_the_bundle(tmp_path, compile_golden):
    """Sources are named relative to the bundle (``../../src/org.awp``), never by an absolute path."""
    files = compile_golden(tmp_path / "bundle")
    for name, data in files.items():
        assert str(tmp_path).encode() not in data, name
        for leak in (str(GOLDEN), os.path.expanduser("~") + "/", os.getcwd() + "/"):
            assert b'"' + leak.encode() not in data, f"{name} names {leak} by its absolute path"
