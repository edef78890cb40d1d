"""taskring's exceptions: one hierarchy under taskring.Error, one class per C error code."""

from typing import Optional


class Error(Exception):
    """Any failure reported by taskring. `code` is the C ABI's taskring_code number."""

    code: int = -1

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class Busy(Error):
    """The queue is full. Retry after `retry_after` seconds (the daemon's drain-rate hint)."""

    code = 1

    def __init__(self, message: str = "", retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


class TimedOut(Error, TimeoutError):
    """Nothing arrived or finished within the wait. `status` holds the job's latest status
    when a wait for a job timed out."""

    code = 2

    def __init__(self, message: str = "", status=None):
        super().__init__(message)
        self.status = status


class Closed(Error):
    """The daemon is stopping or gone (or this handle was closed)."""

    code = 3


class NotFound(Error, LookupError):
    """No such queue, job or result."""

    code = 4


class InvalidArgument(Error, ValueError):
    """The input is wrong: a payload over the queue's limit, a bad option, a bad token."""

    code = 5


class Corruption(Error):
    """Shared memory or stored data failed validation."""

    code = 6


class IoError(Error):
    """The OS refused, or the daemon cannot log (a full or failing disk)."""

    code = 7


class Incompatible(Error):
    """The queue was made by an incompatible version of taskring."""

    code = 8


class StaleLease(Error):
    """The job's lease expired and it was handed to another worker: this outcome is ignored."""

    code = 9


class NotReady(Error):
    """The daemon is starting (recovering its log): retry shortly."""

    code = 10


class ResourceExhausted(Error):
    """A fixed table is full (e.g. every client entry of the daemon is taken)."""

    code = 11


class InternalError(Error):
    """An unexpected failure inside the library (a bug: please report it)."""

    code = 255


class BatchError(Error):
    """enqueue_many: some payloads were not accepted. `ids[i]` is the id of payload i, or None;
    `errors[i]` the exception for payload i, or None when it was accepted."""

    def __init__(self, message: str, ids: list, errors: list):
        super().__init__(message)
        self.ids = ids
        self.errors = errors


_BY_CODE = {
    cls.code: cls
    for cls in (
        Busy,
        TimedOut,
        Closed,
        NotFound,
        InvalidArgument,
        Corruption,
        IoError,
        Incompatible,
        StaleLease,
        NotReady,
        ResourceExhausted,
        InternalError,
    )
}


def error_for(code: int, message: str, retry_after: Optional[float] = None) -> Error:
    """The exception for a C error code (Error itself for a code this package does not know)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        err = Error(message)
        err.code = code
        return err
    if cls is Busy:
        return Busy(message, retry_after or 0.0)
    return cls(message)
