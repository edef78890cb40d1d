"""The relay's two threads against a broker that blocks it, driven through the CLI alone (no
Python binding to load), so that the TSan stage of tools/test.sh runs it on ThreadSanitizer
builds of taskringd and taskring (ctest amqp_tsan_test, label concurrency). It runs in the
plain stage's amqp_test too.

A memory alarm makes the broker stop reading from publishers: the relay's publishing thread
blocks in a write while its lease keeper renews the leases of every job in its window. With
--max-attempts 1, a lease that ran out would dead-letter its job. Any ThreadSanitizer report
from a relay, bridge or daemon fails the test: TSAN_OPTIONS' log_path sends reports to files,
read when the test ends."""

import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, Daemon
from links import bridge, relay, stat, wait_until


@pytest.fixture(autouse=True)
def no_tsan_reports(tmp_path, monkeypatch):
    """Runs first and ends last, after every process of the test has stopped."""
    reports = tmp_path / "tsan-reports"
    reports.mkdir()
    options = os.environ.get("TSAN_OPTIONS", "")
    monkeypatch.setenv("TSAN_OPTIONS", f"{options}:log_path={reports}/report".lstrip(":"))
    yield
    found = sorted(reports.iterdir())
    assert not found, "ThreadSanitizer reported:\n" + "\n".join(
        p.read_text(errors="replace") for p in found)


def enqueue(daemon: Daemon, payloads: list):
    out = subprocess.run([str(BIN / "taskring"), "enqueue", "--queue", daemon.queue],
                         input="\n".join(payloads) + "\n", capture_output=True, text=True,
                         check=True).stdout
    assert out.count("accepted") == len(payloads), out[-500:]


def test_a_broker_that_blocks_publishers_uses_no_attempt(daemon_factory, broker,
                                                         broker_fresh_queue, links):
    big = ("--capacity", "1024", "--max-payload", "65536")
    source = daemon_factory("--max-attempts", "1", "--lease-ms", "1500", *big)
    sink = daemon_factory(*big)  # no workers: every job that arrives stays there, counted
    r = links(relay(source, broker, broker_fresh_queue))
    links(bridge(sink, broker, broker_fresh_queue))
    enqueue(source, [f"unblocked-{i}" for i in range(10)])
    wait_until(lambda: stat(sink)["depth"] == 10, 60, "a working link")

    broker.ctl("set_vm_memory_high_watermark", "0.000001")
    try:
        # 19 MB: more than the socket buffers hold, so the relay blocks in a write.
        enqueue(source, [f"blocked-{i}-".ljust(32768, "x") for i in range(600)])
        time.sleep(6)  # four leases
        assert stat(sink)["depth"] == 10, "the broker did not block"
        # Stopped while a publish is stuck, the relay still ends (exit 0: a ThreadSanitizer
        # report would make it 66), giving its jobs back.
        began = time.monotonic()
        r.proc.send_signal(signal.SIGTERM)
        assert r.proc.wait(60) == 0
        assert time.monotonic() - began < 30
        assert stat(source)["dead_letters"] == 0, "leases ran out while the broker blocked"
    finally:
        broker.ctl("set_vm_memory_high_watermark", "0.4")

    r.start()
    wait_until(lambda: stat(source)["depth"] == 0 and stat(source)["running"] == 0, 240,
               "the source to drain")
    # Each job arrives once: ids are idempotency keys at the sink, so a republished job is
    # absorbed there, and a lost one would leave the depth short.
    wait_until(lambda: stat(sink)["depth"] == 610, 60, "every job at the sink")
    assert stat(source)["dead_letters"] == 0
    assert r.metrics()["taskring_relay_confirmed_total"] >= 600
