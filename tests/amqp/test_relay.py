"""taskring relay and taskring bridge against a real RabbitMQ broker (tests/amqp/broker.py):
jobs flow host -> RabbitMQ -> host exactly once by id; SIGKILL of the relay, of the bridge
and of the broker lose nothing accepted or confirmed (duplicates are counted and absorbed by
the bridge's idempotency keys); a broker outage fills the local queue until it answers BUSY,
uses up no attempt, and drains once the broker is back.

Two daemons stand for two hosts: `source` (producers -> relay) and `sink` (bridge -> workers).
"""

import random
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


@pytest.fixture
def links():
    started = []

    def track(link: Link) -> Link:
        started.append(link)
        return link

    yield track
    for link in started:
        if link.proc.poll() is None:
            link.stop()
        # Shown by pytest for a failed test: what each link logged.
        print(f"--- taskring {link.kind} log ---\n{link.proc.stderr.read()}")


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


def test_a_relay_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    b = links(bridge(sink, broker, amqp_queue))
    sent = enqueue_stream(source, N, "relaykill")
    rng = random.Random(17)
    kills = 0
    r = links(relay(source, broker, amqp_queue))
    while stat(source)["outstanding"] > 0 and kills < 6:
        time.sleep(rng.uniform(0.05, 0.4))
        r.kill()
        kills += 1
        r.start()
    taken = drain_sink(sink, N, 90, "relaykill")
    assert_exactly_once(sent, taken)
    dups = b.metrics()["taskring_bridge_duplicates_total"]
    # A killed relay's unconfirmed jobs are published again by the next: the bridge absorbs
    # the copies the broker had already taken.
    print(f"relay killed {kills} times; {int(dups)} duplicate messages absorbed by the bridge")
    assert stat(source)["dead_letters"] == 0


def test_a_bridge_killed_mid_stream_loses_nothing(hosts, broker, amqp_queue, links):
    source, sink = hosts
    links(relay(source, broker, amqp_queue))
    b = links(bridge(sink, broker, amqp_queue))
    rng = random.Random(23)
    sent = enqueue_stream(source, N, "bridgekill")
    kills = 0
    for _ in range(5):
        time.sleep(rng.uniform(0.05, 0.4))
        b.kill()
        kills += 1
        b.start()
    taken = drain_sink(sink, N, 90, "bridgekill")
    assert_exactly_once(sent, taken)
    # Messages the killed bridges had enqueued but not acked came again, as duplicates.
    print(f"bridge killed {kills} times; the last one absorbed "
          f"{int(b.metrics()['taskring_bridge_duplicates_total'])} duplicates")


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
