"""Producer: enqueues jobs, and reads back their status, result, end and cancels them."""

import struct
import threading
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from . import _call
from ._call import BUSY, OK, check, millis
from ._lib import c_string, ffi, lib, payload_bytes
from ._handle import Handle
from .errors import BatchError, error_for
from .jobs import JobRef, Jobs
from .status import JobStatus

Payload = Union[bytes, bytearray, memoryview, str]


class JobId(int):
    """A new job's id (an int), with its token (40 hex digits: what a URL carries, so one
    client cannot guess another's jobs) and whether an idempotency key made it a duplicate."""

    token: str
    duplicate: bool

    def __new__(cls, job_id: int, token: str = "", duplicate: bool = False):
        obj = super().__new__(cls, job_id)
        obj.token = token
        obj.duplicate = duplicate
        return obj

    def __repr__(self):
        return f"JobId({int(self)}, token={self.token!r}, duplicate={self.duplicate})"

    # str() and f-strings give the number, as for any int (object.__str__ would use __repr__).
    __str__ = int.__repr__

Headers = Union[dict, Sequence[Tuple[str, str]]]


class Producer(Handle):
    """Enqueues jobs into a taskring queue served by taskringd on this host.

    Producer(queue, attach_timeout=5.0, wait_for_daemon=0.0) raises NotFound when no daemon
    serves the queue. One Producer takes one of the daemon's client entries (256 by default):
    share one between threads (its calls are serialized by a lock) or open one per thread for
    more enqueues at once. A str payload is sent as UTF-8.
    """

    def __init__(
        self,
        queue: str,
        *,
        attach_timeout: float = 5.0,
        wait_for_daemon: float = 0.0,
        spin_iterations: Optional[int] = None,
    ):
        opts = ffi.new("taskring_producer_options*")
        lib.taskring_producer_options_init(opts)
        opts.attach_timeout_ms = millis(attach_timeout, "attach_timeout")
        opts.wait_for_daemon_ms = millis(wait_for_daemon, "wait_for_daemon")
        if spin_iterations is not None:
            opts.spin_iterations = spin_iterations
        out = ffi.new("taskring_producer**")
        check(lib.taskring_producer_open(c_string(queue, "queue"), opts, out))
        self._attach(out[0], lib.taskring_producer_close)
        self._lock = threading.Lock()  # the C producer serves one thread at a time
        self._result = ffi.new("taskring_enqueue_result*")
        self._jobs: Optional[Jobs] = None
        self._attach_timeout = attach_timeout
        self.queue = queue

    # ---- enqueue ----

    def enqueue(
        self,
        payload: Payload,
        *,
        priority: Optional[int] = None,
        type: Optional[str] = None,
        delay: Optional[float] = None,
        key: Optional[str] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
        headers: Optional[Headers] = None,
    ) -> JobId:
        """Enqueues one job and returns its id (a JobId: an int with .token and .duplicate) once the daemon accepted it (durable in fsync
        mode). Busy (with .retry_after seconds) when the queue is full, InvalidArgument for a
        payload over the queue's max payload or a bad option. `key` is an idempotency key: a
        repeat within the daemon's dedup window returns the first job's id."""
        if (priority, type, delay, key, max_attempts, timeout, headers) == _NO_OPTIONS:
            opts, keep = ffi.NULL, None  # the common case: no struct to build
        else:
            opts, keep = _options(priority, type, delay, key, max_attempts, timeout, headers)
        data = payload_bytes(payload)
        with self._lock:
            result = self._result  # reused: guarded by the lock like the handle
            code = lib.taskring_producer_enqueue(self._handle(), data, len(data), opts, result)
            retry = lib.taskring_producer_retry_after_ms(self._h) / 1e3 if code == BUSY else None
            job_id = _job_id(result) if code == OK else None
        del keep
        check(code, retry)
        return job_id

    def enqueue_many(
        self,
        payloads: Iterable[Payload],
        *,
        priority: Optional[int] = None,
        type: Optional[str] = None,
        delay: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
        headers: Optional[Headers] = None,
    ) -> List[JobId]:
        """Enqueues many jobs with one wait for the daemon's commit, all with the same options
        (no idempotency key: a key names one job). Returns their ids in order. If some were
        not accepted, raises BatchError: its .ids hold the accepted ids (None for the others)
        and its .errors the exception of each refused payload (Busy, InvalidArgument ...)."""
        blobs = [payload_bytes(p) for p in payloads]
        if not blobs:
            return []
        if (priority, type, delay, None, max_attempts, timeout, headers) == _NO_OPTIONS:
            opts, keep = ffi.NULL, None
        else:
            opts, keep = _options(priority, type, delay, None, max_attempts, timeout, headers)
        # payload_bytes gave bytes objects: immutable, so each pointer stays valid while blobs
        # (and the from_buffer views) live.
        buffers = [ffi.from_buffer(b) for b in blobs]
        items = ffi.new("taskring_payload[]", [(buf, len(b)) for buf, b in zip(buffers, blobs)])
        results = ffi.new("taskring_enqueue_result[]", len(blobs))
        with self._lock:
            code = lib.taskring_producer_enqueue_batch(
                self._handle(), items, len(blobs), opts, results
            )
            call_error = None if code == OK else error_for(code, _call.last_error(code))
            retry = lib.taskring_producer_retry_after_ms(self._h) / 1e3
        del keep, buffers
        ids: List[Optional[JobId]] = []
        errors: List[Optional[Exception]] = []
        refused = 0
        # One unpack of the whole results array: much cheaper than a cdata access per field.
        for i, (c, job_id, duplicate, token) in enumerate(_RESULT.iter_unpack(ffi.buffer(results))):
            if c == OK:
                ids.append(JobId(job_id, token.split(b"\0", 1)[0].decode("ascii"), bool(duplicate)))
                errors.append(None)
            else:
                refused += 1
                ids.append(None)
                errors.append(call_error or error_for(c, f"payload {i}: not accepted", retry))
        if refused:
            first = next(e for e in errors if e is not None)
            raise BatchError(
                f"{refused} of {len(blobs)} payloads not accepted (first: {first!r})", ids, errors
            )
        return ids

    # ---- what became of a job (through a shared Jobs handle) ----

    def _job_client(self) -> Jobs:
        if self._jobs is None:
            with self._lock:
                if self._jobs is None:
                    self._jobs = Jobs(self.queue, attach_timeout=self._attach_timeout)
        return self._jobs

    def status(self, job: JobRef) -> JobStatus:
        """The job's status (by id or token); see Jobs.status."""
        return self._job_client().status(job)

    def result(self, job: JobRef) -> Optional[bytes]:
        """The job's result bytes, or None while there is none; see Jobs.result."""
        return self._job_client().result(job)

    def wait(self, job: JobRef, timeout: Optional[float] = None) -> JobStatus:
        """Blocks until the job is terminal; TimedOut after `timeout` s. See Jobs.wait."""
        return self._job_client().wait(job, timeout)

    def cancel(self, job: JobRef) -> str:
        """"cancelled", "requested" or "already_finished"; see Jobs.cancel."""
        return self._job_client().cancel(job)

    @property
    def max_payload(self) -> int:
        """The queue's largest payload in bytes (taskringd --max-payload): a larger one is
        refused with InvalidArgument."""
        return lib.taskring_producer_max_payload(self._handle())

    # ---- lifetime ----

    def close(self) -> None:
        """Detaches from the queue (frees its client entries). Later calls raise Closed."""
        with self._lock:  # not under an enqueue of another thread
            jobs, self._jobs = self._jobs, None
            super().close()
        if jobs is not None:
            jobs.close()


