"""Fixtures for tests against a private RabbitMQ broker (broker.py): one broker per session
(it takes 4-25 s to start), a fresh queue name per test, and real taskringd daemons
(python/tests/conftest.py's) standing for the hosts on either side of the broker."""

import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from broker import Broker, BrokerUnavailable, broker_available  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# The Python package's daemon fixture, loaded under its own name (both files are conftest.py).
_spec = importlib.util.spec_from_file_location(
    "taskring_py_conftest", ROOT / "python" / "tests" / "conftest.py"
)
_py_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_py_conftest)
BIN = _py_conftest.BIN
Daemon = _py_conftest.Daemon
stop_process = _py_conftest.stop_process
daemon_factory = _py_conftest.daemon_factory


def skip_or_fail(reason):
    # TASKRING_REQUIRE_AMQP=1 (for CI, where tools/setup.sh installs the broker) turns the
    # skip into a failure, so a broker that stopped starting cannot pass as a skip.
    if os.environ.get("TASKRING_REQUIRE_AMQP") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def broker():
    ok, reason = broker_available()
    if not ok:
        skip_or_fail(reason)
    b = Broker()
    try:
        b.start()
    except BrokerUnavailable as e:
        b.close()
        skip_or_fail(f"rabbitmq-server could not start here: {e}")
    yield b
    b.close()


@pytest.fixture
def broker_fresh_queue(broker):
    """A unique queue name, deleted after the test (the test declares it as it needs)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    if broker.server is None:  # a test that crashed the broker and failed before restarting
        broker.start()
    broker.delete_queue(name)


@pytest.fixture
def links():
    """Tracks the relays and bridges (links.py) a test starts; stops them after it and prints
    their logs, which pytest shows for a failed test."""
    started = []

    def track(link):
        started.append(link)
        return link

    yield track
    for link in started:
        if link.proc.poll() is None:
            link.stop()
        print(f"--- taskring {link.kind} log ---\n{link.proc.stderr.read()}")
