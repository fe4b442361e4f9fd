import shutil

import pytest
from runtime_linux.sandboxing import make_sandbox


@pytest.fixture
def sandbox():
    """A scratch tree (workspace, home, tmp) readable by every user, removed afterwards."""
    box = make_sandbox()
    try:
        yield box
    finally:
        shutil.rmtree(box.root, ignore_errors=True)
