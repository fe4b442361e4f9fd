"""The agents `--agent NAME` knows: their command, preset, config home and default worktree.

``--agent NAME`` on ``run``, ``shell`` and ``attach``:

* runs the agent's command (found on PATH; ``--cmd PATH`` names another), the
  words after ``--`` becoming its arguments (``awpolicy run --agent codex -- --help``);
* adds the agent's preset in the session scope, as ``--profile`` would;
* points the agent's config-home variable at its real config directory, which
  the preset grants (``CODEX_HOME=${HOME}/.codex``), so a policy that redirects
  HOME into the workspace does not hide the agent's login; a policy that sets
  the variable itself keeps its value;
* defaults the worktree to ``ai-NAME`` when run inside a git repository.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass


class AgentError(ValueError):
    """An unknown agent or a command that cannot be found; the message says how to fix it."""


@dataclass(frozen=True)
class Agent:
    name: str
    command: str  # looked up on PATH
    preset: str
    config_var: str  # the variable the agent reads its config home from
    config_home: str  # its value, ${PARAM}s expanded at launch (HOME: the real one)

    @property
    def worktree(self) -> str:
        return f"ai-{self.name}"

    def env_settings(self) -> tuple[tuple[str, str], ...]:
        return ((self.config_var, self.config_home),)


AGENTS: dict[str, Agent] = {
    "claude": Agent("claude", "claude", "agent-claude", "CLAUDE_CONFIG_DIR", "${HOME}/.claude"),
    "codex": Agent("codex", "codex", "agent-codex", "CODEX_HOME", "${HOME}/.codex"),
}


def get_agent(name: str) -> Agent:
    try:
        return AGENTS[name]
    except KeyError:
        raise AgentError(f"unknown agent {name!r}; known agents: {', '.join(sorted(AGENTS))} "
                         "(for another program use --cmd PATH)") from None


def find_command(program: str, environ: Mapping[str, str], cwd: str, *, what: str) -> str:
    """The absolute path of ``program`` (a name looked up on the caller's PATH, or a path)."""
    if os.sep in program:
        path = os.path.join(cwd, os.path.expanduser(program))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.normpath(path)
        raise AgentError(f"{what} {program}: not an executable file")
    found = shutil.which(program, path=environ.get("PATH", os.defpath))
    if found is None:
        raise AgentError(f"{what}: {program!r} is not on PATH; install it, or name it with --cmd PATH")
    return os.path.abspath(found)
