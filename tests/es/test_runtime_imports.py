"""The engine, approvals and audit modules load without the compiler's heavy dependencies."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("lark", "pydantic", "jsonschema", "rich", "jinja2", "yaml", "click", "aw_policy.lang", "aw_policy.merge",
         "aw_policy.lint", "aw_policy.bundle")


def test_engine_imports_only_the_standard_library_and_the_ir():
    code = ("import sys, aw_runtime.engine, aw_runtime.approvals, aw_runtime.audit; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
