"""A YAML policy is not well-formed YAML.

What it does
------------
Reports the YAML parser's error with its line and column, e.g. bad indentation or tabs.

Why is this bad?
----------------
The file cannot be read, so none of its rules would apply.

Example
-------
    # file: policy.awp.yaml
    scope: project
    fs:
      - allow: read
       paths: ["/usr"]

Use instead
-----------
    # file: policy.awp.yaml
    scope: project
    fs:
      - allow: read
        paths: ["/usr"]
"""
