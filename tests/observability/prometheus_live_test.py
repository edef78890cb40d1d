#!/usr/bin/python3
"""Live test of the monitoring: a real Prometheus scrapes a real taskringd and `taskring http`.

Starts taskringd, the HTTP gateway (POSTed to 5 times a second throughout), Prometheus
(127.0.0.1, temp data dir, 1 s scrape and rule evaluation, the alert rules with every `for:`
shortened), producers and workers; runs a healthy phase and an
incident (workers gone, queue full, then the daemon killed); and fails unless
  - every dashboard panel query returns at least one series,
  - every alert expression returns series (its comparisons turned into `bool`, so a rule that
    is quiet still proves its metrics exist),
  - TaskringNoWorkers, TaskringRejecting and TaskringDown really fire,
  - a scrape of each /metrics passes `promtool check metrics`,
  - the gateway answered 202 while healthy and 503 once the queue was full.
Then renders each panel's queries over the run to a PNG with gnuplot (--png-dir).

Usage: prometheus_live_test.py --bin-dir BUILD [--png-dir DIR] [--keep]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RATE_WINDOW = "10s"  # $__rate_interval for a 1 s scrape
FAST_FOR = "3s"


def log(msg):
    print(f"[live] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_until(what, pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"FAIL: timed out waiting for {what}")


class Run:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin_dir)
        self.tmp = tempfile.mkdtemp(prefix="taskring-live-")
        self.queue = f"live{os.getpid()}"
        self.procs = []
        self.failures = []

    # --- processes ----------------------------------------------------------------------
    def spawn(self, argv, log_name, stdin=None):
        out = open(os.path.join(self.tmp, log_name), "wb")
        p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def start_daemon(self):
        self.daemon = self.spawn(
            [f"{self.bin}/taskringd", "--queue", self.queue, "--dir", f"{self.tmp}/wal",
             "--capacity", "300", "--max-attempts", "2", "--retry-backoff-ms", "200",
             "--metrics-listen", "127.0.0.1:0", "--durability", "fsync"], "daemon.log")
        port = {}

        def ready():
            m = re.search(r"metrics: http://127\.0\.0\.1:(\d+)/metrics",
                          open(f"{self.tmp}/daemon.log").read())
            if m:
                port["p"] = int(m.group(1))
            return bool(m)
        wait_until("taskringd", ready, 30)
        self.metrics_port = port["p"]
        log(f"taskringd pid {self.daemon.pid}, metrics on 127.0.0.1:{self.metrics_port}")

    def start_gateway(self):
        self.gateway = self.spawn([f"{self.bin}/taskring", "http", "--listen", "127.0.0.1:0",
                                   "--queue", self.queue], "http.log")
        port = {}

        def ready():
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(f"{self.tmp}/http.log").read())
            if m:
                port["p"] = int(m.group(1))
            return bool(m)
        wait_until("taskring http", ready, 30)
        self.http_port = port["p"]
        self.http_codes = {}
        self.http_stop = threading.Event()
        log(f"taskring http pid {self.gateway.pid} on 127.0.0.1:{self.http_port}")

    def post_over_http(self, per_second):
        """POSTs jobs to the gateway until http_stop is set (a thread): 202s, then 503s once full."""
        url = f"http://127.0.0.1:{self.http_port}/queues/{self.queue}/jobs"
        n = 0
        while not self.http_stop.is_set():
            req = urllib.request.Request(url, data=f"http-ok-{n}".encode(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except OSError:
                code = 0
            self.http_codes[code] = self.http_codes.get(code, 0) + 1
            n += 1
            self.http_stop.wait(1.0 / per_second)

    def start_prometheus(self):
        rules = open(f"{REPO}/dashboards/alerts.yml").read()
        rules = re.sub(r"(?m)^(\s*)for: \S+$", rf"\1for: {FAST_FOR}", rules)
        open(f"{self.tmp}/alerts.yml", "w").write(rules)
        open(f"{self.tmp}/prometheus.yml", "w").write(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: taskring
    static_configs:
      - targets: ["127.0.0.1:{self.metrics_port}"]
  - job_name: taskring-http
    static_configs:
      - targets: ["127.0.0.1:{self.http_port}"]
""")
        self.prom_port = free_port()
        self.prom = self.spawn(
            ["prometheus", f"--config.file={self.tmp}/prometheus.yml",
             f"--storage.tsdb.path={self.tmp}/prom-data",
             f"--web.listen-address=127.0.0.1:{self.prom_port}", "--log.level=warn"],
            "prometheus.log")
        self.prom_url = f"http://127.0.0.1:{self.prom_port}"
        wait_until("Prometheus ready", lambda: "Ready" in http_get(f"{self.prom_url}/-/ready"), 60)
        log(f"prometheus pid {self.prom.pid} on 127.0.0.1:{self.prom_port}")

    def start_workers(self, n):
        # Payloads containing "fail" fail every attempt: retried, then dead-lettered.
        cmd = 'p=$(cat); case "$p" in *fail*) exit 1;; esac; sleep 0.01'
        return [self.spawn([f"{self.bin}/taskring", "worker", "--queue", self.queue, "--exec", cmd],
                           f"worker{i}.log") for i in range(n)]

    def produce(self, seconds, per_second, tag):
        """One long-lived `taskring enqueue` fed at a steady rate; returns its exit code."""
        p = subprocess.Popen([f"{self.bin}/taskring", "enqueue", "--queue", self.queue],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        counts = {}

        def drain():
            for line in p.stdout:
                word = line.split()[0].decode() if line.split() else "?"
                counts[word] = counts.get(word, 0) + 1
        t = threading.Thread(target=drain)
        t.start()
        sent = 0
        start = time.time()
        while time.time() - start < seconds:
            due = int((time.time() - start) * per_second)
            while sent < due:
                kind = "fail" if sent % 50 == 7 else "ok"
                p.stdin.write(f"{tag}-{kind}-{sent}\n".encode())
                sent += 1
            p.stdin.flush()
            time.sleep(0.05)
        p.stdin.close()
        p.wait()
        t.join()
        log(f"producer {tag}: {counts}")
        return counts

    # --- Prometheus API -----------------------------------------------------------------
    def query(self, expr, at=None):
        q = {"query": expr}
        if at is not None:
            q["time"] = str(at)
        body = json.loads(http_get(f"{self.prom_url}/api/v1/query?" + urllib.parse.urlencode(q)))
        if body.get("status") != "success":
            raise SystemExit(f"FAIL: query error for {expr!r}: {body}")
        return body["data"]["result"]

    def query_range(self, expr, start, end):
        q = {"query": expr, "start": str(start), "end": str(end), "step": "1"}
        body = json.loads(
            http_get(f"{self.prom_url}/api/v1/query_range?" + urllib.parse.urlencode(q), 30))
        return body["data"]["result"] if body.get("status") == "success" else []

    def firing(self):
        body = json.loads(http_get(f"{self.prom_url}/api/v1/alerts"))
        return {a["labels"]["alertname"] for a in body["data"]["alerts"] if a["state"] == "firing"}

    def wait_firing(self, names, timeout=90):
        wait_until(f"alerts {sorted(names)} firing", lambda: names <= self.firing(), timeout)
        log(f"firing: {sorted(self.firing())}")

    # --- checks -------------------------------------------------------------------------
    def exprs(self, source):
        out = subprocess.run(
            # Group taskring only: the taskring-scale-out rules need a relay and a bridge
            # (tests/amqp/test_monitoring.py checks those against a broker).
            ["/usr/bin/python3", f"{HERE}/dashboard_exprs.py", RATE_WINDOW, self.queue,
             "--source", source, "--group", "taskring"],
            check=True, capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def check_every_expression(self, at):
        for e in self.exprs("dashboard"):
            if not self.query(e["expr"], at):
                self.failures.append(f"dashboard panel {e['title']!r} ({e['ref']}): no series")
        for e in self.exprs("alerts"):
            as_bool = re.sub(r"(==|!=|>=|<=|>|<)(?!\s*bool)(?=\s*[-0-9.])", r"\1 bool", e["expr"])
            if not self.query(as_bool, at):
                self.failures.append(f"alert {e['title']} ({e['ref']}): no series for {as_bool!r}")
        log("every dashboard and alert expression queried")

    def check_metrics_lint(self):
        for name, port in (("taskringd", self.metrics_port), ("taskring http", self.http_port)):
            text = http_get(f"http://127.0.0.1:{port}/metrics")
            r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               text=True)
            if r.returncode != 0:
                self.failures.append(f"promtool check metrics ({name}): {r.stdout}{r.stderr}")
            else:
                log(f"promtool check metrics ({name}): ok")

    # --- pictures -----------------------------------------------------------------------
    def render(self, png_dir, start, end, marks):
        if shutil.which("gnuplot") is None:
            self.failures.append("gnuplot not installed: cannot render panels")
            return
        os.makedirs(png_dir, exist_ok=True)
        legends = {}  # (panel title, refId) -> the dashboard's legendFormat
        for panel in json.load(open(f"{REPO}/dashboards/taskring.json"))["panels"]:
            for t in panel.get("targets", []):
                legends[(panel.get("title"), t.get("refId"))] = t.get("legendFormat", "")
        panels = {}
        for e in self.exprs("dashboard"):
            panels.setdefault(e["title"], []).append(e)
        for title, targets in panels.items():
            series = []
            for t in targets:
                for r in self.query_range(t["expr"], start, end):
                    labels = r["metric"]
                    # The queue name is the same on every line: leave it out of the key.
                    name = re.sub(r"\{\{\s*(\w+)\s*\}\}",
                                  lambda m: "" if m.group(1) == "queue" else labels.get(m.group(1), ""),
                                  legends.get((title, t["ref"]), "")).strip() or "value"
                    pts = [(float(ts) - start, float(v)) for ts, v in r["values"]
                           if v not in ("NaN", "+Inf", "-Inf")]
                    if pts:
                        series.append((name.replace('"', "'"), pts))
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            self.plot(f"{png_dir}/{slug}.png", title, series, marks, end - start)
        log(f"rendered {len(panels)} panels to {png_dir}")

    def plot(self, path, title, series, marks, duration):
        data = os.path.join(self.tmp, "plot.dat")
        with open(data, "w") as f:
            for name, pts in series:
                f.write(f'"{name}"\n' + "".join(f"{x:.1f} {y:.9g}\n" for x, y in pts) + "\n\n")
        script = [
            "set terminal pngcairo size 640,260 font 'DejaVu Sans,9'",
            f"set output '{path}'", f"set title \"{title}\"", "set key outside right top",
            "set xlabel 'seconds into the test run'", "set grid", "set yrange [0:*]",
            f"set xrange [0:{duration:.0f}]", "set termoption noenhanced",  # '_' stays '_'
        ]
        for x, label in marks:
            script.append(f"set arrow from {x},graph 0 to {x},graph 1 nohead dt 2 lc rgb 'red'")
            script.append(f"set label \"{label}\" at {x},graph 0.95 left offset 0.3,0 font ',8'")
        if series:
            plots = [f"'{data}' index {i} using 1:2 with lines lw 2 title columnheader(1)"
                     for i in range(len(series))]
            script.append("plot " + ", ".join(plots))
        else:
            script.append("set label 'no data' at graph 0.45,0.5")
            script.append("plot NaN notitle")
        subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--png-dir", help="where to render panel PNGs (default: the temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"FAIL: {tool} not found (tools/setup.sh installs Debian's prometheus)")
    run = Run(args)
    try:
        run.start_daemon()
        run.start_gateway()
        run.start_prometheus()
        t0 = time.time()
        workers = run.start_workers(2)
        poster = threading.Thread(target=run.post_over_http, args=(5,))
        poster.start()
        run.produce(20, 60, "healthy")  # below what two exec workers drain
        t_incident = time.time()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        log("workers stopped; filling the queue")
        counts = run.produce(15, 60, "incident")
        if counts.get("busy", 0) == 0:
            run.failures.append("the full queue never answered busy")
        run.wait_firing({"TaskringNoWorkers", "TaskringRejecting", "TaskringQueueNearCapacity",
                         "TaskringDeadLettersGrowing"})
        run.http_stop.set()
        poster.join()
        log(f"HTTP POSTs by status: {run.http_codes}")
        if run.http_codes.get(202, 0) == 0 or run.http_codes.get(503, 0) == 0:
            run.failures.append(f"expected 202s and then 503s over HTTP, got {run.http_codes}")
        t_check = time.time()
        run.check_every_expression(t_check)
        run.check_metrics_lint()
        t_kill = time.time()
        run.daemon.send_signal(signal.SIGKILL)
        run.daemon.wait()
        log("daemon SIGKILLed")
        run.wait_firing({"TaskringDown"})
        t_end = time.time()
        marks = [(t_incident - t0, "workers stopped"), (t_kill - t0, "daemon killed")]
        run.render(args.png_dir or os.path.join(run.tmp, "png"), t0, t_end, marks)
    finally:
        if hasattr(run, "http_stop"):
            run.http_stop.set()  # the POST thread ends within a second
        run.stop_all()
        # A SIGKILLed daemon leaves its segment behind (by design: the next one replaces it).
        for leftover in (f"/dev/shm/taskring.{run.queue}", f"/dev/shm/taskring.{run.queue}~lock"):
            if os.path.exists(leftover):
                os.remove(leftover)
        if not args.keep:
            shutil.rmtree(run.tmp, ignore_errors=True)
        else:
            log(f"kept {run.tmp}")
    if run.failures:
        for f in run.failures:
            print(f"FAIL: {f}")
        return 1
    print("prometheus live test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
