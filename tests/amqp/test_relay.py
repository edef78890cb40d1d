"""taskring relay and taskring bridge against a real RabbitMQ broker (tests/amqp/broker.py):
jobs flow host -> RabbitMQ -> host exactly once by id; SIGKILL of the relay, of the bridge
and of the broker lose nothing accepted or confirmed (duplicates are counted and absorbed by
the bridge's idempotency keys); a broker outage fills the local queue until it answers BUSY,
uses up no attempt, and drains once the broker is back.

Two daemons stand for two hosts: `source` (producers -> relay) and `sink` (bridge -> workers).
"""

import random
import signal
import threading
import time

import pytest

import taskring
from conftest import Daemon
from links import Link, bridge, relay, stat, wait_until

N = 1500  # jobs per stream: a few seconds of relaying, long enough to kill things in the middle


def enqueue_stream(source: Daemon, count: int, tag: str) -> dict:
    """Enqueues `count` jobs (typed, with headers) and returns {payload: header value}."""
    sent = {}
    with taskring.Producer(source.queue) as p:
        for i in range(count):
            payload = f"{tag}-{i}"
            while True:
                try:
                    p.enqueue(payload, type="relay.test", priority=i % 10,
                              headers=[("seq", str(i))])
                    break
                except taskring.Busy as e:
                    time.sleep(min(e.retry_after or 0.01, 0.1))
            sent[payload] = str(i)
    return sent


def drain_sink(sink: Daemon, expected: int, timeout: float, tag: str) -> list:
    """Takes jobs from the sink until `expected` distinct payloads of this stream arrived and
    nothing more comes for a second; returns every job taken (duplicates included)."""
    taken = []
    seen = set()
    deadline = time.monotonic() + timeout
    with taskring.Worker(sink.queue) as w:
        quiet_since = None
        while time.monotonic() < deadline:
            jobs = w.take_many(256, timeout=0.2)
            if jobs:
                quiet_since = None
                for j in jobs:
                    taken.append((j.payload.decode(), j.type, j.priority, j.header("seq")))
                    seen.add(j.payload.decode())
                w.complete_many(jobs)
            elif len(seen) >= expected:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    return taken
    raise AssertionError(f"only {len(seen)} of {expected} jobs of {tag} reached the sink")


def assert_exactly_once(sent: dict, taken: list):
    payloads = [t[0] for t in taken]
    missing = set(sent) - set(payloads)
    assert not missing, f"{len(missing)} accepted jobs never arrived, e.g. {sorted(missing)[:5]}"
    extra = set(payloads) - set(sent)
    assert not extra, f"jobs nobody sent arrived: {sorted(extra)[:5]}"
    dups = len(payloads) - len(set(payloads))
    assert dups == 0, f"{dups} jobs ran twice at the sink"


@pytest.fixture
def hosts(daemon_factory):
    """Two queues standing for two hosts, with their default (fsync) durability."""
    return daemon_factory(), daemon_factory()


@pytest.fixture
def amqp_queue(broker_fresh_queue):
    return broker_fresh_queue


def test_jobs_flow_to_another_host_exactly_once_with_their_metadata(hosts, broker, amqp_queue,
                                                                    links):
    source, sink = hosts
    r = links(relay(source, broker, amqp_queue))
    b = links(bridge(sink, broker, amqp_queue))
    sent = enqueue_stream(source, N, "flow")
    taken = drain_sink(sink, N, 60, "flow")
    assert_exactly_once(sent, taken)
    for payload, type_, priority, seq in taken:
        assert type_ == "relay.test"
        assert seq == sent[payload]
        assert priority == int(seq) % 10
    wait_until(lambda: stat(source)["outstanding"] == 0, 10, "the source to be empty")
    rm, bm = r.metrics(), b.metrics()
    assert rm["taskring_relay_confirmed_total"] == N
    assert rm["taskring_relay_released_total"] == 0
    assert bm["taskring_bridge_accepted_total"] == N
    assert bm["taskring_bridge_duplicates_total"] == 0
    assert rm["taskring_relay_connected"] == 1 and bm["taskring_bridge_connected"] == 1


class BackgroundStream:
    """enqueue_stream in a thread, so links can be killed while jobs are still coming."""

    def __init__(self, source: Daemon, count: int, tag: str):
        self.sent = {}
        self.thread = threading.Thread(
            target=lambda: self.sent.update(enqueue_stream(source, count, tag)))
        self.thread.start()

    def running(self) -> bool:
        return self.thread.is_alive()

    def join(self) -> dict:
        self.thread.join()
        return self.sent


