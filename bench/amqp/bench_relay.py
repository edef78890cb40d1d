#!/usr/bin/python3
"""Jobs/s through taskring relay -> RabbitMQ -> taskring bridge, next to the broker's own
ceiling on the same broker, in the same run (issue 17). Each round runs both, back to back
(A B, then B A in the next round: ABBA), each on fresh queues:

  A  ceiling   build/bench/taskring-amqp-ceiling: a plain rabbitmq-c producer publishing
               persistent messages with confirms (1000 in flight) and a consumer acking them
               (prefetch 1000) on a quorum queue; no taskring code.
  B  pipeline  producer process -> taskringd `source` (fsync) -> taskring relay (confirms,
               --in-flight 1000) -> the same kind of quorum queue -> taskring bridge
               (--prefetch 1000, acks after the durable enqueue) -> taskringd `sink` (fsync)
               -> consumer process (Worker.take_many(256) + complete_many).

Every payload starts with its send time (CLOCK_REALTIME ns, as the ceiling's do), so both
sides measure end-to-end latency per message; B's next 8 bytes are a sequence number, and
B fails loudly unless every job arrived exactly once. Throughput = messages / (first send to
last receipt). The ceiling's latency is bounded by its 1000-message confirm window, so B's
producer keeps at most --window jobs (default 1000) between enqueue and take: the latencies
compare like with like. B's jobs/s over A's msgs/s is the figure the issue asks for (>= 0.8x).

    bench/amqp/bench_relay.py [--messages M] [--rounds N] [--size S] [--contention N|cores]
                              [--in-flight N] [--prefetch N] [--build DIR]

Starts one private rabbitmq-server (tests/amqp/broker.py), and per B round two taskringd
daemons, the relay and the bridge, all in temp dirs, and stops every one by PID at the end,
on an error or on Ctrl-C. Needs rabbitmq-server, python3-pika and a built build/ (taskringd,
taskring, libtaskring.so.0, bench/taskring-amqp-ceiling).
"""

import argparse
import ctypes
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "amqp"))
from broker import Broker, broker_available  # noqa: E402

HEADER = struct.Struct("<qQ")  # send time (CLOCK_REALTIME ns, as the ceiling), sequence number
ENQUEUE_BATCH = 64  # jobs per enqueue_many: one fsync wait per batch, as a busy producer would
TAKE_BATCH = 256
STALL_SECONDS = 60.0  # no job reaching the sink for this long: the pipeline is broken
STOP_GRACE = 15.0


# ---- B's producer and consumer, in their own processes (fork: they share two counters) ----

def produce(queue, messages, size, window, taken, started_ns, report):
    """Enqueues `messages` jobs in batches, keeping at most `window` between enqueue and
    take (`taken` is the consumer's count). Reports BUSY answers and window waits."""
    import taskring

    padding = b"x" * max(0, size - HEADER.size)
    busy = waits = 0
    sent = 0
    with taskring.Producer(queue) as p:
        while sent < messages:
            room = window - (sent - taken.value)
            if room <= 0:
                waits += 1
                time.sleep(0.0002)
                continue
            count = min(ENQUEUE_BATCH, room, messages - sent)
            now = time.time_ns()
            if sent == 0:
                started_ns.value = now
            batch = [HEADER.pack(now, sent + i) + padding for i in range(count)]
            sent += enqueue_all(p, batch)
            busy += count - len(batch)
    report.send({"busy_retries": busy, "window_waits": waits})


def enqueue_all(producer, batch):
    """Enqueues the whole batch, retrying what BUSY (or a partial BatchError) refused; returns
    len(batch). Retried jobs keep their first send time: the wait is part of their latency."""
    import taskring

    pending = list(batch)
    while pending:
        try:
            producer.enqueue_many(pending)
            pending = []
        except taskring.BatchError as e:
            pending = [b for b, job_id in zip(pending, e.ids) if job_id is None]
            time.sleep(0.001)
        except taskring.Busy as e:
            time.sleep(min(e.retry_after or 0.001, 0.01))
    return len(batch)


def consume(queue, messages, taken, report):
    """Takes jobs until every sequence number 0..messages-1 arrived; reports latencies and
    the last receipt time. Lingers a moment afterwards to catch late duplicates."""
    import taskring

    seen = bytearray(messages)
    latencies_ns = []
    distinct = duplicates = strangers = 0
    last_ns = 0
    last_progress = time.monotonic()
    with taskring.Worker(queue) as w:
        while distinct < messages:
            jobs = w.take_many(TAKE_BATCH, timeout=0.2)
            now = time.time_ns()
            for job in jobs:
                sent_ns, seq = HEADER.unpack_from(job.payload)
                if seq >= messages:
                    strangers += 1
                elif seen[seq]:
                    duplicates += 1
                else:
                    seen[seq] = 1
                    distinct += 1
                    latencies_ns.append(now - sent_ns)
            if jobs:
                w.complete_many(jobs)
                taken.value = distinct
                last_ns = now
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                break
        linger_until = time.monotonic() + 0.5
        while time.monotonic() < linger_until:
            late = w.take_many(TAKE_BATCH, timeout=0.1)
            duplicates += len(late)
            w.complete_many(late)
    report.send({"distinct": distinct, "duplicates": duplicates, "strangers": strangers,
                 "last_ns": last_ns, **percentiles_us(latencies_ns)})


