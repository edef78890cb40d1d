#!/usr/bin/python3
"""Python producers and workers: taskring (the Python package) against redis-py on a local
Redis, in the same run (issue 15). Each row is an A/B pair run back to back, repeated:

  none, one at a time:   Producer.enqueue            vs  LPUSH           (appendfsync no)
  fsync, batches of 64:  Producer.enqueue_many(64)   vs  pipeline of 64  (appendfsync always)

Each side has a Python worker process draining the queue while the producer runs (taskring:
Worker.take_many + complete_many; Redis: RPOP with a count, BRPOP when empty), so the queue stays
short, as in use. Throughput is what the producer process got accepted per second; the worker
must have drained it all by the end (checked). Prints a Markdown table: medians over rounds,
and the median of the per-pair ratios.

    bench/python/bench_vs_redis.py [--duration S] [--rounds N] [--build DIR] [--contention N]

--contention N (or "cores") runs N busy-loop processes at normal priority beside both sides,
as other work on a real host does.

Starts taskringd and redis-server itself (127.0.0.1, free ports, temp dirs) and stops them
by PID. Needs python3-redis and redis-server (tools/setup.sh) and a built build/ (the
shared library and taskringd).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"x" * 64


# ---- the producer and worker bodies, run in their own processes ----

def taskring_producer(queue, duration, batch):
    import taskring

    p = taskring.Producer(queue)
    n = busy = 0
    payloads = [PAYLOAD] * batch
    end = time.monotonic() + duration
    start = time.monotonic()
    while time.monotonic() < end:
        try:
            if batch == 1:
                p.enqueue(PAYLOAD)
                n += 1
            else:
                n += len(p.enqueue_many(payloads))
        except taskring.Busy:
            busy += 1
        except taskring.BatchError as e:
            n += sum(i is not None for i in e.ids)
            busy += 1
    return {"jobs": n, "seconds": time.monotonic() - start, "busy": busy}


def taskring_worker(queue, stop_file):
    import taskring

    w = taskring.Worker(queue)
    done = 0
    while True:
        jobs = w.take_many(64, timeout=0.2)
        w.complete_many(jobs)
        done += len(jobs)
        if not jobs and os.path.exists(stop_file):
            return {"done": done}


def redis_producer(port, duration, batch):
    import redis

    r = redis.Redis(host="127.0.0.1", port=port)
    n = 0
    end = time.monotonic() + duration
    start = time.monotonic()
    while time.monotonic() < end:
        if batch == 1:
            r.lpush("jobs", PAYLOAD)
            n += 1
        else:
            pipe = r.pipeline(transaction=False)
            for _ in range(batch):
                pipe.lpush("jobs", PAYLOAD)
            pipe.execute()
            n += batch
    return {"jobs": n, "seconds": time.monotonic() - start, "busy": 0}


def redis_worker(port, stop_file):
    import redis

    r = redis.Redis(host="127.0.0.1", port=port)
    done = 0
    while True:
        got = r.rpop("jobs", 64)
        if got:
            done += len(got)
            continue
        if r.brpop("jobs", timeout=0.2):
            done += 1
        elif os.path.exists(stop_file):
            return {"done": done}


ROLES = {
    "taskring_producer": taskring_producer,
    "taskring_worker": taskring_worker,
    "redis_producer": redis_producer,
    "redis_worker": redis_worker,
}


# ---- the harness ----

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child(role, *args, env):
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *map(str, args)],
        stdout=subprocess.PIPE, env=env, text=True,
    )


def run_pair_side(kind, target, duration, batch, env, work):
    """One run: a worker and a producer process; returns jobs/s accepted."""
    stop_file = os.path.join(work, f"stop-{kind}-{time.monotonic_ns()}")
    worker = child(f"{kind}_worker", target, stop_file, env=env)
    time.sleep(0.3)  # attached before the load starts
    producer = child(f"{kind}_producer", target, duration, batch, env=env)
    out = json.loads(producer.communicate(timeout=duration + 120)[0])
    Path(stop_file).touch()
    drained = json.loads(worker.communicate(timeout=120)[0])
    if drained["done"] < out["jobs"]:
        raise RuntimeError(f"{kind}: worker drained {drained['done']} of {out['jobs']} jobs")
    return out["jobs"] / out["seconds"]


def start_taskringd(build, durability, work):
    queue = f"pybench-{durability}-{os.getpid()}"
    r, w = os.pipe()
    proc = subprocess.Popen(
        [str(build / "taskringd"), "--queue", queue, "--dir", os.path.join(work, queue),
         "--durability", durability, "--no-metrics", "--capacity", "65536",
         "--ready-fd", str(w)],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, queue + ".log"), "wb"),
        pass_fds=(w,),
    )
    os.close(w)
    with os.fdopen(r) as ready:
        if not ready.read().startswith("ready"):
            raise RuntimeError(f"taskringd ({durability}) did not start")
    return proc, queue


def start_redis(fsync, work):
    port = free_port()
    d = os.path.join(work, f"redis-{fsync}")
    os.makedirs(d)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
         "--appendonly", "yes", "--appendfsync", fsync, "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--role":
        role, args = sys.argv[2], sys.argv[3:]
        conv = [int(a) if a.isdigit() else (float(a) if a.replace(".", "", 1).isdigit() else a)
                for a in args]
        print(json.dumps(ROLES[role](*conv)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per run (3)")
    ap.add_argument("--rounds", type=int, default=3, help="A/B rounds per row (3)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory (build/)")
    ap.add_argument("--contention", default="0",
                    help="busy-loop processes beside the runs: a number or 'cores' (0)")
    args = ap.parse_args()
    spinners = os.cpu_count() if args.contention == "cores" else int(args.contention)
    build = Path(args.build)
    lib = build / "libtaskring.so.0"
    env = dict(os.environ, TASKRING_LIBRARY=str(lib),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "python"),
                                                        os.environ.get("PYTHONPATH")])))
    rows = [
        ("`none`, one at a time", "none", "no", 1),
        ("`fsync`, batches of 64", "fsync", "always", 64),
    ]
    with tempfile.TemporaryDirectory(prefix="pybench-") as work:
        procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(spinners)]
        try:
            results = []
            for label, durability, appendfsync, batch in rows:
                d, queue = start_taskringd(build, durability, work)
                rd, port = start_redis(appendfsync, work)
                procs += [d, rd]
                t, r = [], []
                for i in range(args.rounds):
                    t.append(run_pair_side("taskring", queue, args.duration, batch, env, work))
                    r.append(run_pair_side("redis", port, args.duration, batch, env, work))
                    print(f"# {label} round {i + 1}: taskring {t[-1]:,.0f}/s, redis-py "
                          f"{r[-1]:,.0f}/s, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
                ratios = [a / b for a, b in zip(t, r)]
                results.append((label, appendfsync, t, r, ratios))
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
    load = f", {spinners} busy-loop process(es) beside" if spinners else ", quiet"
    print(f"\n{args.rounds} rounds of {args.duration:g} s{load}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| workload | Redis appendfsync | taskring jobs/s (median, range) | redis-py jobs/s | taskring ÷ redis-py (median of pairs, range) |")
    print("|---|---|---:|---:|---:|")
    for label, appendfsync, t, r, ratios in results:
        print(f"| {label} | {appendfsync} | {statistics.median(t):,.0f} ({min(t):,.0f}–{max(t):,.0f}) "
              f"| {statistics.median(r):,.0f} ({min(r):,.0f}–{max(r):,.0f}) "
              f"| **{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) |")


if __name__ == "__main__":
    main()
