"""taskring.DeadLetters against a real daemon: list, read, requeue, purge."""

import pytest

import taskring
from test_taskring import eventually


def test_list_read_requeue_and_purge(daemon_factory):
    d = daemon_factory("--durability", "none", "--max-attempts", "1")
    with taskring.Producer(d.queue) as p, taskring.Worker(d.queue) as w:
        a = p.enqueue(b"dies \0 here", type="mail", headers={"trace": "t-9"}, priority=8)
        b = p.enqueue(b"dies too")
        for _ in range(2):
            w.fail(w.take(timeout=5), "smtp said no")
        assert p.wait(a, timeout=5).state == "dead"
        assert p.wait(b, timeout=5).state == "dead"
        with taskring.DeadLetters(d.queue) as dead:
            assert eventually(dead.ids, lambda ids: len(ids) == 2) == [a, b]
            letter = dead.read(a)
            assert (letter.job_id, letter.payload, letter.reason) == (a, b"dies \0 here", "failed")
            assert (letter.attempts, letter.type, letter.priority) == (1, "mail", 8)
            assert letter.headers == [("trace", "t-9")]
            assert [x.job_id for x in dead] == [a, b]

            again = dead.requeue(a)
            assert again != a
            job = w.take(timeout=5)
            assert (job.id, job.payload, job.type) == (again, b"dies \0 here", "mail")
            w.complete(job)
            assert dead.ids() == [b]
            with pytest.raises(taskring.NotFound):
                dead.read(a)
            with pytest.raises(taskring.NotFound):
                dead.requeue(a)

            assert dead.purge_all() == 1
            assert dead.ids() == []
            with pytest.raises(taskring.NotFound):
                dead.purge(b)


def test_a_queue_that_is_not_running_needs_its_directory(daemon):
    with pytest.raises(taskring.NotFound):
        taskring.DeadLetters("no-such-queue-" + daemon.queue)
    with taskring.DeadLetters(dir=str(daemon.dir)) as dead:
        assert dead.ids() == []
