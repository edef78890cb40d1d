#!/usr/bin/env bash
# A live taskring demo on this machine: builds taskring (tools/setup.sh), starts a daemon on a
# fresh queue in a temp dir, 2 printing workers + 1 --exec worker, and 3 producers enqueueing
# numbered jobs; shows progress once a second, then checks that every accepted job ran. Then
# the HTTP pattern: POST a job to `taskring http` (202), poll its progress, follow the 303 to
# its result.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/demo.sh [--jobs N] [--durability fsync|interval|none] [--retry-busy] [--keep]

Builds taskring, then runs a daemon, 3 workers and 3 producers on a throw-away queue and
checks that every accepted job was completed.

  --jobs N           jobs per producer (default 20000)
  --durability D     daemon durability: fsync (default), interval or none
  --retry-busy       producers resubmit lines answered 'busy' (queue full) until all are
                     accepted, instead of dropping them
  --metrics-port P   Prometheus endpoint port on 127.0.0.1 (default 9464; a free one if taken)
  --keep             keep the temp dir (WAL, logs, worker output) afterwards
  --no-setup         skip tools/setup.sh (use the existing build/)
  -h, --help         show this help
EOF
}

log() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build"
JOBS_PER_PRODUCER=20000
DURABILITY=fsync
KEEP=0
RETRY_BUSY=0
SETUP=1
PRODUCERS=3
PRINT_WORKERS=2
CAPACITY=10000
START_TIMEOUT_S=5
DRAIN_TIMEOUT_S=60
METRICS_PORT=9464

while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) [[ $# -ge 2 ]] || die "--jobs needs a value"; JOBS_PER_PRODUCER="$2"; shift 2 ;;
    --jobs=*) JOBS_PER_PRODUCER="${1#*=}"; shift ;;
    --durability) [[ $# -ge 2 ]] || die "--durability needs a value"; DURABILITY="$2"; shift 2 ;;
    --durability=*) DURABILITY="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    --metrics-port) [[ $# -ge 2 ]] || die "--metrics-port needs a value"; METRICS_PORT="$2"; shift 2 ;;
    --retry-busy) RETRY_BUSY=1; shift ;;
    --no-setup) SETUP=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$JOBS_PER_PRODUCER" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer"
case "$DURABILITY" in fsync|interval|none) ;; *) die "--durability must be fsync, interval or none" ;; esac

# --- build ---------------------------------------------------------------------------------
if [[ "$SETUP" -eq 1 ]]; then
  bash "$ROOT/tools/setup.sh" || die "tools/setup.sh failed"
fi
[[ -x "$BIN/taskringd" && -x "$BIN/taskring" ]] || die "no taskringd/taskring in $BIN: run tools/setup.sh"

# --- temp dir, processes, cleanup ----------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/taskring-demo.XXXXXX")"
QUEUE="demo-$$"
DAEMON_PID=""
WORKER_PIDS=()
PRODUCER_PIDS=()

# Stops everything this script started, by PID, and removes what it created.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  if [[ "$rc" -eq 130 || "$rc" -eq 143 ]]; then
    log "interrupted: stopping the producers, workers and taskringd started here"
  fi
  for pid in "${PRODUCER_PIDS[@]}" "${WORKER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PRODUCER_PIDS[@]}" "${WORKER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$DAEMON_PID" ]]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  # The daemon leaves its shared-memory segment behind (so `taskring stats` can report a stopped
  # queue); this queue is ours alone, so remove it.
  rm -f "/dev/shm/taskring.$QUEUE" "/dev/shm/taskring.$QUEUE~lock" "/dev/shm/taskring.$QUEUE~new"
  if [[ "$KEEP" -eq 1 ]]; then
    log "kept $TMP (WAL in $TMP/wal, logs and worker output alongside)"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { kill -0 "$1" 2>/dev/null; }

# json_num KEY JSON: the number after "KEY": in a one-line JSON object (no jq on a fresh box).
json_num() {
  local v
  v="$(sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" <<<"$2")"
  printf '%s' "${v:-0}"
}

stats_json() { "$BIN/taskring" stat --queue "$QUEUE" --json 2>/dev/null; }

# http_get PORT PATH: a plain HTTP/1.0 GET on 127.0.0.1 with bash's /dev/tcp (no curl needed).
http_get() {
  exec 9<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&9
  cat <&9
  exec 9<&-
}

# json_ms NAME QUANTILE JSON: a latency quantile (ms) from `taskring stat --json`.
json_ms() { sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9.]*\).*/\1/p" <<<"$3"; }

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

