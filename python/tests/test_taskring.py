"""The Python API against a real daemon: every call, bytes, errors, workers, threads."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import taskring


def eventually(read, done, timeout=5.0):
    """read() until done(value), for what the daemon applies just after a call returns."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.01)
        value = read()
    return value


def test_enqueue_take_complete_result_roundtrip_with_binary_bytes(daemon):
    payload = bytes(range(256)) + b"\0tail"
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
        job_id = p.enqueue(payload, type="report", priority=7, headers={"trace": "t-1"})
        assert p.status(job_id).state == "queued"
        assert isinstance(job_id, int) and len(job_id.token) == 40 and not job_id.duplicate
        assert str(job_id) == f"{job_id}" == str(int(job_id))  # a number in URLs and logs
        assert p.status(job_id.token).id == job_id
        job = w.take(timeout=5)
        assert job is not None
        assert (job.id, job.payload, job.type, job.priority) == (job_id, payload, "report", 7)
        assert job.attempt == 1 and job.header("trace") == "t-1"
        assert p.status(job_id).state == "running"
        w.complete(job, b"\xff\0result")
        st = p.wait(job_id, timeout=5)
        assert st.state == "completed" and st.terminal
        assert st.result_size == 8
        assert p.result(job_id) == b"\xff\0result"
        # The token names the same job.
        assert p.status(st.token).id == job_id
        assert p.result(st.token) == b"\xff\0result"


def test_str_payloads_and_results_are_utf8(daemon):
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
        job_id = p.enqueue("grüße")
        job = w.take(timeout=5)
        assert job.payload == "grüße".encode()
        w.complete(job, "fertig ✓")
        p.wait(job_id, timeout=5)
        assert p.result(job_id) == "fertig ✓".encode()


def test_status_shows_progress_then_the_error_of_a_failed_attempt(daemon_factory):
    d = daemon_factory("--durability", "none", "--retry-backoff-ms", "60000")
    with taskring.Producer(d.queue) as p, taskring.Worker(d.queue) as w:
        job_id = p.enqueue(b"x", max_attempts=2)
        job = w.take(timeout=5)
        job.progress(40, "halfway")
        st = p.status(job_id)
        assert st.progress == taskring.Progress(40, "halfway")
        with pytest.raises(ValueError):
            job.progress(101)
        w.fail(job, "disk on fire")  # the daemon applies it right after: poll for it
        st = eventually(lambda: p.status(job_id), lambda s: s.state != "running")
        assert st.state in ("retrying", "delayed")
        assert st.error == "disk on fire"
        assert p.result(job_id) is None


def test_a_released_job_runs_again_at_once_as_the_same_attempt(daemon_factory):
    # max_attempts=1 and a long retry backoff: a release that used the attempt would
    # dead-letter the job, and one that counted as a failure would delay it for a minute.
    d = daemon_factory("--durability", "none", "--retry-backoff-ms", "60000")
    with taskring.Producer(d.queue) as p, taskring.Worker(d.queue) as w:
        job_id = p.enqueue(b"not now", max_attempts=1)
        job = w.take(timeout=5)
        assert job.id == job_id and job.attempt == 1
        w.release(job)
        with pytest.raises(taskring.StaleLease):
            w.release(job)
        again = w.take(timeout=5)
        assert again is not None and again.id == job_id and again.attempt == 1
        w.complete(again)
        assert eventually(lambda: p.status(job_id), lambda s: s.state == "completed").state \
            == "completed"


def test_enqueue_many_returns_ids_in_order(daemon):
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
        ids = p.enqueue_many([b"a", "b", bytearray(b"c")], type="batch")
        assert len(ids) == 3 and ids == sorted(ids)
        taken = w.take_many(10, timeout=5)
        while len(taken) < 3:
            taken += w.take_many(10, timeout=5)
        assert [j.id for j in taken] == ids
        assert [j.payload for j in taken] == [b"a", b"b", b"c"]
        assert p.enqueue_many([]) == []