_NO_OPTIONS = (None, None, None, None, None, None, None)


def _result_layout() -> struct.Struct:
    """taskring_enqueue_result as a struct format (code, id, duplicate, token), from the
    offsets cffi computed for this platform, so the batch results unpack in one call."""
    t = "taskring_enqueue_result"
    fields = [("code", "i", 4), ("id", "Q", 8), ("duplicate", "i", 4), ("token", "41s", 41)]
    fmt, at = "=", 0
    for name, code, size in fields:
        offset = ffi.offsetof(t, name)
        fmt += f"{offset - at}x" if offset > at else ""
        fmt += code
        at = offset + size
    size = ffi.sizeof(t)
    return struct.Struct(fmt + (f"{size - at}x" if size > at else ""))


_RESULT = _result_layout()


def _job_id(result) -> JobId:
    _code, job_id, duplicate, token = _RESULT.unpack(ffi.buffer(result))
    return JobId(job_id, token.split(b"\0", 1)[0].decode("ascii"), bool(duplicate))


def _options(priority, type_, delay, key, max_attempts, timeout, headers):
    """A taskring_enqueue_options, and the buffers it points to (keep them alive for the call)."""
    opts = ffi.new("taskring_enqueue_options*")
    lib.taskring_enqueue_options_init(opts)
    keep = []
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError("priority must be an int from 0 (last) to 9 (first)")
        opts.priority = priority
    if type_:
        keep.append(ffi.new("char[]", c_string(type_, "type")))
        opts.type = keep[-1]
    if delay is not None:
        opts.delay_ms = millis(delay, "delay")
    if key:
        keep.append(ffi.new("char[]", c_string(key, "key")))
        opts.idempotency_key = keep[-1]
    if max_attempts is not None:
        opts.max_attempts = max_attempts
    if timeout is not None:
        opts.timeout_ms = millis(timeout, "timeout")
    if headers:
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
        arr = ffi.new("taskring_header[]", len(pairs))
        for i, (name, value) in enumerate(pairs):
            n = ffi.new("char[]", c_string(name, "header name"))
            v = ffi.new("char[]", c_string(value, "header value"))
            keep += [n, v]
            arr[i].name = n
            arr[i].value = v
        keep.append(arr)
        opts.headers = arr
        opts.headers_count = len(pairs)
    return opts, keep
