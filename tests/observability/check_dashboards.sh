#!/usr/bin/env bash
# Static checks of the monitoring files in dashboards/:
#   - promtool check rules / test rules on alerts.yml (+ a copy with `for:` rewritten to 1s),
#   - promtool check config on prometheus.yml,
#   - structure of taskring.json, taskring-scale-out.json, alerts.yml, alerts_test.yml and the
#     Grafana provisioning files,
#   - every dashboard and alert expression parses (promtool check rules on a generated rule file)
#     and names only metrics the exporters (taskringd, taskring http, relay, bridge) expose.
# Needs: promtool (Debian package prometheus), /usr/bin/python3 with PyYAML (python3-yaml).
# Usage: bash tests/observability/check_dashboards.sh   (from anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DASH="$ROOT/dashboards"
PY=/usr/bin/python3
PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"

fail() { echo "check_dashboards: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

[[ -x "$PROMTOOL" ]] || fail "promtool not found (apt-get install --no-install-recommends prometheus)"
[[ -x "$PY" ]] || fail "$PY not found (apt-get install python3)"
"$PY" -c 'import yaml' 2>/dev/null || fail "$PY has no PyYAML (apt-get install python3-yaml)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

step "promtool check rules dashboards/alerts.yml"
"$PROMTOOL" check rules "$DASH/alerts.yml"

step "promtool test rules dashboards/alerts_test.yml"
"$PROMTOOL" test rules "$DASH/alerts_test.yml"

step "promtool check config dashboards/prometheus.yml (with alerts.yml next to it)"
cp "$DASH/prometheus.yml" "$DASH/alerts.yml" "$TMP/"
"$PROMTOOL" check config "$TMP/prometheus.yml"

step "fast copy of alerts.yml (every 'for:' rewritten to 1s) still loads"
n_for="$(grep -cE '^[[:space:]]+for: [0-9]+(ms|s|m|h)[[:space:]]*$' "$DASH/alerts.yml" || true)"
n_alert="$(grep -cE '^[[:space:]]+- alert: ' "$DASH/alerts.yml" || true)"
[[ "$n_for" == "$n_alert" && "$n_alert" -gt 0 ]] ||
  fail "alerts.yml: expected one 'for: <duration>' line per alert ($n_alert alerts, $n_for for: lines)"
sed -E 's/^([[:space:]]+for:) [0-9]+(ms|s|m|h)[[:space:]]*$/\1 1s/' "$DASH/alerts.yml" >"$TMP/alerts_fast.yml"
"$PROMTOOL" check rules "$TMP/alerts_fast.yml" >/dev/null
if grep -qE '^[[:space:]]+for: [0-9]+(ms|m|h)' "$TMP/alerts_fast.yml"; then fail "for: rewrite missed a line"; fi

step "structure of taskring.json, taskring-scale-out.json, alerts.yml, alerts_test.yml, provisioning"
"$PY" - "$ROOT" <<'PY'
import json, os, re, sys
import yaml

root = sys.argv[1]
dash_dir = os.path.join(root, "dashboards")
errors = []
def err(msg): errors.append(msg)

METRICS = {
    # gauges
    "taskring_up", "taskring_queue_depth", "taskring_queue_capacity", "taskring_jobs_outstanding",
    "taskring_jobs_delayed", "taskring_jobs_running", "taskring_oldest_job_age_seconds",
    "taskring_workers", "taskring_producers", "taskring_wal_segments", "taskring_wal_disk_bytes",
    "taskring_dead_letters", "taskring_build_info", "taskring_queued_jobs", "taskring_paused",
    "taskring_jobs_waiting_undeclared_type", "taskring_outcome_store_bytes",
    "taskring_outcome_store_records", "taskring_outcome_store_max_bytes",
    # counters
    "taskring_jobs_accepted_total", "taskring_jobs_rejected_total", "taskring_jobs_completed_total",
    "taskring_jobs_failed_total", "taskring_jobs_retried_total", "taskring_jobs_dead_total",
    "taskring_jobs_redelivered_total", "taskring_stale_acks_total", "taskring_leases_expired_total",
    "taskring_wal_bytes_total", "taskring_wal_fsyncs_total", "taskring_dead_evicted_total",
    "taskring_dedup_hits_total", "taskring_dedup_evicted_total", "taskring_job_timeouts_total",
    "taskring_jobs_cancelled_total", "taskring_cancel_requests_total",
    "taskring_outcomes_stored_total", "taskring_outcomes_evicted_total",
    "taskring_outcomes_expired_total",
    # the HTTP gateway's (taskring http)
    "taskring_http_requests_total", "taskring_http_open_connections",
    "taskring_http_connections_refused_total",
    # taskring relay and taskring bridge (src/amqp/link_metrics.cc)
    "taskring_relay_connected", "taskring_relay_reconnects_total",
    "taskring_relay_connect_failures_total", "taskring_relay_published_total",
    "taskring_relay_confirmed_total", "taskring_relay_nacked_total", "taskring_relay_returned_total",
    "taskring_relay_released_total", "taskring_relay_in_flight",
    "taskring_bridge_connected", "taskring_bridge_reconnects_total",
    "taskring_bridge_connect_failures_total", "taskring_bridge_received_total",
    "taskring_bridge_accepted_total", "taskring_bridge_duplicates_total",
    "taskring_bridge_rejected_total", "taskring_bridge_busy_total", "taskring_bridge_held",
}
for h in ("taskring_job_wait_seconds", "taskring_job_run_seconds", "taskring_job_latency_seconds",
          "taskring_wal_fsync_seconds", "taskring_http_request_duration_seconds",
          "taskring_relay_confirm_seconds", "taskring_relay_lag_seconds",
          "taskring_bridge_lag_seconds"):
    METRICS |= {h + "_bucket", h + "_sum", h + "_count"}
METRIC_RE = re.compile(r"\btaskring_[a-zA-Z0-9_]*")
QUEUE_FILTER = 'queue=~"$queue"'
DS_REF = "${datasource}"

def balanced(expr):
    depth = {"(": 0, "[": 0, "{": 0}
    close = {")": "(", "]": "[", "}": "{"}
    in_str = False
    prev = ""
    for ch in expr:
        if in_str:
            if ch == '"' and prev != "\\":
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in depth:
            depth[ch] += 1
        elif ch in close:
            depth[close[ch]] -= 1
            if depth[close[ch]] < 0:
                return False
        prev = ch if prev != "\\" else ""
    return not in_str and all(v == 0 for v in depth.values())

def check_metrics(where, expr):
    for name in METRIC_RE.findall(expr):
        if name not in METRICS:
            err("%s: unknown metric %s" % (where, name))

# ---------------------------------------------------------------- dashboards
# file -> uid, title, the queue variable's query, rows it must have.
DASHBOARDS = {
    "taskring.json": ("taskring-overview", "taskring",
                      "label_values(taskring_queue_capacity, queue)",
                      ("Health", "Flow", "Latency", "Storage", "Job options", "Job outcomes")),
    # Queues from the links' own series: the Prometheus scraping a relay or a bridge need not
    # scrape the daemon too.
    "taskring-scale-out.json": ("taskring-scale-out", "taskring scale-out",
                                'label_values({__name__=~"taskring_(relay|bridge)_connected"}, queue)',
                                ("Relay", "Bridge")),
}

def all_panels(panels):
    for p in panels or []:
        yield p
        yield from all_panels(p.get("panels"))

def check_dashboard(name, uid, title, queue_query, want_rows):
    path = os.path.join(dash_dir, name)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("check_dashboards: FAIL: %s is not valid JSON: %s" % (path, e))
    def derr(msg): err("%s: %s" % (name, msg))

    if d.get("uid") != uid: derr("dashboard uid must be %r, is %r" % (uid, d.get("uid")))
    if d.get("title") != title: derr("dashboard title must be %r, is %r" % (title, d.get("title")))
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        derr("schemaVersion %r too old" % d.get("schemaVersion"))
    if d.get("id") is not None: derr("dashboard id must be null (Grafana assigns it)")

    variables = {v.get("name"): v for v in (d.get("templating") or {}).get("list") or []}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        derr("templating: need variable 'datasource' of type datasource, query prometheus")
    q = variables.get("queue")
    if not q:
        derr("templating: need variable 'queue'")
    else:
        qq = q.get("query")
        qtext = qq.get("query") if isinstance(qq, dict) else qq
        if qtext != queue_query:
            derr("queue variable query is %r, want %r" % (qtext, queue_query))
        if not (q.get("multi") and q.get("includeAll")): derr("queue variable must be multi + include all")
        if (q.get("datasource") or {}).get("uid") != DS_REF: derr("queue variable must use ${datasource}")

    panels = list(all_panels(d.get("panels")))
    if not panels: derr("dashboard has no panels")
    ids = [p.get("id") for p in panels]
    dups = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dups: derr("duplicate panel ids: %s" % dups)
    if any(not isinstance(i, int) for i in ids): derr("every panel needs an integer id")

    rows = [p.get("title") for p in panels if p.get("type") == "row"]
    for want in want_rows:
        if want not in rows: derr("missing row %r (rows: %s)" % (want, rows))

    occupied = {}
    for p in panels:
        t = p.get("title")
        where = "%s: panel %r (id %s)" % (name, t, p.get("id"))
        if not t: err("%s: no title" % where)
        gp = p.get("gridPos")
        if not isinstance(gp, dict) or not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")):
            err("%s: gridPos with integer h, w, x, y missing" % where)
        else:
            if gp["x"] < 0 or gp["w"] <= 0 or gp["h"] <= 0 or gp["x"] + gp["w"] > 24:
                err("%s: gridPos out of the 24-column grid: %s" % (where, gp))
            for x in range(gp["x"], gp["x"] + gp["w"]):
                for y in range(gp["y"], gp["y"] + gp["h"]):
                    if (x, y) in occupied:
                        err("%s overlaps %s" % (where, occupied[(x, y)]))
                        break
                    occupied[(x, y)] = where
                else:
                    continue
                break
        if p.get("type") == "row":
            continue
        if not (p.get("description") or "").strip(): err("%s: no description" % where)
        if (p.get("datasource") or {}).get("uid") != DS_REF: err("%s: datasource must be %s" % (where, DS_REF))
        targets = p.get("targets") or []
        if not targets: err("%s: no targets" % where)
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs): err("%s: duplicate refIds %s" % (where, refs))
        for tgt in targets:
            tw = "%s target %s" % (where, tgt.get("refId"))
            expr = (tgt.get("expr") or "").strip()
            if not expr: err("%s: empty expr" % tw); continue
            if (tgt.get("datasource") or {}).get("uid") not in (None, DS_REF):
                err("%s: datasource must be %s" % (tw, DS_REF))
            if QUEUE_FILTER not in expr: err("%s: expr lacks %s: %s" % (tw, QUEUE_FILTER, expr))
            if "by (queue" not in expr: err("%s: expr must aggregate by (queue...): %s" % (tw, expr))
            if not balanced(expr): err("%s: unbalanced brackets or quotes: %s" % (tw, expr))
            if re.search(r"\b(rate|increase|irate)\(", expr) and "[$__rate_interval]" not in expr:
                err("%s: rate()/increase() should use [$__rate_interval]: %s" % (tw, expr))
            # le last, after queue and any other label that tells links apart (amqp_queue).
            if "histogram_quantile" in expr and not re.search(r"by \(queue(, [a-z_]+)*, le\)", expr):
                err("%s: histogram_quantile must aggregate by (queue, ..., le): %s" % (tw, expr))
            check_metrics(tw, expr)
    return panels, rows