daemon_log_tail() {
  printf 'demo: last lines of the daemon log (%s):\n' "$TMP/daemon.log" >&2
  tail -n 20 "$TMP/daemon.log" >&2 || true
}

# --- daemon --------------------------------------------------------------------------------
log "temp dir $TMP, queue $QUEUE"
# Something already on the metrics port (another taskringd, an earlier demo): take any free one.
if (exec 9<>"/dev/tcp/127.0.0.1/$METRICS_PORT") 2>/dev/null; then
  log "port $METRICS_PORT is taken; the daemon will pick a free port for /metrics"
  METRICS_PORT=0
fi
"$BIN/taskringd" --queue "$QUEUE" --dir "$TMP/wal" --capacity "$CAPACITY" \
  --durability "$DURABILITY" --metrics-listen "127.0.0.1:$METRICS_PORT" \
  >"$TMP/daemon.log" 2>&1 </dev/null &
DAEMON_PID=$!
log "started taskringd (pid $DAEMON_PID, capacity $CAPACITY, durability $DURABILITY)"

ready=0
deadline=$((SECONDS + START_TIMEOUT_S))
while [[ $SECONDS -le $deadline ]]; do
  if ! alive "$DAEMON_PID"; then
    rc=0; wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=""
    daemon_log_tail
    die "taskringd exited with status $rc during startup"
  fi
  # Ready once the segment is published by *this* daemon (not a stale one of the same name).
  if json="$(stats_json)" && [[ "$json" == *'"daemon":"running"'* ]] &&
     [[ "$(json_num daemon_pid "$json")" == "$DAEMON_PID" ]]; then
    ready=1
    break
  fi
  sleep 0.1
done
if [[ "$ready" -ne 1 ]]; then
  daemon_log_tail
  die "taskringd did not become ready within ${START_TIMEOUT_S}s"
fi
METRICS_PORT="$(json_num metrics_port "$json")"
[[ "$METRICS_PORT" -eq 0 ]] && METRICS_PORT="$(sed -n 's|.*metrics: http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/daemon.log")"
log "daemon ready; metrics at http://127.0.0.1:$METRICS_PORT/metrics"
log "in another terminal: $BIN/taskring stat --queue $QUEUE --watch"

# --- workers -------------------------------------------------------------------------------
for i in $(seq 1 "$PRINT_WORKERS"); do
  "$BIN/taskring" worker --queue "$QUEUE" --print >"$TMP/worker-$i.out" 2>"$TMP/worker-$i.err" </dev/null &
  WORKER_PIDS+=($!)
done
# The --exec worker runs a shell per job (slower): it appends each payload to exec.out.
EXEC_CMD="{ cat; echo; } >>$(printf '%q' "$TMP/exec.out")"
: >"$TMP/exec.out"
"$BIN/taskring" worker --queue "$QUEUE" --exec "$EXEC_CMD" >"$TMP/worker-exec.log" 2>&1 </dev/null &
WORKER_PIDS+=($!)
log "started ${#WORKER_PIDS[@]} workers: $PRINT_WORKERS --print (pids ${WORKER_PIDS[*]:0:$PRINT_WORKERS}), 1 --exec (pid ${WORKER_PIDS[-1]})"

# --- producers -----------------------------------------------------------------------------
# producer-P.in holds every line submitted and producer-P.out the answers, line for line.
# Without --retry-busy a producer is one `taskring enqueue`; with it, a loop that resubmits the
# lines answered 'busy' after a short pause (exit status: that of the last enqueue).
retrying_producer() {
  local p="$1" rc=0 child=""
  trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; exit 143' TERM
  cp "$TMP/producer-$p.jobs" "$TMP/producer-$p.pending"
  : >"$TMP/producer-$p.in"
  : >"$TMP/producer-$p.out"
  while [[ -s "$TMP/producer-$p.pending" ]]; do
    rc=0
    "$BIN/taskring" enqueue --queue "$QUEUE" <"$TMP/producer-$p.pending" \
      >"$TMP/producer-$p.round" 2>>"$TMP/producer-$p.err" &
    child=$!
    wait "$child" || rc=$?
    child=""
    cat "$TMP/producer-$p.pending" >>"$TMP/producer-$p.in"
    cat "$TMP/producer-$p.round" >>"$TMP/producer-$p.out"
    [[ "$rc" -eq 75 ]] || break
    paste -d ' ' "$TMP/producer-$p.pending" "$TMP/producer-$p.round" |
      awk '$2 == "busy" { print $1 }' >"$TMP/producer-$p.next"
    mv "$TMP/producer-$p.next" "$TMP/producer-$p.pending"
    sleep 0.1
  done
  return "$rc"
}

