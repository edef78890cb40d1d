"""DeadLetters: the jobs of a queue that used up their attempts, to read, requeue or purge."""

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from ._call import BUSY, check, millis
from ._lib import c_string, ffi, lib, text
from ._handle import Handle


@dataclass(frozen=True)
class DeadLetter:
    """A dead job as it was kept: its payload and options, and why it died ("failed": its
    last attempt failed; "lost": it ended without an outcome). Times are Unix seconds."""

    job_id: int
    attempts: int
    max_attempts: int
    reason: str
    payload: bytes
    type: str = ""
    priority: int = 5
    key: str = ""
    headers: List[Tuple[str, str]] = field(default_factory=list)
    timeout: Optional[float] = None
    enqueued_at: Optional[float] = None
    dead_at: Optional[float] = None


class DeadLetters(Handle):
    """A queue's dead letters (its WAL directory's dead/). DeadLetters(queue) finds the
    directory through the running daemon; DeadLetters(dir=...) reads a stopped queue's
    (no requeue then). One thread at a time."""

    def __init__(self, queue: Optional[str] = None, *, dir: Optional[str] = None,
                 wait_for_daemon: float = 0.0):
        opts = ffi.new("taskring_dead_letters_options*")
        lib.taskring_dead_letters_options_init(opts)
        keep = None
        if dir is not None:
            keep = ffi.new("char[]", c_string(str(dir), "dir"))
            opts.dir = keep
        opts.wait_for_daemon_ms = millis(wait_for_daemon, "wait_for_daemon")
        out = ffi.new("taskring_dead_letters**")
        name = ffi.NULL if queue is None else c_string(queue, "queue")
        check(lib.taskring_dead_letters_open(name, opts, out))
        del keep
        self._attach(out[0], lib.taskring_dead_letters_close)
        self.queue = queue

    def ids(self) -> List[int]:
        """The job ids of the dead letters, ascending."""
        ids = ffi.new("uint64_t**")
        count = ffi.new("size_t*")
        check(lib.taskring_dead_letters_list(self._handle(), ids, count))
        try:
            return [ids[0][i] for i in range(count[0])]
        finally:
            lib.taskring_free(ids[0])

    def read(self, job_id: int) -> DeadLetter:
        """One letter. NotFound when there is none for the id; Corruption for a damaged file."""
        letter = ffi.new("taskring_dead_letter*")
        try:
            check(lib.taskring_dead_letters_read(self._handle(), job_id, letter))
            return DeadLetter(
                job_id=letter.job_id,
                attempts=letter.attempts,
                max_attempts=letter.max_attempts,
                reason=text(letter.reason),
                payload=bytes(ffi.buffer(letter.payload, letter.payload_len)),
                type=text(letter.type),
                priority=letter.priority,
                key=text(letter.idempotency_key),
                headers=[(text(letter.headers[i].name), text(letter.headers[i].value))
                         for i in range(letter.headers_count)],
                timeout=letter.timeout_ms / 1e3 if letter.timeout_ms else None,
                enqueued_at=letter.enqueued_unix_ns / 1e9 if letter.enqueued_unix_ns else None,
                dead_at=letter.dead_unix_ns / 1e9 if letter.dead_unix_ns else None,
            )
        finally:
            lib.taskring_dead_letter_free(letter)

    def __iter__(self) -> Iterator[DeadLetter]:
        for job_id in self.ids():
            yield self.read(job_id)

    def requeue(self, job_id: int) -> int:
        """Enqueues the letter as a new job and only then removes it; returns the new job's id.
        Busy (with .retry_after) when the queue is full: nothing changes."""
        new_id = ffi.new("uint64_t*")
        code = lib.taskring_dead_letters_requeue(self._handle(), job_id, new_id)
        retry = lib.taskring_dead_letters_retry_after_ms(self._h) / 1e3 if code == BUSY else None
        check(code, retry)
        return new_id[0]

    def purge(self, job_id: int) -> None:
        """Removes one letter (NotFound when there is none)."""
        check(lib.taskring_dead_letters_purge(self._handle(), job_id))

    def purge_all(self) -> int:
        """Removes every letter; returns how many."""
        purged = ffi.new("uint64_t*")
        check(lib.taskring_dead_letters_purge_all(self._handle(), purged))
        return purged[0]
