"""A YAML policy nests too deeply or its aliases expand too far.

What it does
------------
Reports YAML documents beyond the nesting depth or value count a policy can have.

Why is this bad?
----------------
Anchors and aliases can make a tiny file expand to billions of values (a denial of
service).

Example
-------
    # file: policy.awp.yaml
    scope: project
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]

Use instead
-----------
    # file: policy.awp.yaml
    scope: project
    fs:
      - allow: read
        paths: ["/usr"]
"""
