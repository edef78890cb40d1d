"""Jobs: status, result, wait and cancel of a queue's jobs, shared by every thread.

Producer.status/result/wait/cancel use one of these; a server that only polls (the process
answering GET /reports/<id>) can open one alone.
"""

import threading
import time
from typing import Optional, Union

from . import _call
from ._call import NOT_FOUND, OK, TIMED_OUT, check, millis
from ._lib import c_string, ffi, lib
from ._handle import Handle
from .errors import Closed, NotFound, TimedOut
from .status import JobStatus, call_for_status

JobRef = Union[int, str]  # a job id, or its token (40 hex digits)

_CANCEL_OUTCOMES = {1: "cancelled", 2: "requested", 3: "already_finished"}


class Jobs(Handle):
    """A queue's jobs by id or token. Thread-safe: one per process is enough.

    Jobs(queue, attach_timeout=5.0, wait_for_daemon=0.0) raises NotFound when no daemon
    serves the queue (after waiting wait_for_daemon seconds for one).
    """

    def __init__(self, queue: str, *, attach_timeout: float = 5.0, wait_for_daemon: float = 0.0):
        opts = ffi.new("taskring_jobs_options*")
        lib.taskring_jobs_options_init(opts)
        opts.attach_timeout_ms = millis(attach_timeout, "attach_timeout")
        opts.wait_for_daemon_ms = millis(wait_for_daemon, "wait_for_daemon")
        out = ffi.new("taskring_jobs**")
        check(lib.taskring_jobs_open(c_string(queue, "queue"), opts, out))
        self._attach(out[0], lib.taskring_jobs_close)
        # Calls run from many threads at once; close() waits until none is in flight, so it
        # never frees the handle under a call (a wait gives it up every 100 ms slice).
        self._calls = threading.Condition()
        self._in_flight = 0
        self._closing = False
        self.queue = queue

    def _enter(self):
        with self._calls:
            if self._closing or self._h is None:
                raise Closed("this taskring.Jobs is closed")
            self._in_flight += 1
            return self._h

    def _exit(self) -> None:
        with self._calls:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._calls.notify_all()

    def close(self) -> None:
        """Detaches; waits for calls in flight in other threads (at most one wait slice, 100
        ms). Later calls raise Closed."""
        calls = getattr(self, "_calls", None)
        if calls is not None:
            with calls:
                self._closing = True
                calls.wait_for(lambda: self._in_flight == 0)
        super().close()

    def status(self, job: JobRef) -> JobStatus:
        """The job's status. NotFound for a job never enqueued (or a token that is not its)."""
        h = self._enter()
        try:
            if isinstance(job, str):
                code, st = call_for_status(
                    lib.taskring_jobs_status_by_token, h, c_string(job, "token")
                )
            else:
                code, st = call_for_status(lib.taskring_jobs_status, h, _id(job))
        finally:
            self._exit()
        check(code)
        return st

    def result(self, job: JobRef) -> Optional[bytes]:
        """The bytes the job's handler returned, or None while there are none (not completed,
        or its outcome expired). NotFound for a job never enqueued."""
        data = ffi.new("void**")
        size = ffi.new("size_t*")
        h = self._enter()
        try:
            if isinstance(job, str):
                code = lib.taskring_jobs_result_by_token(h, c_string(job, "token"), data, size)
            else:
                code = lib.taskring_jobs_result(h, _id(job), data, size)
        finally:
            self._exit()
        if code == OK:
            try:
                return bytes(ffi.buffer(data[0], size[0])) if size[0] else b""
            finally:
                lib.taskring_free(data[0])
        if code == NOT_FOUND:
            self.status(job)  # raises NotFound when the job itself is unknown
            return None
        check(code)
        return None

    def wait(self, job: JobRef, timeout: Optional[float] = None) -> JobStatus:
        """Blocks until the job is terminal (completed, dead, cancelled, expired) and returns
        its status. TimedOut (with .status, the latest) after `timeout` seconds; None waits
        without a bound. Ctrl-C interrupts it."""
        deadline = None if timeout is None else time.monotonic() + millis(timeout, "timeout") / 1e3
        while True:
            left_ms = _call.SLICE_MS
            if deadline is not None:
                left_ms = max(0, min(left_ms, int((deadline - time.monotonic()) * 1000)))
            h = self._enter()
            try:
                if isinstance(job, str):
                    code, st = call_for_status(
                        lib.taskring_jobs_wait_by_token, h, c_string(job, "token"), left_ms
                    )
                else:
                    code, st = call_for_status(lib.taskring_jobs_wait, h, _id(job), left_ms)
            finally:
                self._exit()
            if code == OK:
                return st
            if code != TIMED_OUT:
                check(code)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimedOut(f"job {job} is not finished after {timeout} s", status=st)

    def cancel(self, job: JobRef) -> str:
        """Cancels the job: "cancelled" (it was waiting: it will never run), "requested" (it
        is running: its handler sees job.cancel_requested) or "already_finished"."""
        out = ffi.new("taskring_cancel_outcome*")
        h = self._enter()
        try:
            if isinstance(job, str):
                code = lib.taskring_jobs_cancel_by_token(h, c_string(job, "token"), out)
            else:
                code = lib.taskring_jobs_cancel(h, _id(job), out)
        finally:
            self._exit()
        check(code)
        return _CANCEL_OUTCOMES.get(out[0], "unknown")


def _id(job) -> int:
    if isinstance(job, bool) or not isinstance(job, int):
        raise TypeError(f"a job is an int id or a str token, not {type(job).__name__}")
    if job <= 0 or job >= 1 << 64:
        raise NotFound(f"no job {job}")
    return job