for p in $(seq 1 "$PRODUCERS"); do
  seq -f "job-$p-%.0f" 1 "$JOBS_PER_PRODUCER" >"$TMP/producer-$p.jobs"
done
T0="$(now)"
for p in $(seq 1 "$PRODUCERS"); do
  if [[ "$RETRY_BUSY" -eq 1 ]]; then
    retrying_producer "$p" &
  else
    cp "$TMP/producer-$p.jobs" "$TMP/producer-$p.in"
    "$BIN/taskring" enqueue --queue "$QUEUE" <"$TMP/producer-$p.in" >"$TMP/producer-$p.out" 2>"$TMP/producer-$p.err" &
  fi
  PRODUCER_PIDS+=($!)
done
log "started $PRODUCERS producers x $JOBS_PER_PRODUCER jobs (pids ${PRODUCER_PIDS[*]})$([[ "$RETRY_BUSY" -eq 1 ]] && echo ", retrying busy lines")"

progress() {
  local json
  json="$(stats_json)" || { printf 'demo: [%5ss] (stats unavailable)\n' "$(elapsed_since "$T0")"; return; }
  printf 'demo: [%5ss] depth %6s  outstanding %6s  accepted %7s  busy %7s  completed %7s  workers %s\n' \
    "$(elapsed_since "$T0")" "$(json_num depth "$json")" "$(json_num outstanding "$json")" \
    "$(json_num accepted "$json")" "$(json_num rejected_busy "$json")" \
    "$(json_num completed "$json")" "$(json_num workers "$json")"
}

any_alive() {
  local pid
  for pid in "$@"; do alive "$pid" && return 0; done
  return 1
}

# Poll 20x a second (so the timings are honest), print progress once a second.
last_print=-1
maybe_progress() {
  if [[ "$SECONDS" != "$last_print" ]]; then
    last_print=$SECONDS
    progress
  fi
}
while any_alive "${PRODUCER_PIDS[@]}"; do
  maybe_progress
  alive "$DAEMON_PID" || { daemon_log_tail; die "taskringd died while producers were running"; }
  sleep 0.05
done

FAILED=0
ACCEPTED=0
BUSY=0
ERRORS=0
for i in "${!PRODUCER_PIDS[@]}"; do
  p=$((i + 1))
  rc=0; wait "${PRODUCER_PIDS[$i]}" || rc=$?
  a="$(grep -c '^accepted ' "$TMP/producer-$p.out" || true)"
  b="$(grep -c '^busy$' "$TMP/producer-$p.out" || true)"
  e="$(grep -c '^error' "$TMP/producer-$p.out" || true)"
  ACCEPTED=$((ACCEPTED + a)); BUSY=$((BUSY + b)); ERRORS=$((ERRORS + e))
  if [[ "$rc" -ne 0 && "$rc" -ne 75 ]]; then
    log "producer $p exited with status $rc ($e error lines):"
    grep -m 5 '^error' "$TMP/producer-$p.out" | sed 's/^/demo:   /' || true
    sed 's/^/demo:   /' "$TMP/producer-$p.err" | head -n 5 || true
    FAILED=1
  elif [[ $((a + b + e)) -ne "$(wc -l <"$TMP/producer-$p.in")" ]]; then
    log "producer $p: $((a + b + e)) answers for $(wc -l <"$TMP/producer-$p.in") lines submitted"
    FAILED=1
  fi
done
PRODUCE_S="$(elapsed_since "$T0")"
log "producers done in ${PRODUCE_S}s: $ACCEPTED accepted, $BUSY busy (queue full), $ERRORS errors"

# --- wait for the workers to drain the queue -----------------------------------------------
COMPLETED=0
OUTSTANDING=0
deadline=$((SECONDS + DRAIN_TIMEOUT_S))
while :; do
  json="$(stats_json || true)"
  COMPLETED="$(json_num completed "$json")"
  OUTSTANDING="$(json_num outstanding "$json")"
  if [[ "$COMPLETED" -ge "$ACCEPTED" && "$OUTSTANDING" -eq 0 ]]; then
    break
  fi
  if [[ $SECONDS -ge $deadline ]]; then
    log "gave up waiting after ${DRAIN_TIMEOUT_S}s: completed $COMPLETED of $ACCEPTED accepted, $OUTSTANDING outstanding"
    break
  fi
  alive "$DAEMON_PID" || { daemon_log_tail; die "taskringd died while workers were draining"; }
  maybe_progress
  sleep 0.05