panels, rows = [], []
for dash_name, spec in DASHBOARDS.items():
    p, r = check_dashboard(dash_name, *spec)
    panels += p
    rows += r

# ---------------------------------------------------------------- alerts
ALERTS = {"TaskringDown", "TaskringQueueNearCapacity", "TaskringRejecting", "TaskringOldestJobTooOld",
          "TaskringNoWorkers", "TaskringWalFsyncSlow", "TaskringDeadLettersGrowing",
          "TaskringPausedTooLong", "TaskringJobsWaitingForUndeclaredType", "TaskringDedupKeysEvicted",
          "TaskringOutcomesEvicted", "TaskringHttpEnqueueSlow",
          # group taskring-scale-out
          "TaskringRelayCannotDeliver", "TaskringBridgeDisconnected"}
with open(os.path.join(dash_dir, "alerts.yml"), encoding="utf-8") as f:
    rules_doc = yaml.safe_load(f)
groups = rules_doc.get("groups") or []
# The scale-out rules are a group of their own: prometheus_live_test.py checks group taskring
# against a lone taskringd, test_monitoring.py group taskring-scale-out against a broker.
if [g.get("name") for g in groups] != ["taskring", "taskring-scale-out"]:
    err("alerts.yml: want the groups 'taskring' and 'taskring-scale-out', in that order")