def test_enqueue_many_ids_carry_their_own_tokens(daemon):
    with taskring.Producer(daemon.queue) as p:
        ids = p.enqueue_many([b"t%d" % i for i in range(5)])
        assert len({i.token for i in ids}) == 5
        for job_id in ids:
            assert len(job_id.token) == 40 and not job_id.duplicate
            st = p.status(job_id.token)
            assert st.id == job_id and st.token == job_id.token


def test_complete_many_ends_a_batch_and_returns_the_stale_ones(daemon_factory):
    d = daemon_factory("--durability", "none", "--lease-ms", "300")
    with taskring.Producer(d.queue) as p, taskring.Worker(d.queue) as w:
        ids = p.enqueue_many([b"a", b"b", b"c"])
        taken = w.take_many(8, timeout=5)
        while len(taken) < 3:
            taken += w.take_many(8, timeout=5)
        assert w.complete_many(taken[:2]) == []
        for job_id in ids[:2]:
            assert p.wait(job_id, timeout=5).state == "completed"
        # Let the third lease lapse and another take hand the job out again: completing the
        # old copy is refused, and the new holder still owns it.
        late = taken[2]
        with taskring.Worker(d.queue) as other:
            again = other.take(timeout=5)
            assert again is not None and again.id == late.id and again.attempt == 2
            assert w.complete_many([late]) == [late]
            assert p.status(late.id).state == "running"
            assert other.complete_many([again]) == []
        assert p.wait(late.id, timeout=5).state == "completed"
        assert w.complete_many([]) == []


def test_full_queue_raises_busy_with_retry_after(daemon_factory):
    d = daemon_factory("--durability", "none", "--capacity", "2", "--max-payload", "64")
    with taskring.Producer(d.queue) as p:
        p.enqueue(b"1")
        p.enqueue(b"2")
        with pytest.raises(taskring.Busy) as e:
            p.enqueue(b"3")
        assert e.value.retry_after > 0
        assert isinstance(e.value, taskring.Error)
        with pytest.raises(taskring.BatchError) as b:
            p.enqueue_many([b"4", b"5"])
        assert b.value.ids == [None, None]
        assert all(isinstance(x, taskring.Busy) for x in b.value.errors)


def test_oversized_payload_and_bad_options_are_invalid_argument(daemon):
    with taskring.Producer(daemon.queue) as p:
        assert p.max_payload == 4096  # the daemon's default
        p.enqueue(b"x" * p.max_payload)
        with pytest.raises(taskring.InvalidArgument, match="max payload"):
            p.enqueue(b"x" * (p.max_payload + 1))
        with pytest.raises(taskring.InvalidArgument):
            p.enqueue(b"x", priority=10)
        with pytest.raises(ValueError):  # InvalidArgument is a ValueError too
            p.enqueue(b"x", type="not a valid type!")
        with pytest.raises(TypeError):
            p.enqueue(12345)
        with pytest.raises(ValueError):
            p.enqueue(b"x", type="nul\0byte")


def test_idempotency_key_returns_the_first_job(daemon):
    with taskring.Producer(daemon.queue) as p:
        first = p.enqueue(b"order 1", key="order-1")
        again = p.enqueue(b"order 1 again", key="order-1")
        assert again == first and again.duplicate and not first.duplicate
        assert again.token == first.token
        assert p.enqueue(b"order 2", key="order-2") != first


def test_cancel_waiting_and_finished_jobs(daemon):
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
        waiting = p.enqueue(b"never runs", delay=60)
        assert p.status(waiting).state == "delayed"
        assert p.cancel(waiting) == "cancelled"
        assert p.status(waiting).state == "cancelled"
        assert p.cancel(waiting) == "already_finished"
        running = p.enqueue(b"runs")
        job = w.take(timeout=5)
        assert job.id == running and not job.cancel_requested
        assert p.cancel(running) == "requested"
        assert job.cancel_requested
        w.complete(job)


