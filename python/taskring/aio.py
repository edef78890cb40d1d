"""asyncio wrappers: the blocking calls run in worker threads, so an event loop (FastAPI,
aiohttp) is never blocked by a commit, a take or a wait.

    async with taskring.aio.Producer("reports") as p:
        job_id = await p.enqueue(b"...")
        status = await p.wait(job_id, timeout=30)
"""

import asyncio
import functools
from typing import List, Optional

from . import jobs as _jobs
from . import producer as _producer
from . import worker as _worker
from .status import JobStatus


async def _run(fn, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(fn, *args, **kwargs)
    )


class _Closing:
    """`async with`, and close() of the wrapped handle."""

    sync = None

    def close(self) -> None:
        self.sync.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


class _JobCalls(_Closing):
    """What became of a job: status (a shared-memory read, no thread needed), and result,
    wait and cancel in a worker thread."""

    async def status(self, job) -> JobStatus:
        return self.sync.status(job)

    async def result(self, job) -> Optional[bytes]:
        return await _run(self.sync.result, job)

    async def wait(self, job, timeout: Optional[float] = None) -> JobStatus:
        return await _run(self.sync.wait, job, timeout)

    async def cancel(self, job) -> str:
        return await _run(self.sync.cancel, job)


class Producer(_JobCalls):
    """taskring.Producer with awaitable calls. Opening attaches at once (it does not wait)."""

    def __init__(self, queue: str, **options):
        self.sync = _producer.Producer(queue, **options)

    async def enqueue(self, payload, **options) -> int:
        return await _run(self.sync.enqueue, payload, **options)

    async def enqueue_many(self, payloads, **options) -> List[int]:
        return await _run(self.sync.enqueue_many, list(payloads), **options)


class Jobs(_JobCalls):
    """taskring.Jobs with awaitable result, wait and cancel."""

    def __init__(self, queue: str, **options):
        self.sync = _jobs.Jobs(queue, **options)


class Worker(_Closing):
    """taskring.Worker with awaitable calls. Like the Worker it wraps it makes one call at a
    time: tasks sharing it queue up (a complete waits for a pending take), so give each task
    that takes jobs its own Worker."""

    def __init__(self, queue: str, **options):
        self.sync = _worker.Worker(queue, **options)
        self._one_at_a_time = asyncio.Lock()

    async def _call(self, fn, *args):
        async with self._one_at_a_time:
            return await _run(fn, *args)

    async def take(self, timeout: Optional[float] = None) -> Optional[_worker.Job]:
        return await self._call(self.sync.take, timeout)

    async def take_many(self, count: int, timeout: Optional[float] = None) -> List[_worker.Job]:
        return await self._call(self.sync.take_many, count, timeout)

    async def complete(self, job, result=b"") -> None:
        await self._call(self.sync.complete, job, result)

    async def complete_many(self, jobs) -> List[_worker.Job]:
        return await self._call(self.sync.complete_many, list(jobs))

    async def fail(self, job, error: str = "") -> None:
        await self._call(self.sync.fail, job, error)

    async def release(self, job) -> None:
        await self._call(self.sync.release, job)