seen = set()
for g in groups:
    for r in g.get("rules") or []:
        name = r.get("alert")
        where = "alert %s" % name
        if not name: err("alerts.yml: rule without alert name: %s" % r); continue
        seen.add(name)
        if not re.fullmatch(r"[0-9]+(ms|s|m|h)", str(r.get("for", ""))): err("%s: for: %r" % (where, r.get("for")))
        if (r.get("labels") or {}).get("severity") not in ("warning", "critical"):
            err("%s: labels.severity must be warning or critical" % where)
        a = r.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not a.get(key): err("%s: annotation %s missing" % (where, key))
        if "{{ $labels.queue }}" not in a.get("description", "") or "$value" not in a.get("description", ""):
            err("%s: description must use {{ $labels.queue }} and $value" % where)
        if a.get("runbook_url", "").rsplit("#", 1)[-1] != name.lower() or "docs/operations.md#" not in a.get("runbook_url", ""):
            err("%s: runbook_url must end in docs/operations.md#%s" % (where, name.lower()))
        if not balanced(r.get("expr", "")): err("%s: unbalanced brackets: %s" % (where, r.get("expr")))
        check_metrics(where, r.get("expr", ""))
if seen != ALERTS: err("alerts.yml: alerts %s, want exactly %s" % (sorted(seen), sorted(ALERTS)))

