from aw_policy.cli import run

run()
