"""Fixtures: a real taskringd per test, in a temp dir, on a queue name of its own.

The binaries come from TASKRING_BIN (default: the build/ directory of this checkout); the
package loads libtaskring.so.0 from TASKRING_LIBRARY or the library search path, which
tools/test.sh points at the same build.
"""

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TASKRING_BIN", ROOT / "build"))


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; waits for it either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Daemon:
    """taskringd for one queue, started with --ready-fd and stopped by PID."""

    def __init__(self, tmp_path: Path, *args: str):
        self.queue = "py-" + uuid.uuid4().hex[:12]
        self.dir = tmp_path / "wal"
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.log = tmp_path / "taskringd.log"
        self.args = list(args)
        self.proc = None

    def start(self):
        r, w = os.pipe()
        cmd = [str(BIN / "taskringd"), "--queue", self.queue, "--dir", str(self.dir),
               "--no-metrics", "--ready-fd", str(w), *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, pass_fds=(w,))
        os.close(w)
        with os.fdopen(r, "rb") as ready:
            line = ready.read()
        if not line.startswith(b"ready"):
            self.proc.kill()
            raise RuntimeError(f"taskringd did not start: {self.log.read_text()}")
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
        # A daemon a test killed (or one killed above) leaves its segment and lock behind.
        for leftover in ("", "~lock"):
            Path(f"/dev/shm/taskring.{self.queue}{leftover}").unlink(missing_ok=True)


@pytest.fixture
def daemon_factory(tmp_path):
    started = []

    def make(*args: str) -> Daemon:
        d = Daemon(tmp_path / str(len(started)), *args).start()
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


@pytest.fixture
def daemon(daemon_factory):
    """A `none` queue (fast; durability is the daemon's business, tested in C++)."""
    return daemon_factory("--durability", "none")
