"""`prompt` with no supervisor is deny; an inner allow never beats an org `enforce deny`."""

from __future__ import annotations

import json

PROBE = r"""
import errno, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        open(name).read()
        out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
"""


def test_prompt_is_deny_and_enforce_beats_a_session_allow(machine, extra_bundle):
    # session layer: read all of HOME. The golden user layer says `prompt read "~/Documents"`,
    # the org layer `enforce deny read,write "~/.ssh"`.
    bundle = extra_bundle('fs { allow read "~" }\n')
    (machine.home / "notes.txt").write_text("n\n")
    (machine.home / "Documents").mkdir()
    (machine.home / "Documents" / "plan.txt").write_text("p\n")
    files = [machine.home / "notes.txt", machine.home / "Documents" / "plan.txt", machine.home / ".ssh" / "id_rsa"]
    result = machine.py(bundle, PROBE, *map(str, files), opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report[str(files[0])] == "ok"          # the session allow works
    assert report[str(files[1])] == "EACCES"      # prompt, nobody to ask: deny
    assert report[str(files[2])] == "EACCES"      # enforced by the org
