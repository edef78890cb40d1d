"""taskring.aio: awaitable calls, the event loop never blocked by them."""

import asyncio
import time

import taskring


def test_awaitable_enqueue_take_wait_and_result(daemon):
    async def main():
        async with taskring.aio.Producer(daemon.queue) as p, taskring.aio.Worker(
            daemon.queue
        ) as w:
            job_id = await p.enqueue(b"async job")
            waiting = asyncio.ensure_future(p.wait(job_id, timeout=10))
            # The loop keeps running while the wait blocks in a thread.
            ticks = 0
            job = None
            while job is None:
                job = await w.take(timeout=0.05)
                ticks += 1
            assert job.id == job_id
            await w.release(job)  # given back: taken again as the same attempt
            job = await w.take(timeout=5)
            assert job.id == job_id and job.attempt == 1
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await w.complete(job, b"async result")
            st = await waiting
            assert st.state == "completed"
            assert await p.result(job_id) == b"async result"
            assert (await p.status(job_id)).state == "completed"
            ids = await p.enqueue_many([b"1", b"2"])
            assert len(ids) == 2
            assert await p.cancel(ids[0]) == "cancelled"

    asyncio.run(main())


def test_many_waits_at_once_do_not_block_the_loop(daemon):
    async def main():
        with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
            ids = p.enqueue_many([b"x"] * 8)
            jobs = taskring.aio.Jobs(daemon.queue)
            waits = [asyncio.ensure_future(jobs.wait(i, timeout=10)) for i in ids]
            t = time.monotonic()
            await asyncio.sleep(0.1)
            assert time.monotonic() - t < 1.0  # the loop was free
            finished = 0
            while finished < len(ids):
                got = w.take_many(8, timeout=5)
                assert got, f"{finished} of {len(ids)} jobs came"
                for job in got:
                    w.complete(job)
                finished += len(got)
            done = await asyncio.gather(*waits)
            assert [s.state for s in done] == ["completed"] * len(ids)
            jobs.close()

    asyncio.run(main())


def test_tasks_sharing_an_aio_worker_take_turns(daemon):
    """A take pending in one task and a complete_many from another must not run in two
    threads at once on one Worker (the C worker serves one thread at a time)."""

    async def main():
        async with taskring.aio.Producer(daemon.queue) as p, taskring.aio.Worker(
            daemon.queue
        ) as w:
            ids = await p.enqueue_many([b"a", b"b"])
            got = []
            while len(got) < 2:
                got += await w.take_many(2, timeout=5)
            pending_take = asyncio.ensure_future(w.take(timeout=0.3))
            await asyncio.sleep(0)  # the take holds the worker now
            assert await w.complete_many(got) == []
            assert pending_take.done() and pending_take.result() is None
            done = [await p.wait(i, timeout=5) for i in ids]
            assert [s.state for s in done] == ["completed", "completed"]

    asyncio.run(main())
