"""One module per CLI area; registered in aw_policy.cli.LAZY_COMMANDS."""