def test_wait_times_out_with_the_latest_status(daemon):
    with taskring.Producer(daemon.queue) as p:
        job_id = p.enqueue(b"nobody takes it")
        t = time.monotonic()
        with pytest.raises(taskring.TimedOut) as e:
            p.wait(job_id, timeout=0.3)
        assert time.monotonic() - t >= 0.3
        assert e.value.status.state == "queued"
        assert isinstance(e.value, TimeoutError)


def test_unknown_jobs_queues_and_tokens(daemon):
    with taskring.Producer(daemon.queue) as p:
        with pytest.raises(taskring.NotFound):
            p.status(1)
        with pytest.raises(taskring.NotFound):
            p.result(1)
        with pytest.raises(taskring.InvalidArgument):
            p.status("not-a-token")
        job_id = p.enqueue(b"x")
        forged = p.status(job_id).token[:-1] + ("0" if p.status(job_id).token[-1] != "0" else "1")
        with pytest.raises(taskring.NotFound):
            p.status(forged)
    with pytest.raises(taskring.NotFound, match="taskringd"):
        taskring.Producer("no-such-queue-" + daemon.queue)
    with pytest.raises(taskring.NotFound):
        taskring.Worker("no-such-queue-" + daemon.queue)


def test_closed_handles_raise_closed(daemon):
    p = taskring.Producer(daemon.queue)
    p.close()
    p.close()  # twice is fine
    with pytest.raises(taskring.Closed):
        p.enqueue(b"x")
    w = taskring.Worker(daemon.queue)
    w.close()
    with pytest.raises(taskring.Closed):
        w.take(0)


def test_daemon_gone_raises_closed(daemon):
    p = taskring.Producer(daemon.queue)
    daemon.proc.kill()
    daemon.proc.wait()
    with pytest.raises(taskring.Closed):
        p.enqueue(b"x")
    p.close()


def test_run_completes_with_returned_values_and_fails_on_exceptions(daemon_factory):
    d = daemon_factory("--durability", "none", "--max-attempts", "1")
    with taskring.Producer(d.queue) as p, taskring.Worker(d.queue) as w:
        good = p.enqueue(b"21")
        bad = p.enqueue(b"boom")

        def handler(job):
            if job.payload == b"boom":
                raise RuntimeError("it blew up")
            return str(int(job.payload) * 2)

        assert w.run(handler, max_jobs=2, log_errors=False) == 2
        assert p.wait(good, timeout=5).state == "completed"
        assert p.result(good) == b"42"
        st = p.wait(bad, timeout=5)
        assert st.state == "dead"
        assert st.error == "RuntimeError: it blew up"


def test_stop_ends_run_from_another_thread(daemon):
    with taskring.Worker(daemon.queue) as w:
        threading.Timer(0.3, w.stop).start()
        t = time.monotonic()
        assert w.run(lambda job: None) == 0
        assert time.monotonic() - t < 5


def test_many_threads_each_with_its_own_producer(daemon):
    per_thread, threads = 200, 8
    ids, errors = [], []
    lock = threading.Lock()

    def produce(n):
        try:
            with taskring.Producer(daemon.queue) as p:
                mine = [p.enqueue(f"{n}-{i}") for i in range(per_thread)]
            with lock:
                ids.extend(mine)
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=produce, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert len(set(ids)) == per_thread * threads
    with taskring.Worker(daemon.queue) as w:
        seen = 0
        while seen < len(ids):
            got = w.take_many(64, timeout=5)
            assert got, f"only {seen} of {len(ids)} jobs came back"
            for job in got:
                w.complete(job)
            seen += len(got)


def test_one_producer_shared_by_threads(daemon):
    with taskring.Producer(daemon.queue) as p:
        out = []
        ts = [
            threading.Thread(target=lambda: out.extend(p.enqueue(b"s") for _ in range(50)))
            for _ in range(4)
        ]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(set(out)) == 200