def percentiles_us(latencies_ns):
    if not latencies_ns:
        return {"p50_us": 0.0, "p99_us": 0.0}
    latencies_ns.sort()
    pick = lambda p: latencies_ns[int(p * (len(latencies_ns) - 1))] / 1000  # noqa: E731
    return {"p50_us": pick(0.50), "p99_us": pick(0.99)}


# ---- processes we start, each stopped by PID ----

class Processes:
    """Everything this run started (besides the broker): stopped by PID, newest first."""

    def __init__(self):
        self.started = []

    def add(self, proc):
        self.started.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.started)):
            self.stop(proc)


class Daemon:
    """taskringd for one queue in its own dir, started with --ready-fd, stopped by PID."""

    def __init__(self, build, work, role, procs):
        self.queue = f"amqpbench-{role}-{uuid.uuid4().hex[:8]}"
        self.procs = procs
        r, w = os.pipe()
        with open(os.path.join(work, self.queue + ".log"), "ab") as log:
            self.proc = procs.add(subprocess.Popen(
                [str(build / "taskringd"), "--queue", self.queue,
                 "--dir", os.path.join(work, self.queue), "--no-metrics", "--ready-fd", str(w)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(w,)))
        os.close(w)
        with os.fdopen(r, "rb") as ready:
            if not ready.read().startswith(b"ready"):
                self.stop()
                raise RuntimeError(f"taskringd {self.queue} did not start (see its log)")

    def stop(self):
        self.procs.stop(self.proc)
        for leftover in ("", "~lock"):  # only there if the daemon died without cleaning up
            Path(f"/dev/shm/taskring.{self.queue}{leftover}").unlink(missing_ok=True)


class Link:
    """`taskring relay` or `taskring bridge`, with its metrics on a free port."""

    def __init__(self, build, work, kind, args, procs):
        self.kind = kind
        log = open(os.path.join(work, f"{kind}-{uuid.uuid4().hex[:8]}.log"), "wb")
        self.proc = procs.add(subprocess.Popen(
            [str(build / "taskring"), kind, *args, "--metrics-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True))
        log.close()
        line = self.proc.stdout.readline()
        m = re.match(r"metrics on (http://\S+)", line)
        if not m:
            procs.stop(self.proc)
            raise RuntimeError(f"taskring {kind} did not start: {line!r} (see {log.name})")
        self.metrics_url = m.group(1)
        self.log_path = log.name

    def metrics(self):
        """Counter and gauge values by name (labels dropped: one link per process)."""
        text = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name.split("{", 1)[0]] = float(value)
        return values


# ---- one side of a round each ----

def run_ceiling(build, broker, args):
    """A: the broker's own ceiling on a fresh quorum queue."""
    queue = f"ceiling-{uuid.uuid4().hex[:12]}"
    try:
        out = subprocess.run(
            [str(build / "bench" / "taskring-amqp-ceiling"), "--amqp", broker.url,
             "--queue", queue, "--messages", str(args.messages), "--size", str(args.size),
             "--in-flight", str(args.in_flight), "--prefetch", str(args.prefetch)],
            capture_output=True, text=True, timeout=600)
    finally:
        broker.delete_queue(queue)
    if out.returncode != 0:
        raise RuntimeError(f"taskring-amqp-ceiling: exit {out.returncode}: {out.stderr}")
    result = json.loads(out.stdout)
    if result["messages"] != args.messages or result["nacked"]:
        raise RuntimeError(f"ceiling lost messages: {result}")
    return {"msgs_per_s": result["msgs_per_s"], "p50_us": result["p50_us"],
            "p99_us": result["p99_us"]}


def run_pipeline(build, broker, args, work, procs):
    """B: producer -> source -> relay -> RabbitMQ -> bridge -> sink -> consumer, all fresh."""
    amqp_queue = f"pipeline-{uuid.uuid4().hex[:12]}"
    source = Daemon(build, work, "source", procs)
    sink = Daemon(build, work, "sink", procs)
    links = []
    try:
        links.append(Link(build, work, "relay", [
            "--queue", source.queue, "--amqp", broker.url, "--to", amqp_queue,
            "--in-flight", str(args.in_flight)], procs))
        links.append(Link(build, work, "bridge", [
            "--amqp", broker.url, "--from", amqp_queue, "--queue", sink.queue,
            "--prefetch", str(args.prefetch)], procs))
        result = drive_pipeline(source.queue, sink.queue, args)
        relay_m, bridge_m = links[0].metrics(), links[1].metrics()
    finally:
        for link in links:
            procs.stop(link.proc)
        source.stop()
        sink.stop()
        broker.delete_queue(amqp_queue)
    check_exactly_once(result, relay_m, bridge_m, args.messages)
    result.update({
        "relay_released": relay_m.get("taskring_relay_released_total", 0),
        "bridge_busy": bridge_m.get("taskring_bridge_busy_total", 0),
        "bridge_duplicates": bridge_m.get("taskring_bridge_duplicates_total", 0),
    })
    return result


def drive_pipeline(source_queue, sink_queue, args):
    """Runs the producer and consumer processes; returns throughput and latency."""
    taken = multiprocessing.Value(ctypes.c_longlong, 0, lock=False)  # one writer
    started_ns = multiprocessing.Value(ctypes.c_longlong, 0, lock=False)
    (prod_rx, prod_tx), (cons_rx, cons_tx) = multiprocessing.Pipe(False), multiprocessing.Pipe(False)
    consumer = multiprocessing.Process(
        target=consume, args=(sink_queue, args.messages, taken, cons_tx))
    producer = multiprocessing.Process(
        target=produce,
        args=(source_queue, args.messages, args.size, args.window, taken, started_ns, prod_tx))
    consumer.start()
    time.sleep(0.3)  # attached before the first job leaves
    producer.start()
    try:
        consumed = receive(cons_rx, consumer, "consumer")
        produced = receive(prod_rx, producer, "producer")
    finally:
        for p in (producer, consumer):
            p.join(10)  # a child that reported may still be exiting
            if p.is_alive():
                p.terminate()
                p.join()
    seconds = (consumed["last_ns"] - started_ns.value) / 1e9
    return {"msgs_per_s": consumed["distinct"] / seconds if seconds > 0 else 0.0,
            "seconds": seconds, **consumed, **produced}


def receive(conn, proc, what):
    """The child's report; raises if it died without one."""
    while not conn.poll(1.0):
        if not proc.is_alive():
            raise RuntimeError(f"the {what} process exited with {proc.exitcode} and no report")
    return conn.recv()


def check_exactly_once(result, relay_m, bridge_m, messages):
    """A benchmark that loses or doubles jobs is no benchmark: fail loudly."""
    problems = []
    if result["distinct"] != messages:
        problems.append(f"{messages - result['distinct']} of {messages} jobs never reached "
                        f"the sink")
    if result["duplicates"] or result["strangers"]:
        problems.append(f"{result['duplicates']} duplicate and {result['strangers']} unknown "
                        f"jobs reached the sink")
    if relay_m.get("taskring_relay_confirmed_total") != messages:
        problems.append(f"relay confirmed {relay_m.get('taskring_relay_confirmed_total')}")
    if bridge_m.get("taskring_bridge_accepted_total") != messages:
        problems.append(f"bridge accepted {bridge_m.get('taskring_bridge_accepted_total')}")
    if problems:
        raise RuntimeError("pipeline not exactly once: " + "; ".join(problems))


# ---- the run ----

def start_spinners(count, procs):
    """Busy loops at normal priority beside both sides, as other work on a real host."""
    for _ in range(count):
        procs.add(subprocess.Popen(["sh", "-c", "while :; do :; done"]))


def run_rounds(build, broker, args, work, procs, loads):
    ceiling, pipeline = [], []
    run_ceiling(build, broker, argparse.Namespace(**{**vars(args), "messages": 5000}))  # warm-up
    for i in range(args.rounds):
        order = ("A", "B") if i % 2 == 0 else ("B", "A")  # ABBA: drift falls on both sides
        for side in order:
            if side == "A":
                ceiling.append(run_ceiling(build, broker, args))
            else:
                pipeline.append(run_pipeline(build, broker, args, work, procs))
        a, b = ceiling[-1], pipeline[-1]
        loads.append(os.getloadavg()[0])
        print(f"# round {i + 1} ({''.join(order)}): ceiling {a['msgs_per_s']:,.0f} msg/s "
              f"p50 {a['p50_us']:,.0f} us p99 {a['p99_us']:,.0f} us | pipeline "
              f"{b['msgs_per_s']:,.0f} jobs/s p50 {b['p50_us']:,.0f} us p99 {b['p99_us']:,.0f} us"
              f" | B/A {b['msgs_per_s'] / a['msgs_per_s']:.2f} | relay released "
              f"{b['relay_released']:.0f}, bridge busy {b['bridge_busy']:.0f}, producer window "
              f"waits {b['window_waits']}, busy retries {b['busy_retries']} | load "
              f"{loads[-1]:.2f}", flush=True)
    return ceiling, pipeline


def print_table(ceiling, pipeline, args, spinners, loads):
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    ratios = [b["msgs_per_s"] / a["msgs_per_s"] for a, b in zip(ceiling, pipeline)]
    a50, a99 = med(ceiling, "p50_us"), med(ceiling, "p99_us")
    b50, b99 = med(pipeline, "p50_us"), med(pipeline, "p99_us")
    same_window = (" (the ceiling's confirm window, so latencies compare)"
                   if args.window == args.in_flight else " (not the ceiling's window: latencies do not compare)")
    beside = f"{spinners} busy-loop process(es) beside" if spinners else "no busy loops beside"
    print(f"\n{args.rounds} rounds (ABBA) of {args.messages:,} messages of {args.size} B, "
          f"{beside}, load average {min(loads):.2f}-{max(loads):.2f} "
          f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
          f"Ceiling: --in-flight {args.in_flight} --prefetch {args.prefetch}; pipeline: "
          f"relay --in-flight {args.in_flight}, bridge --prefetch {args.prefetch}, fsync "
          f"daemons, producer keeps <= {args.window} jobs in the pipeline"
          f"{same_window}.\n")
    print("| | msgs/s (median, range) | p50 e2e | p99 e2e |")
    print("|---|---:|---:|---:|")
    for label, rows in (("A: RabbitMQ ceiling (rabbitmq-c, confirms + acks)", ceiling),
                        ("B: relay → RabbitMQ → bridge (taskring → taskring)", pipeline)):
        rates = [r["msgs_per_s"] for r in rows]
        print(f"| {label} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"
              f" | {med(rows, 'p50_us') / 1000:.1f} ms | {med(rows, 'p99_us') / 1000:.1f} ms |")
    print(f"| **B ÷ A** (median of pairs, range; target ≥ 0.8) | **{statistics.median(ratios):.2f}×**"
          f" ({min(ratios):.2f}–{max(ratios):.2f}) | | |")
    print(f"| added latency of the hop (B − A, medians) | | {(b50 - a50) / 1000:+.1f} ms "
          f"| {(b99 - a99) / 1000:+.1f} ms |")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=100000, help="messages per side per round")
    ap.add_argument("--rounds", type=int, default=5, help="A/B rounds (5)")
    ap.add_argument("--size", type=int, default=100, help="payload bytes (100; at least 16)")
    ap.add_argument("--contention", default="0",
                    help="busy-loop processes beside the runs: a number or 'cores' (0)")
    ap.add_argument("--in-flight", type=int, default=1000,
                    help="ceiling --in-flight and relay --in-flight (1000)")
    ap.add_argument("--prefetch", type=int, default=1000,
                    help="ceiling --prefetch and bridge --prefetch (1000)")
    ap.add_argument("--window", type=int, default=1000,
                    help="B: most jobs between enqueue and take (1000, the ceiling's window)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory (build/)")
    args = ap.parse_args()
    args.size = max(args.size, HEADER.size)
    args.spinners = os.cpu_count() if args.contention == "cores" else int(args.contention)
    return args


def use_build(build):
    """The children import the Python package against this build's library."""
    os.environ["TASKRING_LIBRARY"] = str(build / "libtaskring.so.0")
    sys.path.insert(0, str(ROOT / "python"))
    for needed in (build / "taskringd", build / "taskring", build / "libtaskring.so.0",
                   build / "bench" / "taskring-amqp-ceiling"):
        if not needed.exists():
            sys.exit(f"{needed} is missing: build it first (see bench/README.md)")


def main():
    args = parse_args()
    build = Path(args.build).resolve()
    use_build(build)
    ok, why = broker_available()
    if not ok:
        sys.exit(why)
    multiprocessing.set_start_method("fork")
    # Ctrl-C and SIGTERM unwind through the finally below, which stops everything by PID.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    procs = Processes()
    broker = Broker("amqpbench")
    work = tempfile.mkdtemp(prefix="amqpbench-")
    loads = [os.getloadavg()[0]]
    try:
        start_spinners(args.spinners, procs)
        broker.start()
        print(f"# broker up in {broker.start_seconds[-1]:.1f} s; load {loads[0]:.2f}", flush=True)
        ceiling, pipeline = run_rounds(build, broker, args, work, procs, loads)
    finally:
        procs.stop_all()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)
    print_table(ceiling, pipeline, args, args.spinners, loads)


if __name__ == "__main__":
    main()
