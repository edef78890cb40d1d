#!/usr/bin/python3
"""Print every PromQL expression of the taskring dashboard and alert rules, one JSON object per line.

    /usr/bin/python3 tests/observability/dashboard_exprs.py [WINDOW] [QUEUE_REGEX]
        [--source all|dashboard|alerts] [--dashboard PATH]... [--alerts PATH] [--group NAME]...

--dashboard (repeatable) defaults to dashboards/taskring.json; --group (repeatable) keeps only
those rule groups of the alerts file (default: every group). The scale-out dashboard and the
`taskring-scale-out` group need a relay and a bridge, so a check against a lone taskringd asks
for `--group taskring` and the default dashboard.

WINDOW (default 1m) replaces Grafana's $__rate_interval / $__interval; QUEUE_REGEX (default .+)
replaces $queue, written as a raw RE2 regex (it is escaped for the PromQL string literal here).
Alert expressions carry no $queue and are printed as written.

Each line: {"source": "dashboard"|"alerts", "title": <panel title | alert name>, "expr": <PromQL>,
            "ref": <refId | severity>} plus, for alerts, "for" and "severity".

Needs PyYAML for alerts.yml (Debian: python3-yaml, for /usr/bin/python3). Exit status 1 if a file
cannot be read or a Grafana variable would be left unsubstituted in an expression.
"""

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
LEFTOVER = re.compile(r"\$\{?[A-Za-z_]")


def substitute(expr, window, queue):
    for name in ("__rate_interval", "__interval"):
        expr = expr.replace("${%s}" % name, window).replace("$" + name, window)
    literal = queue.replace("\\", "\\\\").replace('"', '\\"')
    expr = re.sub(r"\$\{queue(:[a-z]+)?\}", lambda _m: literal, expr)
    expr = re.sub(r"\$queue\b", lambda _m: literal, expr)
    return expr


def iter_panels(panels):
    for panel in panels or []:
        yield panel
        # Collapsed rows keep their panels inside the row.
        yield from iter_panels(panel.get("panels"))


def dashboard_exprs(path, window, queue):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    for panel in iter_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if not expr:
                continue
            yield {"source": "dashboard", "title": panel.get("title", ""),
                   "expr": substitute(expr, window, queue), "ref": target.get("refId", "")}


def alert_exprs(path, groups=None):
    try:
        import yaml
    except ImportError:
        sys.exit("dashboard_exprs.py: PyYAML missing; run with /usr/bin/python3 "
                 "(Debian package python3-yaml)")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for group in doc.get("groups") or []:
        if groups and group.get("name") not in groups:
            continue
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            severity = (rule.get("labels") or {}).get("severity", "")
            item = {"source": "alerts", "title": name, "expr": rule["expr"].strip(),
                    "ref": severity}
            if "alert" in rule:
                item["for"] = rule.get("for", "0s")
                item["severity"] = severity
            yield item


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("window", nargs="?", default="1m", help="replaces $__rate_interval (default 1m)")
    ap.add_argument("queue", nargs="?", default=".+", help="regex that replaces $queue (default .+)")
    ap.add_argument("--source", choices=("all", "dashboard", "alerts"), default="all")
    ap.add_argument("--dashboard", action="append",
                    help="a dashboard JSON file, repeatable (default dashboards/taskring.json)")
    ap.add_argument("--alerts", default=os.path.join(ROOT, "dashboards", "alerts.yml"))
    ap.add_argument("--group", action="append", help="only this rule group, repeatable")
    args = ap.parse_args()
    if not DURATION.match(args.window):
        ap.error("window must be a Prometheus duration such as 1m, 15s, 1m30s: %r" % args.window)

    items = []
    if args.source in ("all", "dashboard"):
        for path in args.dashboard or [os.path.join(ROOT, "dashboards", "taskring.json")]:
            items += dashboard_exprs(path, args.window, args.queue)
    if args.source in ("all", "alerts"):
        items += alert_exprs(args.alerts, args.group)

    status = 0
    for item in items:
        if LEFTOVER.search(item["expr"]):
            print("dashboard_exprs.py: unsubstituted variable in %s %r: %s"
                  % (item["source"], item["title"], item["expr"]), file=sys.stderr)
            status = 1
        print(json.dumps(item, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
