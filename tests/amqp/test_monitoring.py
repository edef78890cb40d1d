"""The relay's and bridge's monitoring against a real broker and a real Prometheus: while jobs
flow source -> relay -> RabbitMQ -> bridge -> sink, every panel query of
dashboards/taskring-scale-out.json and every alert expression of the taskring-scale-out group
returns series, each /metrics passes `promtool check metrics`, and no alert fires; once the
broker is killed, TaskringRelayCannotDeliver (reason disconnected) and
TaskringBridgeDisconnected fire. The rules run with every `for:` shortened, as in
tests/observability/prometheus_live_test.py, whose helpers this reuses.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

import taskring
from conftest import skip_or_fail, stop_process
from links import bridge, relay, wait_until

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "observability"))
import dashboard_exprs  # noqa: E402
from prometheus_live_test import FAST_FOR, RATE_WINDOW, free_port, http_get  # noqa: E402

DASHBOARD = ROOT / "dashboards" / "taskring-scale-out.json"
ALERTS = ROOT / "dashboards" / "alerts.yml"
GROUP = "taskring-scale-out"


class Prometheus:
    """Prometheus on a free 127.0.0.1 port, a temp dir, 1 s scrape and evaluation."""

    def __init__(self, targets: dict):
        self.dir = Path(tempfile.mkdtemp(prefix="taskring-amqp-prom-"))
        rules = re.sub(r"(?m)^(\s*)for: \S+$", rf"\1for: {FAST_FOR}", ALERTS.read_text())
        (self.dir / "alerts.yml").write_text(rules)
        # The job names are the ones the alerts' up{job=...} arms expect (prometheus.yml).
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n"
                       f"      - targets: [\"{target}\"]\n" for job, target in targets.items())
        (self.dir / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files: [alerts.yml]\nscrape_configs:\n" + jobs)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.dir}/prometheus.yml",
             f"--storage.tsdb.path={self.dir}/data", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"], stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            try:
                return "Ready" in http_get(f"{self.url}/-/ready")
            except OSError:
                assert self.proc.poll() is None, "prometheus exited: " + self.log_text()
                return False
        wait_until(ready, 30, "Prometheus to be ready")

    def log_text(self) -> str:
        return (self.dir / "prometheus.log").read_text(errors="replace")

    def query(self, expr: str) -> list:
        body = json.loads(http_get(f"{self.url}/api/v1/query?"
                                   + urllib.parse.urlencode({"query": expr})))
        assert body.get("status") == "success", f"query error for {expr!r}: {body}"
        return body["data"]["result"]

    def firing(self) -> dict:
        """alertname -> the label sets of its firing alerts."""
        out = {}
        for a in json.loads(http_get(f"{self.url}/api/v1/alerts"))["data"]["alerts"]:
            if a["state"] == "firing":
                out.setdefault(a["labels"]["alertname"], []).append(a["labels"])
        return out

    def close(self):
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def host_port(metrics_url: str) -> str:
    return urllib.parse.urlsplit(metrics_url).netloc


def as_bool(expr: str) -> str:
    """Comparisons with a number turned into `bool`: a quiet rule still returns its series."""
    return re.sub(r"(==|!=|>=|<=|>|<)(?!\s*bool)(?=\s*[-0-9.])", r"\1 bool", expr)


def test_dashboard_and_alerts_against_a_live_link(daemon_factory, broker, broker_fresh_queue):
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} not found (tools/setup.sh installs Debian's prometheus)")
    source, sink = daemon_factory(), daemon_factory()
    started = []
    prom = None
    stop = threading.Event()
    threads = []
    try:
        r = relay(source, broker, broker_fresh_queue)
        started.append(r)
        b = bridge(sink, broker, broker_fresh_queue)
        started.append(b)
        prom = Prometheus({"taskring-relay": host_port(r.metrics_url),
                           "taskring-bridge": host_port(b.metrics_url)})

        def produce():  # ~200 jobs/s until stopped
            with taskring.Producer(source.queue) as p:
                n = 0
                while not stop.is_set():
                    try:
                        p.enqueue(f"mon-{n}")
                        n += 1
                    except taskring.Busy:
                        pass
                    stop.wait(0.005)

        def consume():  # keeps the sink from filling up
            with taskring.Worker(sink.queue) as w:
                while not stop.is_set():
                    jobs = w.take_many(256, timeout=0.2)
                    if jobs:
                        w.complete_many(jobs)
        threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
        for t in threads:
            t.start()

        # Enough scrapes for rate() over RATE_WINDOW to see confirms and accepts.
        wait_until(lambda: prom.query(
            f"rate(taskring_relay_confirmed_total[{RATE_WINDOW}]) > 0"
            f" and on() rate(taskring_bridge_accepted_total[{RATE_WINDOW}]) > 0"), 30,
            "Prometheus to see jobs confirmed and accepted")

        queues = f"{source.queue}|{sink.queue}"
        missing = [f"panel {e['title']!r} ({e['ref']}): {e['expr']}"
                   for e in dashboard_exprs.dashboard_exprs(DASHBOARD, RATE_WINDOW, queues)
                   if not prom.query(e["expr"])]
        alert_items = list(dashboard_exprs.alert_exprs(ALERTS, [GROUP]))
        assert {e["title"] for e in alert_items} == {"TaskringRelayCannotDeliver",
                                                     "TaskringBridgeDisconnected"}
        missing += [f"alert {e['title']}: {as_bool(e['expr'])}" for e in alert_items
                    if not prom.query(as_bool(e["expr"]))]
        assert not missing, "queries without series:\n" + "\n".join(missing)
        # The dashboard's queue variable finds both ends.
        found = {s["metric"]["queue"] for s in prom.query(
            'group by (queue) ({__name__=~"taskring_(relay|bridge)_connected"})')}
        assert {source.queue, sink.queue} <= found

        for link in (r, b):
            text = http_get(link.metrics_url)
            lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                                  capture_output=True, text=True)
            assert lint.returncode == 0, f"{link.kind}: {lint.stdout}{lint.stderr}"

        firing = prom.firing()
        assert not {"TaskringRelayCannotDeliver", "TaskringBridgeDisconnected"} & set(firing), \
            f"alerts firing while healthy: {firing}"

        stop.set()
        for t in threads:
            t.join()
        broker.sync_metadata()  # a queue declared < 5 s before a broker crash is lost (broker.py)
        broker.kill()
        wait_until(lambda: {"TaskringRelayCannotDeliver", "TaskringBridgeDisconnected"}
                   <= set(prom.firing()), 30, "the alerts for a broker that is gone")
        reasons = {a.get("reason") for a in prom.firing()["TaskringRelayCannotDeliver"]}
        assert reasons == {"disconnected"}, reasons
    finally:
        stop.set()
        for t in threads:
            t.join()
        if prom is not None:
            prom.close()
        for link in started:
            link.stop()
        if broker.server is None:
            broker.restart()  # later tests need a broker
