"""A YAML policy does not match the policy schema.

What it does
------------
Reports unknown keys, wrong types and invalid values in YAML policies, with the closest
valid key.

Why is this bad?
----------------
A misspelt key would otherwise be ignored and the rule you wrote would silently not
exist.

Example
-------
    # file: policy.awp.yaml
    scope: project
    fs:
      - allow: read
        path: ["/usr"]

Use instead
-----------
    # file: policy.awp.yaml
    scope: project
    fs:
      - allow: read
        paths: ["/usr"]
"""
