"""Worker: takes jobs from a queue, runs them, and reports how they ended."""

import threading
import time
import traceback
from typing import Callable, List, Optional, Sequence, Tuple

from . import _call
from ._call import OK, STALE_LEASE, TIMED_OUT, check, millis
from ._lib import c_string, ffi, lib, payload_bytes, text
from ._handle import Handle


class Job:
    """A job taken by a Worker. Its payload is copied out of shared memory when it is taken,
    so it stays valid after the job is completed; the other fields are read from the job's
    handle when first asked for (most handlers need only the payload), and stay valid too."""

    __slots__ = ("_worker", "_h", "id", "payload", "_headers")

    def __init__(self, worker: "Worker", handle, out_data, out_size):
        self._worker = worker
        self._h = ffi.gc(handle, lib.taskring_job_free)
        self.id: int = lib.taskring_job_id(handle)
        check(lib.taskring_job_payload(handle, out_data, out_size))
        size = out_size[0]
        self.payload: bytes = ffi.buffer(out_data[0], size)[:] if size else b""
        self._headers: Optional[List[Tuple[str, str]]] = None

    @property
    def attempt(self) -> int:
        """1 on the first run."""
        return lib.taskring_job_attempt(self._h)

    @property
    def max_attempts(self) -> int:
        return lib.taskring_job_max_attempts(self._h)

    @property
    def type(self) -> str:
        """"" for a job enqueued without a type."""
        return text(lib.taskring_job_type(self._h))

    @property
    def priority(self) -> int:
        return lib.taskring_job_priority(self._h)

    @property
    def headers(self) -> List[Tuple[str, str]]:
        """The job's headers as (name, value) pairs, in the order they were given."""
        if self._headers is None:
            name = ffi.new("char**")
            value = ffi.new("char**")
            names = ffi.cast("const char**", name)
            values = ffi.cast("const char**", value)
            pairs = []
            for i in range(lib.taskring_job_headers_count(self._h)):
                check(lib.taskring_job_header(self._h, i, names, values))
                pairs.append((text(name[0]), text(value[0])))
            self._headers = pairs
        return self._headers

    @property
    def token(self) -> str:
        """40 hex digits: what a status URL carries."""
        token = ffi.new("taskring_token*")
        check(lib.taskring_job_token(self._h, token))
        return ffi.string(token.text).decode("ascii")

    @property
    def timeout(self) -> Optional[float]:
        """This attempt's time limit in seconds, or None."""
        limit = lib.taskring_job_timeout_ms(self._h)
        return limit / 1e3 if limit else None

    @property
    def enqueued_at(self) -> float:
        """When the job was enqueued, as Unix time in seconds."""
        return lib.taskring_job_enqueued_unix_ns(self._h) / 1e9

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
    Calls from several threads are serialized (a complete waits for a pending take's current
    100 ms slice): open one Worker per thread to take jobs in parallel. job.progress may come
    from any thread.
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
        # The C worker's lane serves one thread at a time (take, complete, fail, touch): calls
        # from several threads queue here, a second one waiting at most one take slice (100 ms),
        # rather than racing in the library (which crashes).
        self._lane = threading.Lock()
        # Out-parameters for a taken job's payload, reused: a Worker serves one thread.
        self._data = ffi.new("const void**")
        self._size = ffi.new("size_t*")
        self._taken = ffi.new("size_t*")
        self._taken_jobs = ffi.NULL
        self._taken_capacity = 0
        self.queue = queue

    def take(self, timeout: Optional[float] = None) -> Optional[Job]:
        """The next job, or None when none came within `timeout` seconds (None: wait without a
        bound). Closed when the daemon stopped. Ctrl-C interrupts the wait."""
        jobs = self.take_many(1, timeout)
        return jobs[0] if jobs else None

    def take_many(self, count: int, timeout: Optional[float] = None) -> List[Job]:
        """Up to `count` jobs: waits up to `timeout` s (None: without a bound) for the first,
        then takes those already waiting. An empty list when none came. Closed when the daemon
        stopped. Ctrl-C interrupts the wait."""
        if count <= 0:
            return []
        deadline = None if timeout is None else time.monotonic() + millis(timeout, "timeout") / 1e3
        while True:
            left_ms = _call.SLICE_MS
            if deadline is not None:
                left_ms = max(0, min(left_ms, int((deadline - time.monotonic()) * 1000)))
            with self._lane:  # also guards the reused out-parameters until read
                if self._taken_capacity < count:
                    self._taken_jobs = ffi.new("taskring_job*[]", count)
                    self._taken_capacity = count
                arr, taken = self._taken_jobs, self._taken
                code = lib.taskring_worker_take_many(self._handle(), arr, count, taken, left_ms)
                if code == OK:
                    data, size = self._data, self._size
                    return [Job(self, arr[i], data, size) for i in range(taken[0])]
            if code != TIMED_OUT:
                check(code)
            if (deadline is not None and time.monotonic() >= deadline) or self._stop.is_set():
                return []

    def complete(self, job: Job, result=b"") -> None:
        """Ends the job as completed; `result` (bytes or str, up to the daemon's --max-result)
        is what Producer.result returns. StaleLease if its lease was lost meanwhile."""
        data = payload_bytes(result)
        with self._lane:
            if data:
                code = lib.taskring_worker_complete_with_result(
                    self._handle(), job._h, data, len(data)
                )
            else:
                code = lib.taskring_worker_complete(self._handle(), job._h)
        check(code)

    def complete_many(self, jobs: Sequence[Job]) -> List[Job]:
        """Completes every job in `jobs` (no result) and wakes the daemon once for all of them:
        the cheap way to end a batch from take_many. Returns the jobs whose lease was lost
        meanwhile (not completed by this call; usually none); raises for any other error."""
        if not jobs:
            return []
        handles = ffi.new("taskring_job*[]", [job._h for job in jobs])
        outcomes = ffi.new("taskring_code[]", len(jobs))
        with self._lane:
            code = lib.taskring_worker_complete_many(self._handle(), handles, len(jobs), outcomes)
        check(code)
        return [job for i, job in enumerate(jobs) if outcomes[i] == STALE_LEASE]

    def fail(self, job: Job, error: str = "") -> None:
        """Fails this attempt: the job runs again later (up to its max attempts), else it is
        dead-lettered. `error` (cut to 2 KiB) shows as its last error."""
        message = (error or "").replace("\0", "\\0").encode("utf-8", "backslashreplace")
        with self._lane:
            code = lib.taskring_worker_fail(self._handle(), job._h, message)
        check(code)

    def touch(self, job: Job) -> None:
        """Extends the job's lease (a long job that checks in does not get handed out again)."""
        with self._lane:
            code = lib.taskring_worker_touch(self._handle(), job._h)
        check(code)

    def release(self, job: Job) -> None:
        """Gives the job back to run again at once without counting this attempt (it can never
        be dead-lettered by it): for a job this worker could not start for a reason that is not
        the job's, such as a downstream outage or a shutdown. StaleLease if its lease was lost.
        If the daemon restarts before the release is on disk, the attempt counts after all."""
        with self._lane:
            code = lib.taskring_worker_release(self._handle(), job._h)
        check(code)

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

    def close(self) -> None:
        """Detaches from the queue. A take blocked in another thread ends within its current
        100 ms slice (returning what it has, or none) before the handle goes: closing never
        frees what a call in flight still uses."""
        lane = getattr(self, "_lane", None)
        if lane is None:
            return super().close()  # __init__ failed before the lane existed
        self._stop.set()
        with lane:
            super().close()