done
ELAPSED="$(elapsed_since "$T0")"
progress
FINAL_JSON="$(stats_json || echo "$json")"
http_get "$METRICS_PORT" /metrics >"$TMP/metrics.txt" 2>/dev/null || true
SERIES="$(grep -c '^taskring_' "$TMP/metrics.txt" || true)"

# --- stop workers, then the daemon ---------------------------------------------------------
for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for i in "${!WORKER_PIDS[@]}"; do
  rc=0; wait "${WORKER_PIDS[$i]}" || rc=$?
  if [[ "$rc" -ne 0 ]]; then
    log "worker pid ${WORKER_PIDS[$i]} exited with status $rc"
    FAILED=1
  fi
done
WORKER_PIDS=()
# --- the pattern over HTTP: 202 + Location, poll with progress, 303 to the result ------------
# What a service that must answer in 100 ms does: hand the slow work to the queue, answer 202,
# and let its client poll. A typed --exec worker reports progress on fd 3 and prints a result.
HTTP_PID=""
REPORT_CMD='echo "10 reading data" >&$TASKRING_PROGRESS_FD; sleep 0.4
echo "60 rendering" >&$TASKRING_PROGRESS_FD; sleep 0.4; printf "report for %s" "$(cat)"'
HTTP_RESULT=""
http_flow() {
  "$BIN/taskring" worker --queue "$QUEUE" --type demo.report --exec "$REPORT_CMD" \
    >"$TMP/worker-report.log" 2>&1 </dev/null &
  WORKER_PIDS+=($!)
  "$BIN/taskring" http --listen 127.0.0.1:0 --queue "$QUEUE" >"$TMP/http.log" 2>&1 </dev/null &
  HTTP_PID=$!
  WORKER_PIDS+=("$HTTP_PID")
  local base="" i
  for i in $(seq 1 50); do
    base="$(sed -n 's|^listening on \(http://[0-9.:]*\)$|\1|p' "$TMP/http.log")"
    [[ -n "$base" ]] && break
    alive "$HTTP_PID" || break
    sleep 0.1
  done
  [[ -n "$base" ]] || { tail -n 5 "$TMP/http.log" >&2; log "taskring http did not start"; return 1; }
  log "HTTP gateway at $base (taskring http, pid $HTTP_PID)"
  local headers code location status url
  headers="$(curl -s -D - -o "$TMP/http-post.json" -H 'X-Job-Type: demo.report' \
    --data-binary 'Q3 sales' "$base/queues/$QUEUE/jobs" | tr -d '\r')"
  code="$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' <<<"$headers")"
  location="$(sed -n 's/^[Ll]ocation: //p' <<<"$headers")"
  log "POST /queues/$QUEUE/jobs 'Q3 sales' -> $code, Location: $location"
  [[ "$code" == 202 && -n "$location" ]] || { cat "$TMP/http-post.json" >&2; return 1; }
  url="$base$location"
  for i in $(seq 1 100); do
    status="$(curl -s -o "$TMP/http-status.json" -w '%{http_code}' "$url")"
    log "GET $location -> $status $(sed -n 's/.*\("state":"[a-z]*"\).*\("progress":\(null\|{[^}]*}\)\).*/\1 \2/p' "$TMP/http-status.json")"
    [[ "$status" == 200 ]] || break
    sleep 0.25
  done
  [[ "$status" == 303 ]] || { cat "$TMP/http-status.json" >&2; return 1; }
  log "  -> 303 See Other, Location: $(curl -s -o /dev/null -w '%{redirect_url}' "$url" | sed "s|^$base||")"
  HTTP_RESULT="$(curl -sL "$url")"
  log "GET (following the 303) -> '$HTTP_RESULT'"
  [[ "$HTTP_RESULT" == "report for Q3 sales" ]]
}
HTTP_OK=1
http_flow || { HTTP_OK=0; FAILED=1; log "the HTTP flow failed (log: $TMP/http.log)"; }
for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${WORKER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
WORKER_PIDS=()

kill -TERM "$DAEMON_PID" 2>/dev/null || true
DAEMON_RC=0; wait "$DAEMON_PID" || DAEMON_RC=$?
DAEMON_PID=""
if [[ "$DAEMON_RC" -ne 0 ]]; then
  daemon_log_tail
  log "taskringd exited with status $DAEMON_RC (expected 0 after SIGTERM)"
  FAILED=1
fi

# --- check: every accepted payload was run (at least once) by some worker -----------------
for p in $(seq 1 "$PRODUCERS"); do
  paste -d ' ' "$TMP/producer-$p.in" "$TMP/producer-$p.out" | awk '$2 == "accepted" { print $1 }'
done | LC_ALL=C sort >"$TMP/accepted.txt"
cat "$TMP"/worker-[0-9]*.out "$TMP/exec.out" | LC_ALL=C sort >"$TMP/ran-all.txt"
LC_ALL=C sort -u "$TMP/ran-all.txt" >"$TMP/ran.txt"
MISSING="$(LC_ALL=C comm -23 "$TMP/accepted.txt" "$TMP/ran.txt" | wc -l)"
RAN_TOTAL="$(wc -l <"$TMP/ran-all.txt")"
RAN_UNIQUE="$(wc -l <"$TMP/ran.txt")"
PER_WORKER=""
for i in $(seq 1 "$PRINT_WORKERS"); do
  PER_WORKER+="print#$i $(wc -l <"$TMP/worker-$i.out"), "
done
PER_WORKER+="exec $(wc -l <"$TMP/exec.out")"

RATE="$(awk -v n="$COMPLETED" -v s="$ELAPSED" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }')"
cat <<EOF

==================== taskring demo summary ====================
queue            $QUEUE (capacity $CAPACITY, durability $DURABILITY)
producers        $PRODUCERS x $JOBS_PER_PRODUCER jobs
accepted         $ACCEPTED
busy             $BUSY   (answers 'busy': queue full, backpressure$([[ "$RETRY_BUSY" -eq 1 ]] && echo ", resubmitted" || echo "; not enqueued, not lost"))
errors           $ERRORS
completed        $COMPLETED   (daemon counter; outstanding $OUTSTANDING)
ran by workers   $RAN_TOTAL lines, $RAN_UNIQUE distinct ($PER_WORKER)
dead-lettered    $(json_num dead "$FINAL_JSON"), redelivered $(json_num redelivered "$FINAL_JSON")
elapsed          ${ELAPSED}s (enqueue phase ${PRODUCE_S}s)
throughput       $RATE jobs/s completed end to end
latency (ms)     wait p50 $(json_ms job_wait p50 "$FINAL_JSON") p99 $(json_ms job_wait p99 "$FINAL_JSON"); end-to-end p50 $(json_ms job_latency p50 "$FINAL_JSON") p99 $(json_ms job_latency p99 "$FINAL_JSON"); fsync p50 $(json_ms wal_fsync p50 "$FINAL_JSON")
metrics          http://127.0.0.1:$METRICS_PORT/metrics ($SERIES taskring_* samples in the final scrape$([[ "$KEEP" -eq 1 ]] && echo ", kept in $TMP/metrics.txt"))
WAL              $TMP/wal ($(json_num wal_bytes "$FINAL_JSON") bytes, $(json_num wal_fsyncs "$FINAL_JSON") fsyncs)$([[ "$KEEP" -eq 1 ]] && echo " - kept" || echo " - removed on exit; --keep keeps it")
HTTP             202 -> poll (progress) -> 303 -> result: $([[ "$HTTP_OK" -eq 1 ]] && echo "ok, '$HTTP_RESULT'" || echo FAILED)
daemon exit      $DAEMON_RC
see live numbers with: $BIN/taskring stat --queue $QUEUE --watch  (while its taskringd runs)
================================================================
EOF

if [[ "$COMPLETED" -lt "$ACCEPTED" ]]; then
  log "LOST JOBS: only $COMPLETED of $ACCEPTED accepted jobs completed within ${DRAIN_TIMEOUT_S}s"
  FAILED=1
fi
if [[ "$MISSING" -ne 0 ]]; then
  log "LOST JOBS: $MISSING accepted payloads never appeared in any worker's output"
  LC_ALL=C comm -23 "$TMP/accepted.txt" "$TMP/ran.txt" | head -n 5 | sed 's/^/demo:   missing: /'
  FAILED=1
fi
if [[ "$FAILED" -ne 0 ]]; then
  log "FAILED (temp dir: $TMP$([[ "$KEEP" -eq 1 ]] || echo ", removed; rerun with --keep to inspect"))"
  exit 1
fi
log "OK: all $ACCEPTED accepted jobs completed"
