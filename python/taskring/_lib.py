"""Loads libtaskring.so (the C ABI, include/taskring/taskring.h) through cffi's ABI mode.

cffi releases the GIL around every call into the library, so a thread blocked in a take, a
commit or a wait does not hold up the other threads of the process.
"""

import os

from cffi import FFI

from ._cdef import CDEF

ffi = FFI()
ffi.cdef(CDEF)


def _load():
    candidates = []
    explicit = os.environ.get("TASKRING_LIBRARY")
    if explicit:
        candidates.append(explicit)
    # The SONAME first: the ABI this package was written for.
    candidates += ["libtaskring.so.0", "libtaskring.so"]
    errors = []
    for name in candidates:
        try:
            return ffi.dlopen(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise ImportError(
        "taskring: cannot load the taskring library (install taskring, run ldconfig, or set "
        "TASKRING_LIBRARY to the path of libtaskring.so.0): " + "; ".join(errors)
    )


lib = _load()


def text(ptr) -> str:
    """A C string from the library as str (undecodable bytes escaped, never an exception)."""
    if ptr == ffi.NULL:
        return ""
    return ffi.string(ptr).decode("utf-8", "backslashreplace")


def c_string(value, what: str) -> bytes:
    """str or bytes for a C string argument; refuses NUL bytes, which C would cut at."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in value:
        raise ValueError(f"{what} must not contain NUL bytes")
    return bytes(value)


def payload_bytes(value) -> bytes:
    """A payload or result: bytes as given, str as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"payload must be bytes or str, not {type(value).__name__}")
