"""`taskring relay` and `taskring bridge` as test processes, shared by test_relay.py and
test_monitoring.py: each starts on a free metrics port (--metrics-listen 127.0.0.1:0) with a
short backoff and heartbeat, so tests see a broker come and go within seconds."""

import json
import re
import signal
import subprocess
import time
import urllib.request

from conftest import BIN, Daemon, stop_process


class Link:
    """`taskring relay` or `taskring bridge`, with its metrics on a free port."""

    def __init__(self, kind: str, *args: str):
        self.kind = kind
        self.args = args
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN / "taskring"), self.kind, *self.args, "--metrics-listen", "127.0.0.1:0",
             "--max-backoff-ms", "500", "--heartbeat", "10"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        m = re.match(r"metrics on (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"taskring {self.kind} did not start: {line!r} "
                               f"{self.proc.stderr.read()}")
        self.metrics_url = m.group(1)

    def metrics(self) -> dict:
        """Counter and gauge values by name (labels dropped: one link per process)."""
        text = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            values[name.split("{", 1)[0]] = float(value)
        return values

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        stop_process(self.proc)

    def log(self) -> str:
        return self.proc.stderr.read() if self.proc.poll() is not None else ""


def relay(source: Daemon, broker, amqp_queue: str, *args: str) -> Link:
    return Link("relay", "--queue", source.queue, "--amqp", broker.url, "--to", amqp_queue,
                *args)


def bridge(sink: Daemon, broker, amqp_queue: str, *args: str) -> Link:
    return Link("bridge", "--amqp", broker.url, "--from", amqp_queue, "--queue", sink.queue,
                *args)


def stat(daemon: Daemon) -> dict:
    out = subprocess.run([str(BIN / "taskring"), "stat", "--queue", daemon.queue, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
