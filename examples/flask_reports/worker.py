"""The slow half of the reports service: builds each report, reporting progress as it goes.

    TASKRING_QUEUE=reports python3 worker.py [--steps N] [--step-seconds S]
"""

import argparse
import os
import signal
import time

import taskring


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    args = parser.parse_args()
    worker = taskring.Worker(os.environ.get("TASKRING_QUEUE", "reports"), types=["report"])
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())

    def build(job: taskring.Job) -> str:
        spec = job.payload.decode("utf-8", "replace")
        for step in range(args.steps):
            if job.cancel_requested:
                raise RuntimeError("cancelled")
            job.progress(100 * step // args.steps, f"step {step + 1} of {args.steps}")
            time.sleep(args.step_seconds)  # the slow I/O the web request must not wait for
        return f"report for {spec!r}: {args.steps} sections\n"

    print("worker ready", flush=True)
    worker.run(build)
    worker.close()


if __name__ == "__main__":
    main()
