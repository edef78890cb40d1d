"""taskring for Python: enqueue jobs into a taskring queue on this host, poll their status and
results, and run workers. A binding of the C ABI (libtaskring.so, docs/c-api.md) through cffi.

    import taskring
    with taskring.Producer("reports") as p:
        job = p.enqueue(b"render 42", type="report")
        print(p.wait(job, timeout=30).state, p.result(job))
"""

from . import aio
from ._lib import lib as _lib, text as _text
from .errors import (
    BatchError,
    Busy,
    Closed,
    Corruption,
    Error,
    Incompatible,
    InternalError,
    InvalidArgument,
    IoError,
    NotFound,
    NotReady,
    ResourceExhausted,
    StaleLease,
    TimedOut,
)
from .dead_letters import DeadLetter, DeadLetters
from .jobs import Jobs
from .producer import JobId, Producer
from .status import JobStatus, Progress
from .worker import Job, Worker

__version__ = "0.1.0"


def library_version() -> str:
    """The version of the libtaskring.so loaded."""
    return _text(_lib.taskring_version())


__all__ = [
    "BatchError",
    "Busy",
    "Closed",
    "Corruption",
    "DeadLetter",
    "DeadLetters",
    "Error",
    "Incompatible",
    "InternalError",
    "InvalidArgument",
    "IoError",
    "Job",
    "JobId",
    "JobStatus",
    "Jobs",
    "NotFound",
    "NotReady",
    "Producer",
    "Progress",
    "ResourceExhausted",
    "StaleLease",
    "TimedOut",
    "Worker",
    "aio",
    "library_version",
]
