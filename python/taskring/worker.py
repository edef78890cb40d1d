"""Worker: takes jobs from a queue, runs them, and reports how they ended."""

import threading
import time
import traceback
from typing import Callable, List, Optional, Sequence, Tuple

from . import _call
from ._call import OK, TIMED_OUT, check, millis
from ._lib import c_string, ffi, lib, payload_bytes, text
from ._handle import Handle


class Job:
    """A job taken by a Worker. Its payload is copied out of shared memory when it is taken,
    so it stays valid after the job is completed."""

    __slots__ = (
        "_worker",
        "_h",
        "id",
        "attempt",
        "max_attempts",
        "payload",
        "type",
        "priority",
        "headers",
        "token",
        "timeout",
        "enqueued_at",
    )

    def __init__(self, worker: "Worker", handle):
        self._worker = worker
        self._h = ffi.gc(handle, lib.taskring_job_free)
        self.id: int = lib.taskring_job_id(handle)
        self.attempt: int = lib.taskring_job_attempt(handle)  # 1 on the first run
        self.max_attempts: int = lib.taskring_job_max_attempts(handle)
        data = ffi.new("void**")
        size = ffi.new("size_t*")
        check(lib.taskring_job_payload(handle, ffi.cast("const void**", data), size))
        self.payload: bytes = bytes(ffi.buffer(data[0], size[0])) if size[0] else b""
        self.type: str = text(lib.taskring_job_type(handle))
        self.priority: int = lib.taskring_job_priority(handle)
        headers: List[Tuple[str, str]] = []
        name = ffi.new("char**")
        value = ffi.new("char**")
        for i in range(lib.taskring_job_headers_count(handle)):
            check(
                lib.taskring_job_header(
                    handle, i, ffi.cast("const char**", name), ffi.cast("const char**", value)
                )
            )
            headers.append((text(name[0]), text(value[0])))
        self.headers: List[Tuple[str, str]] = headers
        token = ffi.new("taskring_token*")
        check(lib.taskring_job_token(handle, token))
        self.token: str = ffi.string(token.text).decode("ascii")
        limit = lib.taskring_job_timeout_ms(handle)
        self.timeout: Optional[float] = limit / 1e3 if limit else None
        self.enqueued_at: float = lib.taskring_job_enqueued_unix_ns(handle) / 1e9

    @property
    def cancel_requested(self) -> bool:
        """True once someone cancelled the job or its attempt is past its timeout: a handler
        should check it between steps and return early."""
        return bool(lib.taskring_job_cancel_requested(self._h))

    def header(self, name: str) -> Optional[str]:
        """The value of the first header called `name`, or None."""
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def progress(self, percent: int, message: str = "") -> None:
        """Reports how far the job got (0..100, and a short message, cut to 96 bytes): its
        status shows it at once. Any thread may call it."""
        self._worker._progress(self, percent, message)

    def __repr__(self):
        return f"<taskring.Job id={self.id} attempt={self.attempt} type={self.type!r}>"


Handler = Callable[[Job], object]


