"""The package's copy of the C declarations is the header's (include/taskring/taskring.h)."""

from pathlib import Path

import pytest

from taskring._cdef import CDEF, cdef_from_header

HEADER = Path(__file__).resolve().parents[2] / "include" / "taskring" / "taskring.h"


@pytest.mark.skipif(not HEADER.exists(), reason="not run from a taskring checkout")
def test_cdef_matches_the_header():
    assert CDEF == cdef_from_header(HEADER.read_text()), (
        "include/taskring/taskring.h changed: regenerate CDEF in python/taskring/_cdef.py"
    )