with open(os.path.join(dash_dir, "alerts_test.yml"), encoding="utf-8") as f:
    tests_doc = yaml.safe_load(f)
fires, silent = set(), set()
for t in tests_doc.get("tests") or []:
    for c in t.get("alert_rule_test") or []:
        (fires if c.get("exp_alerts") else silent).add(c.get("alertname"))
for name in sorted(ALERTS):
    if name not in fires: err("alerts_test.yml: no case where %s fires" % name)
    if name not in silent: err("alerts_test.yml: no case where %s stays silent" % name)

# ---------------------------------------------------------------- prometheus.yml, provisioning
with open(os.path.join(dash_dir, "prometheus.yml"), encoding="utf-8") as f:
    prom = yaml.safe_load(f)
jobs = {j.get("job_name"): j for j in prom.get("scrape_configs") or []}
if "taskring" not in jobs: err("prometheus.yml: no scrape job 'taskring'")
elif "127.0.0.1:9464" not in [t for sc in jobs["taskring"].get("static_configs") or [] for t in sc.get("targets") or []]:
    err("prometheus.yml: job taskring must scrape 127.0.0.1:9464")
if "alerts.yml" not in (prom.get("rule_files") or []): err("prometheus.yml: rule_files must list alerts.yml")

prov = os.path.join(dash_dir, "grafana", "provisioning")
with open(os.path.join(prov, "datasources", "taskring.yml"), encoding="utf-8") as f:
    dsp = yaml.safe_load(f)
if not any(x.get("type") == "prometheus" and x.get("url") for x in dsp.get("datasources") or []):
    err("provisioning/datasources/taskring.yml: no prometheus datasource with a url")
with open(os.path.join(prov, "dashboards", "taskring.yml"), encoding="utf-8") as f:
    dbp = yaml.safe_load(f)
if not any(x.get("type") == "file" and (x.get("options") or {}).get("path") for x in dbp.get("providers") or []):
    err("provisioning/dashboards/taskring.yml: no file provider with options.path")
for job, target in (("taskring-relay", "127.0.0.1:9465"), ("taskring-bridge", "127.0.0.1:9466")):
    # The alerts' up{job=...} arms name these jobs.
    if target not in [t for sc in (jobs.get(job) or {}).get("static_configs") or [] for t in sc.get("targets") or []]:
        err("prometheus.yml: job %s must scrape %s" % (job, target))

if errors:
    for e in errors: print("check_dashboards: FAIL: " + e, file=sys.stderr)
    sys.exit(1)
print("%d panels (%d rows), %d alert names: OK" % (len(panels), len(rows), len(seen)))
PY

step "every dashboard and alert expression parses (promtool check rules on generated recording rules)"
"$PY" "$ROOT/tests/observability/dashboard_exprs.py" 1m '.+' \
  --dashboard "$DASH/taskring.json" --dashboard "$DASH/taskring-scale-out.json" >"$TMP/exprs.jsonl"
"$PY" - "$TMP/exprs.jsonl" "$TMP/exprs_rules.yml" <<'PY'
import json, sys
items = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
if not items:
    sys.exit("check_dashboards: FAIL: dashboard_exprs.py printed no expressions")
rules = [{"record": "check_dashboards:expr_%d" % i, "expr": it["expr"],
          "labels": {"check_source": it["source"], "check_title": it["title"]}}
         for i, it in enumerate(items)]
# JSON is valid YAML.
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"groups": [{"name": "check_dashboards", "rules": rules}]}, f, indent=1)
print("%d expressions" % len(items))
PY
if ! "$PROMTOOL" check rules "$TMP/exprs_rules.yml" >"$TMP/exprs_check.log" 2>&1; then
  cat "$TMP/exprs_check.log" >&2
  # shellcheck disable=SC2013  # numbers only, word splitting is what we want
  for n in $(grep -oE 'check_dashboards:expr_[0-9]+' "$TMP/exprs_check.log" | sort -u | sed 's/.*_//'); do
    echo "expr_$n is: $(sed -n "$((n + 1))p" "$TMP/exprs.jsonl")" >&2
  done
  fail "an expression does not parse (see above)"
fi

echo "check_dashboards: OK"