def kill_repeatedly(link: Link, stream: BackgroundStream, seed: int, most: int = 8) -> int:
    """SIGKILLs the link at random points (20-250 ms apart) while the stream runs, restarting
    it each time; returns the number of kills."""
    rng = random.Random(seed)
    kills = 0
    while stream.running() and kills < most:
        time.sleep(rng.uniform(0.02, 0.25))
        link.kill()
        kills += 1
        link.start()
    return kills


def test_a_relay_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    links(bridge(sink, broker, amqp_queue))
    r = links(relay(source, broker, amqp_queue))
    stream = BackgroundStream(source, N, "relaykill")
    kills = kill_repeatedly(r, stream, seed=17)
    sent = stream.join()
    taken = drain_sink(sink, N, 90, "relaykill")
    assert_exactly_once(sent, taken)
    assert kills >= 3, "the stream ended before the relay could be killed mid-stream"
    # A killed relay's unconfirmed jobs are published again by the next one: the sink's
    # idempotency keys absorb the copies the broker already had.
    print(f"relay killed {kills} times mid-stream; {stat(sink)['counters']['dedup_hits']} duplicate "
          "messages absorbed at the sink")
    # Each kill counts one attempt for the jobs it held (3 by default): none may die of it.
    assert stat(source)["dead_letters"] == 0


def test_a_bridge_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    links(relay(source, broker, amqp_queue))
    b = links(bridge(sink, broker, amqp_queue))
    stream = BackgroundStream(source, N, "bridgekill")
    kills = kill_repeatedly(b, stream, seed=23)
    sent = stream.join()
    taken = drain_sink(sink, N, 90, "bridgekill")
    assert_exactly_once(sent, taken)
    assert kills >= 3, "the stream ended before the bridge could be killed mid-stream"
    # Messages a killed bridge had enqueued but not acked come again, as duplicates.
    print(f"bridge killed {kills} times mid-stream; {stat(sink)['counters']['dedup_hits']} duplicate "
          "messages absorbed at the sink")


def test_a_full_sink_holds_messages_in_the_broker_until_workers_drain_it(
        daemon_factory, broker, amqp_queue, links):
    source, sink = daemon_factory(), daemon_factory("--capacity", "100")
    links(relay(source, broker, amqp_queue))
    b = links(bridge(sink, broker, amqp_queue, "--prefetch", "50"))
    sent = enqueue_stream(source, 600, "fullsink")
    # No worker yet: the sink fills, the bridge holds its prefetch and answers nothing.
    wait_until(lambda: b.metrics()["taskring_bridge_busy_total"] > 0, 60, "a BUSY sink")
    time.sleep(1)
    m = b.metrics()
    assert m["taskring_bridge_held"] <= 50, "the prefetch bounds what the bridge holds"
    assert m["taskring_bridge_rejected_total"] == 0
    assert stat(sink)["outstanding"] == 100
    taken = drain_sink(sink, 600, 90, "fullsink")
    assert_exactly_once(sent, taken)


def kill_and_restart(daemon: Daemon):
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    daemon.start()  # the same WAL: every accepted job is recovered


def test_a_source_daemon_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    sent = enqueue_stream(source, N, "srckill")
    r = links(relay(source, broker, amqp_queue, "--wait-for-daemon-ms", "30000"))
    links(bridge(sink, broker, amqp_queue))
    wait_until(lambda: r.metrics()["taskring_relay_confirmed_total"] > N // 4, 60,
               "a quarter of the stream to be confirmed")
    # Jobs published but not yet completed come back with the daemon and are published
    # again: the bridge absorbs them by message id (the job ids survive the restart).
    kill_and_restart(source)
    taken = drain_sink(sink, N, 90, "srckill")
    assert_exactly_once(sent, taken)
    print(f"source daemon killed once; {stat(sink)['counters']['dedup_hits']} duplicates absorbed at the "
          "sink")


def test_a_sink_daemon_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    links(relay(source, broker, amqp_queue))
    b = links(bridge(sink, broker, amqp_queue, "--wait-for-daemon-ms", "30000"))
    sent = enqueue_stream(source, N, "snkkill")
    wait_until(lambda: b.metrics()["taskring_bridge_accepted_total"] > N // 4, 60,
               "a quarter of the stream to be accepted")
    # Messages the sink logged but the bridge had not acked are delivered again: their keys
    # were recovered with the WAL, so they create no second job.
    kill_and_restart(sink)
    taken = drain_sink(sink, N, 90, "snkkill")
    assert_exactly_once(sent, taken)
    print(f"sink daemon killed once; {stat(sink)['counters']['dedup_hits']} duplicates absorbed at the "
          "sink (its counters restart with it)")


