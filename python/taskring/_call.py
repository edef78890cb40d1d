"""Calling the C ABI: a taskring_code that is not OK becomes the matching exception."""

from ._lib import ffi, lib, text
from .errors import error_for

OK = 0
BUSY = 1
TIMED_OUT = 2
NOT_FOUND = 4
STALE_LEASE = 9


def last_error(code: int) -> str:
    """This thread's last error message, without the "<Code>: " the exception's class says."""
    message = text(lib.taskring_last_error())
    prefix = text(lib.taskring_code_name(code)) + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


def check(code: int, retry_after=None) -> None:
    """Raises the exception for `code` with this thread's last error message, unless OK."""
    if code != OK:
        raise error_for(code, last_error(code), retry_after)


# Waits are cut into slices so that Python runs its signal handlers (Ctrl-C raises
# KeyboardInterrupt) between them: a C call cannot be interrupted from Python.
SLICE_MS = 100


def millis(seconds, what: str) -> int:
    """A timeout in seconds (int or float, >= 0) as whole milliseconds for the C ABI."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"{what} must be >= 0 seconds, not {seconds}")
    return min(int(seconds * 1000), 0xFFFFFFFF)


def new_token():
    return ffi.new("taskring_token*")
