#!/usr/bin/python3
"""Markdown tables from `taskring bench --json` lines: one table per file (scenario), each row
a target, with throughput, latency percentiles, CPU per job and the ratio to taskring (the
taskring row of the same durability class: fsync for durable peers, none for the others)."""
import json
import os
import sys

DURABLE = ("redis always", "beanstalkd fsync")


def reference(rows, label):
    want = "taskring fsync" if label in DURABLE or label == "taskring fsync" else "taskring none"
    if label.startswith("redis everysec") or label == "taskring interval":
        want = "taskring interval"
    return next((r for r in rows if r.get("label") == want and "error" not in r), None)


def median_runs(runs):
    """One row per label: its median run by throughput, with the spread of all its runs."""
    by_label = {}
    for r in runs:
        by_label.setdefault(r.get("label"), []).append(r)
    rows = []
    for label, group in by_label.items():
        ok = sorted((r for r in group if "error" not in r), key=lambda r: r["jobs_per_second"])
        if not ok:
            rows.append(group[0])
            continue
        med = dict(ok[len(ok) // 2])
        med["spread"] = (ok[0]["jobs_per_second"], ok[-1]["jobs_per_second"], len(ok))
        rows.append(med)
    return rows


def table(path):
    rows = median_runs([json.loads(line) for line in open(path) if line.strip()])
    name = os.path.splitext(os.path.basename(path))[0]
    first = next((r for r in rows if "error" not in r), {})
    out = [f"### {name}: {first.get('producers', '?')} producer(s), {first.get('workers', '?')} "
           f"worker(s), {first.get('payload_bytes', '?')} B, batch {first.get('batch', '?')}",
           "",
           "| target | jobs/s (median) | min–max of runs | accepted/s | enqueue p50 µs | "
           "enqueue p99 µs | handoff p50 µs | e2e p50 µs | e2e p99 µs | CPU µs/job | "
           "taskring ÷ target |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['label']} | failed: {r['error'][:60]} | | | | | | | | | |")
            continue
        lat = r["latency_us"]
        ref = reference(rows, r["label"])
        ratio = (f"{ref['jobs_per_second'] / r['jobs_per_second']:.2f}× ({ref['label']})"
                 if ref and r["jobs_per_second"] > 0 and ref is not r else "")
        lo, hi, n = r["spread"]
        out.append(f"| {r['label']} | {r['jobs_per_second']:,.0f} | {lo:,.0f}–{hi:,.0f} ({n}) | "
                   f"{r.get('accepted_per_second', 0):,.0f} | {lat['enqueue']['p50']:.1f} | "
                   f"{lat['enqueue']['p99']:.1f} | {lat['handoff']['p50']:.1f} | "
                   f"{lat['end_to_end']['p50']:.1f} | {lat['end_to_end']['p99']:.1f} | "
                   f"{r['cpu_us_per_job']:.2f} | {ratio} |")
    return "\n".join(out) + "\n"


def main():
    print("\n".join(table(p) for p in sys.argv[1:]))


if __name__ == "__main__":
    main()
