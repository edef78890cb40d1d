"""JobStatus: what a job is and how far it got, as Producer.status and wait return it."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ._lib import ffi, lib, text

TERMINAL_STATES = frozenset({"completed", "dead", "cancelled", "expired"})


@dataclass(frozen=True)
class Progress:
    """The running attempt's latest report (Job.progress)."""

    percent: int
    message: str


def _seconds(unix_ns: int) -> Optional[float]:
    return unix_ns / 1e9 if unix_ns else None


@dataclass(frozen=True)
class JobStatus:
    """A job's status. Times are Unix seconds (float), None when not set.

    state is one of "pending", "queued", "delayed", "running", "retrying", "completed",
    "dead", "cancelled", "expired", "unknown".
    """

    id: int
    state: str
    attempt: int
    max_attempts: int
    priority: int
    type: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    progress: Optional[Progress] = None
    error: Optional[str] = None
    token: str = ""
    enqueued_at: Optional[float] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    updated_at: Optional[float] = None
    result_size: int = 0
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        """True once the job will not change again (completed, dead, cancelled, expired)."""
        return self.state in TERMINAL_STATES


def call_for_status(fn, *args):
    """Calls fn(*args, status_out) and returns (code, JobStatus or None). The C struct's strings
    are released before returning, whatever the code."""
    st = ffi.new("taskring_job_status*")
    try:
        code = fn(*args, st)
        return code, (from_c(st) if st.id != 0 else None)
    finally:
        lib.taskring_job_status_free(st)


def from_c(st) -> JobStatus:
    """A JobStatus from a filled taskring_job_status (copies everything out of it)."""
    headers = [
        (text(st.headers[i].name), text(st.headers[i].value)) for i in range(st.headers_count)
    ]
    progress = Progress(st.progress_percent, text(st.progress_message)) if st.has_progress else None
    error = text(st.error)
    return JobStatus(
        id=st.id,
        state=text(lib.taskring_job_state_name(st.state)),
        attempt=st.attempt,
        max_attempts=st.max_attempts,
        priority=st.priority,
        type=text(st.type),
        headers=headers,
        progress=progress,
        error=error or None,
        token=text(st.token),
        enqueued_at=_seconds(st.enqueued_unix_ns),
        started_at=_seconds(st.started_unix_ns),
        finished_at=_seconds(st.finished_unix_ns),
        updated_at=_seconds(st.updated_unix_ns),
        result_size=st.result_bytes,
        cancel_requested=bool(st.cancel_requested),
    )
