"""A suppression comment gives no reason (or names no code), so it is not applied.

What it does
------------
Reports `# awpolicy: ignore[CODE]` comments with nothing after the brackets. Such a
comment silences nothing.

Why is this bad?
----------------
A suppression is a decision someone must be able to review later; without a reason it
cannot be reviewed.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "~" }  # awpolicy: ignore[AWP201]

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "~" }  # awpolicy: ignore[AWP201] throwaway VM, no credentials in HOME
"""