def test_a_worker_process_killed_mid_job_is_redelivered(daemon_factory):
    d = daemon_factory("--durability", "none", "--lease-ms", "500")
    code = (
        "import sys, time, taskring\n"
        f"w = taskring.Worker({d.queue!r})\n"
        "job = w.take(timeout=10)\n"
        "print(job.id, flush=True)\n"
        "time.sleep(60)\n"
    )
    with taskring.Producer(d.queue) as p:
        job_id = p.enqueue(b"survives its worker")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ)
        assert int(child.stdout.readline()) == job_id
        child.send_signal(signal.SIGKILL)
        child.wait()
        with taskring.Worker(d.queue) as w:
            job = w.take(timeout=10)
            assert job is not None and job.id == job_id
            assert job.attempt == 2
            w.complete(job, b"done")
        assert p.wait(job_id, timeout=5).state == "completed"


def test_ctrl_c_interrupts_a_blocked_take(daemon):
    code = (
        "import taskring\n"
        f"w = taskring.Worker({daemon.queue!r})\n"
        "print('taking', flush=True)\n"
        "try:\n"
        "    w.take()\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert child.stdout.readline().strip() == "taking"
    time.sleep(0.3)
    t = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=10)
    assert out.strip() == "interrupted"
    assert time.monotonic() - t < 2


def test_a_worker_takes_only_its_types(daemon):
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue, types=["sms"]) as w:
        p.enqueue(b"mail", type="email")
        sms = p.enqueue(b"text", type="sms")
        job = w.take(timeout=5)
        assert job.id == sms
        assert w.take(timeout=0.2) is None
        w.complete(job)


def test_threads_sharing_a_worker_are_serialized_not_crashed(daemon):
    """A take looping in one thread and completes from another on the same Worker: the package
    serializes them (the C worker serves one thread at a time), and every job completes."""
    with taskring.Producer(daemon.queue) as p, taskring.Worker(daemon.queue) as w:
        ids = p.enqueue_many([b"%d" % i for i in range(200)])
        got = []
        while len(got) < 200:
            got += w.take_many(200, timeout=5)
        stop = threading.Event()

        def keep_taking():
            while not stop.is_set():
                assert w.take(timeout=0.05) is None  # nothing else is queued

        taker = threading.Thread(target=keep_taking)
        taker.start()
        try:
            for job in got[:100]:
                w.complete(job)
            for i in range(100, 200, 10):
                assert w.complete_many(got[i : i + 10]) == []
        finally:
            stop.set()
            taker.join()
        for job_id in ids:
            assert p.wait(job_id, timeout=5).state == "completed"


def test_closing_a_worker_while_another_thread_takes_is_safe(daemon):
    """close() from one thread while another blocks in take: the take ends (None or Closed),
    the handle is freed only after it (freeing it under the call crashed the process)."""
    w = taskring.Worker(daemon.queue)
    outcome = []

    def take():
        try:
            outcome.append(w.take(timeout=5))
        except taskring.Closed as e:
            outcome.append(e)

    t = threading.Thread(target=take)
    t.start()
    time.sleep(0.2)  # blocked in the C call
    w.close()
    t.join(5)
    assert not t.is_alive()
    assert outcome and (outcome[0] is None or isinstance(outcome[0], taskring.Closed))
    with pytest.raises(taskring.Closed):
        w.take(timeout=0)


def test_closing_jobs_while_another_thread_waits_is_safe(daemon):
    """Jobs is shared by threads: close() while one waits ends that wait (Closed) before the
    handle is freed."""
    with taskring.Producer(daemon.queue) as p:
        job_id = p.enqueue(b"never taken")
        jobs = taskring.Jobs(daemon.queue)
        outcome = []

        def wait():
            try:
                outcome.append(jobs.wait(job_id, timeout=5))
            except taskring.Closed as e:
                outcome.append(e)

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.2)  # blocked in the C call
        jobs.close()
        t.join(5)
        assert not t.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], taskring.Closed)
        with pytest.raises(taskring.Closed):
            jobs.status(job_id)
