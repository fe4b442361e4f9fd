"""Compile a policy to SBPL, load it in the Seatbelt model, and compare with decide().

Shared by the tests of this directory. The mapping from an awpolicy request to
the Seatbelt requests it stands for is the backend's contract (see the
docstring of aw_policy.backends.sbpl): read is every file-read* operation,
write every file-write* one, and paths are seen resolved (/tmp -> /private/tmp).
"""

from __future__ import annotations

from aw_policy import bundle, ir
from aw_policy.backends import macos_paths, sbpl
from aw_policy.sbpl import evaluator

SBPL_OPERATIONS = {
    "read": ("file-read-data", "file-read-metadata", "file-read-xattr"),
    "write": ("file-write-data", "file-write-create", "file-write-unlink", "file-write-mode"),
    "exec": ("process-exec",),
    "connect": ("network-outbound",),
    "bind": ("network-bind",),
    "signal": ("signal",),
    "mach": ("mach-lookup",),
    "debug": ("mach-priv-task-port",),
}


def expected_allowed(effect: str, supervised: bool) -> bool:
    """decide()'s effect as the profile must enforce it: prompt is deny unless supervised."""
    return effect == "allow" or (effect == "prompt" and supervised)


def seatbelt_requests(request: ir.Request) -> list[evaluator.Request]:
    """The Seatbelt requests one awpolicy request stands for."""
    out = []
    for operation in SBPL_OPERATIONS[request.op]:
        if request.cls == "fs":
            out.append(evaluator.Request(operation, path=macos_paths.canonical(request.object)))
        elif request.cls == "net":
            host, port = ir.split_host_port(request.object)
            out.append(evaluator.Request(operation, host=host, port=int(port), protocol="tcp"))
        elif request.op in ("signal", "debug"):
            out.append(evaluator.Request(operation, target=request.object))
        else:
            out.append(evaluator.Request(operation, name=request.object))
    return out


def reference_for(policy: ir.Policy, params: dict[str, str]) -> dict[str, str]:
    return bundle.reference_params(policy, params)


def load(policy: ir.Policy, reference: dict[str, str], params: dict[str, str], supervised: bool):
    """Render under ``reference`` and load the profile with the launch values of ``params``."""
    text, _ = sbpl.render_profile(policy, reference, supervised)
    values = policy.param_defaults()
    values.update(params)
    name = sbpl.SUPERVISED if supervised else sbpl.PROFILE
    return text, evaluator.load_profile(text, sbpl.launch_params(values), name)


def profile_for(policy: ir.Policy, params: dict[str, str], supervised: bool):
    """The profile the runtime would apply under ``params``: the compiled one (reference
    binding = defaults) when the precedence order agrees, else a re-render under ``params``."""
    reference = reference_for(policy, {})
    actual = reference_for(policy, params)
    if ir.precedence_order(ir.bind(policy, reference)) != ir.precedence_order(ir.bind(policy, actual)):
        reference = actual
    return load(policy, reference, params, supervised)
