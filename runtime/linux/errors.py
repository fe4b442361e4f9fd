"""Exceptions of the Linux runtime. Each carries a one-line, user-facing message."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of every error the Linux runtime raises on purpose."""


class PlanError(SandboxError):
    """The plan is malformed (relative path, unknown access name, bad port...)."""


class Unenforceable(SandboxError):
    """Something the plan asks for cannot be enforced on this host.

    Raised before anything is launched (fail closed). ``reasons`` lists one
    short sentence per missing feature, e.g.
    ``"TCP port rules need Landlock ABI 4, kernel has 3"``.
    """

    def __init__(self, reasons):
        self.reasons = list(reasons)
        super().__init__("cannot enforce the policy on this host: " + "; ".join(self.reasons))


class LaunchError(SandboxError):
    """Setting up the sandbox or executing the command failed.

    ``stage`` names the step (e.g. ``"overlay"``, ``"landlock"``, ``"exec"``);
    ``exit_code`` is the status a CLI should exit with (126: found but could
    not run / sandbox setup failed, 127: command not found), like a shell.
    """

    def __init__(self, stage: str, message: str, exit_code: int = 126):
        self.stage = stage
        self.message = message
        self.exit_code = exit_code
        super().__init__(f"{stage}: {message}" if stage else message)
