"""Fixtures shared by the test modules."""

import pytest


@pytest.fixture
def children():
    """Processes started by a test; whatever is left is killed at the end."""
    procs = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