class Worker(Handle):
    """Takes jobs from a taskring queue.

    Worker(queue, types=None, attach_timeout=5.0, wait_for_daemon=0.0) raises NotFound when
    no daemon serves the queue. `types` (a list of str) limits it to jobs of those types.
    Use it from one thread at a time (open one per thread); job.progress may come from any.
    """

    def __init__(
        self,
        queue: str,
        *,
        types: Optional[Sequence[str]] = None,
        attach_timeout: float = 5.0,
        wait_for_daemon: float = 0.0,
        spin_iterations: Optional[int] = None,
    ):
        opts = ffi.new("taskring_worker_options*")
        lib.taskring_worker_options_init(opts)
        opts.attach_timeout_ms = millis(attach_timeout, "attach_timeout")
        opts.wait_for_daemon_ms = millis(wait_for_daemon, "wait_for_daemon")
        if spin_iterations is not None:
            opts.spin_iterations = spin_iterations
        keep = []
        if types:
            keep = [ffi.new("char[]", c_string(t, "type")) for t in types]
            arr = ffi.new("char*[]", keep)
            keep.append(arr)
            opts.types = arr
            opts.types_count = len(types)
        out = ffi.new("taskring_worker**")
        check(lib.taskring_worker_open(c_string(queue, "queue"), opts, out))
        del keep
        self._attach(out[0], lib.taskring_worker_close)
        self._stop = threading.Event()
        self._progress_lock = threading.Lock()
        self.queue = queue

    def take(self, timeout: Optional[float] = None) -> Optional[Job]:
        """The next job, or None when none came within `timeout` seconds (None: wait without a
        bound). Closed when the daemon stopped. Ctrl-C interrupts the wait."""
        deadline = None if timeout is None else time.monotonic() + millis(timeout, "timeout") / 1e3
        out = ffi.new("taskring_job**")
        while True:
            left_ms = _call.SLICE_MS
            if deadline is not None:
                left_ms = max(0, min(left_ms, int((deadline - time.monotonic()) * 1000)))
            code = lib.taskring_worker_take(self._handle(), left_ms, out)
            if code == OK:
                return Job(self, out[0])
            if code != TIMED_OUT:
                check(code)
            if (deadline is not None and time.monotonic() >= deadline) or self._stop.is_set():
                return None

    def take_many(self, count: int, timeout: Optional[float] = None) -> List[Job]:
        """Up to `count` jobs: waits up to `timeout` s for the first, then takes those already
        waiting. An empty list when none came."""
        if count <= 0:
            return []
        first = self.take(timeout)
        if first is None:
            return []
        jobs = [first]
        if count > 1:
            arr = ffi.new("taskring_job*[]", count - 1)
            taken = ffi.new("size_t*")
            code = lib.taskring_worker_take_many(self._handle(), arr, count - 1, taken, 0)
            if code not in (OK, TIMED_OUT):
                check(code)
            jobs += [Job(self, arr[i]) for i in range(taken[0])]
        return jobs

    def complete(self, job: Job, result=b"") -> None:
        """Ends the job as completed; `result` (bytes or str, up to the daemon's --max-result)
        is what Producer.result returns. StaleLease if its lease was lost meanwhile."""
        data = payload_bytes(result)
        if data:
            check(lib.taskring_worker_complete_with_result(self._handle(), job._h, data, len(data)))
        else:
            check(lib.taskring_worker_complete(self._handle(), job._h))

    def fail(self, job: Job, error: str = "") -> None:
        """Fails this attempt: the job runs again later (up to its max attempts), else it is
        dead-lettered. `error` (cut to 2 KiB) shows as its last error."""
        message = (error or "").replace("\0", "\\0").encode("utf-8", "backslashreplace")
        check(lib.taskring_worker_fail(self._handle(), job._h, message))

    def touch(self, job: Job) -> None:
        """Extends the job's lease (a long job that checks in does not get handed out again)."""
        check(lib.taskring_worker_touch(self._handle(), job._h))

    def _progress(self, job: Job, percent: int, message: str) -> None:
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueError(f"percent must be an int from 0 to 100, not {percent!r}")
        msg = (message or "").replace("\0", "\\0").encode("utf-8", "backslashreplace")
        with self._progress_lock:
            check(lib.taskring_worker_progress(self._handle(), job._h, percent, msg))

    @property
    def lease(self) -> float:
        """The queue's lease period in seconds: a job not finished or touched within it is
        handed out again."""
        return lib.taskring_worker_lease_ms(self._handle()) / 1e3

    def run(
        self,
        handler: Handler,
        *,
        max_jobs: Optional[int] = None,
        idle_exit: Optional[float] = None,
        log_errors: bool = True,
    ) -> int:
        """Takes jobs and calls handler(job) for each until stop(), max_jobs jobs or idle_exit
        seconds without a job. What the handler returns (bytes, str or None) completes the job
        as its result; an exception fails the attempt with its message as the error. Returns
        the number of jobs run. Ctrl-C stops it (the job in hand is left to its lease)."""
        done = 0
        idle_since = time.monotonic()
        self._stop.clear()
        while not self._stop.is_set() and (max_jobs is None or done < max_jobs):
            job = self.take(timeout=0.5)
            if job is None:
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                continue
            try:
                result = handler(job)
            except Exception as e:  # a failed attempt, not a failed worker
                if log_errors:
                    traceback.print_exc()
                self.fail(job, f"{type(e).__name__}: {e}")
            else:
                self.complete(job, b"" if result is None else result)
            done += 1
            idle_since = time.monotonic()
        return done

    def stop(self) -> None:
        """Makes run() return after the job in hand (any thread)."""
        self._stop.set()
