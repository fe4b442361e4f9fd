"""Linux enforcement core of the awpolicy runtime.

    from aw_runtime.linux import bind_plan, launch
    plan = bind_plan(linux_json, params, env=env, cwd=cwd)   # the bundle's linux.json, bound
    status = launch(plan, ["bash", "-l"])   # exit code, or 128+N if killed by signal N

Stdlib only. ``aw_runtime.linux.plan`` (the plan's record classes) imports nothing
heavy; the launcher (ctypes, syscalls) loads on first use of ``launch``/``run``.
"""

from .errors import LaunchError, PlanError, SandboxError, Unenforceable
from .plan import (
    DEFAULT_SECCOMP_DENY,
    Branch,
    FsGrant,
    LinuxPlan,
    Mask,
    Network,
    plan_from_dict,
    plan_to_dict,
    validate,
)

_LAZY = {
    "launch": "launch", "run": "launch", "Outcome": "launch", "host_unenforceable": "launch",
    "bind_plan": "bind", "needs_rerender": "bind",
    "unenforceable": "landlock", "kernel_abi": "landlock", "effective_abi": "landlock",
}

__all__ = [
    "DEFAULT_SECCOMP_DENY",
    "Branch",
    "FsGrant",
    "LaunchError",
    "LinuxPlan",
    "Mask",
    "Network",
    "Outcome",
    "PlanError",
    "SandboxError",
    "Unenforceable",
    "bind_plan",
    "effective_abi",
    "host_unenforceable",
    "kernel_abi",
    "launch",
    "needs_rerender",
    "plan_from_dict",
    "plan_to_dict",
    "run",
    "unenforceable",
    "validate",
]


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(f"{__name__}.{mod}", fromlist=[name]), name)  # no importlib to import
    globals()[name] = value
    return value