def test_a_broker_killed_and_restarted_mid_stream_loses_nothing_and_uses_no_attempt(
        daemon_factory, broker, amqp_queue, links):
    # One attempt only: a relay that failed jobs for the outage would dead-letter them.
    source, sink = daemon_factory("--max-attempts", "1"), daemon_factory()
    r = links(relay(source, broker, amqp_queue))
    links(bridge(sink, broker, amqp_queue))
    sent = enqueue_stream(source, N, "brokerkill")
    wait_until(lambda: r.metrics()["taskring_relay_confirmed_total"] > N // 4, 60,
               "a quarter of the stream to be confirmed")
    broker.sync_metadata()  # a queue declared < 5 s before a broker crash is lost (broker.py)
    broker.kill()
    wait_until(lambda: r.metrics()["taskring_relay_connected"] == 0, 30,
               "the relay to see the broker gone")
    broker.restart()
    taken = drain_sink(sink, N, 120, "brokerkill")
    assert_exactly_once(sent, taken)
    rm = r.metrics()
    assert rm["taskring_relay_reconnects_total"] >= 1
    assert stat(source)["dead_letters"] == 0, "the outage used up attempts"


def test_a_broker_outage_fills_the_local_queue_to_busy_then_it_drains(daemon_factory, broker,
                                                                      amqp_queue, links):
    capacity = 300
    source = daemon_factory("--capacity", str(capacity), "--max-attempts", "1")
    sink = daemon_factory()
    r = links(relay(source, broker, amqp_queue))
    links(bridge(sink, broker, amqp_queue))
    enqueue_stream(source, 10, "before")  # the link works
    broker.sync_metadata()  # a queue declared < 5 s before a broker crash is lost (broker.py)
    broker.kill()
    wait_until(lambda: r.metrics()["taskring_relay_connected"] == 0, 30,
               "the relay to see the broker gone")
    accepted = []
    busy = 0
    with taskring.Producer(source.queue) as p:
        for i in range(capacity * 2):
            try:
                p.enqueue(f"outage-{i}")
                accepted.append(f"outage-{i}")
            except taskring.Busy:
                busy += 1
    assert busy > 0, "a full local queue must answer BUSY while the broker is away"
    assert len(accepted) <= capacity
    assert stat(source)["dead_letters"] == 0
    broker.restart()
    taken = drain_sink(sink, len(accepted) + 10, 120, "outage")
    assert_exactly_once({p: None for p in accepted + [f"before-{i}" for i in range(10)]},
                        taken)
    assert stat(source)["dead_letters"] == 0, "the outage used up attempts"


def test_a_message_that_cannot_be_a_job_is_rejected_and_logged_safely(daemon_factory, broker,
                                                                       amqp_queue, links):
    import pika

    sink = daemon_factory()
    b = links(bridge(sink, broker, amqp_queue))
    wait_until(lambda: b.metrics()["taskring_bridge_connected"] == 1, 30, "the bridge")
    # A table-valued header cannot be a job header; the id tries to forge a log line.
    broker.publish(amqp_queue, [b"bad"], pika.BasicProperties(
        message_id="evil\nFORGED: line", headers={"nested": {"a": 1}}))
    broker.publish(amqp_queue, [b"good"], pika.BasicProperties(
        message_id="fine-1", type="t.ok", priority=3, headers={"k": "v", "n": 7}))
    wait_until(lambda: b.metrics()["taskring_bridge_accepted_total"] == 1 and
               b.metrics()["taskring_bridge_rejected_total"] == 1, 30, "one accepted, one rejected")
    with taskring.Worker(sink.queue) as w:
        job = w.take(timeout=5)
        assert job.payload == b"good" and job.type == "t.ok" and job.priority == 3
        assert job.headers == [("k", "v"), ("n", "7")]
        w.complete(job)
        assert w.take(timeout=0.5) is None, "the rejected message became a job"
    b.stop()
    log = b.proc.stderr.read()
    assert "message 'evil?FORGED: line' cannot be a job" in log, log
    assert "nested" in log
    assert not any(line.startswith("FORGED") for line in log.splitlines())
