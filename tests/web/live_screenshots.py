#!/usr/bin/python3
"""Screenshots of the web page during a real run, for docs/operations.md.

Starts taskringd (fsync, the default) and `taskring http`, then for --seconds runs a producer
(about --rate jobs/s of two types, some delayed, some failing) and two workers that report
progress, sleep 20–150 ms per job and fail the "flaky" ones (one retry, then dead). Then it saves
the overview, the queue's page, a running job's page and the dead letters to --out.

    tests/web/live_screenshots.py [--seconds 90] [--rate 60] [--out docs/img/web]

Needs a built build/ (or TASKRING_BIN), the Python package (PYTHONPATH=python,
TASKRING_LIBRARY) and chromium (tools/setup.sh).
"""

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest  # noqa: E402  (this directory's fixtures, used outside pytest)
import taskring  # noqa: E402


def produce(queue: str, rate: float, stop: threading.Event):
    with taskring.Producer(queue) as p:
        n = 0
        while not stop.is_set():
            n += 1
            kind = "report" if n % 3 else "email"
            flaky = n % 17 == 0
            try:
                p.enqueue(b"%s #%d%s" % (kind.encode(), n, b" flaky" if flaky else b""),
                          type=kind, max_attempts=2, delay=30 if n % 50 == 0 else None)
            except taskring.Busy as e:
                time.sleep(e.retry_after)
            time.sleep(random.expovariate(rate))


def work(queue: str, stop: threading.Event):
    with taskring.Worker(queue) as w:
        while not stop.is_set():
            job = w.take(timeout=0.2)
            if job is None:
                continue
            for step in (25, 50, 75):
                job.progress(step, f"step {step // 25} of 4")
                time.sleep(random.uniform(0.005, 0.04))
            if job.payload.endswith(b"flaky"):
                w.fail(job, "TimeoutError: upstream did not answer within 30 s")
            else:
                w.complete(job, b"result of " + job.payload)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--rate", type=float, default=60, help="jobs/s the producer aims at")
    ap.add_argument("--out", default=str(conftest.ROOT / "docs" / "img" / "web"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="taskring-web-") as tmp:
        daemon = conftest.Daemon(Path(tmp), "--capacity", "4096").start()
        gateway = conftest.Gateway(daemon.queue)
        stop = threading.Event()
        threads = [threading.Thread(target=produce, args=(daemon.queue, args.rate, stop))]
        threads += [threading.Thread(target=work, args=(daemon.queue, stop)) for _ in range(2)]
        browser = None
        try:
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            browser = conftest.start_browser()
            q = daemon.queue
            browser.get(gateway.url + "/")
            time.sleep(2.5)  # one refresh of the live numbers
            conftest.save_full_page(browser, out / "overview.png", width=1600)
            browser.get(f"{gateway.url}/queues/{q}")
            time.sleep(2.5)
            conftest.save_full_page(browser, out / "queue.png")
            links = browser.find_elements("css selector", "#running a")
            if links:
                browser.get(links[0].get_attribute("href"))
                conftest.save_full_page(browser, out / "job.png")
            browser.get(f"{gateway.url}/queues/{q}/dead")
            browser.save_screenshot(str(out / "dead-letters.png"))  # the first screenful
            print(f"screenshots in {out}")
        finally:
            stop.set()
            for t in threads:
                t.join()
            if browser is not None:
                browser.quit()
            gateway.stop()
            daemon.stop()


if __name__ == "__main__":
    main()
