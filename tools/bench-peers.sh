#!/usr/bin/env bash
# Side-by-side: the same workload against taskring (each durability mode), Boost.Interprocess
# message_queue, Redis as a queue (LPUSH/BRPOP; appendonly no / everysec / always) and
# beanstalkd (no binlog / binlog / binlog with -f 0), one table per scenario with throughput,
# latency percentiles and the ratio of each peer to taskring. Servers are Debian's, started here
# on 127.0.0.1 on free ports with temp dirs, and stopped by PID.
#
#   tools/bench-peers.sh [--jobs N] [--quick] [--out DIR] [--no-setup]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build"
JOBS=20000
REPEAT=3
OUT=""
SETUP=1
QUICK=0

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --jobs N     jobs per run (default 20000; 8-producer single-job runs use N/4, batched 2N)
  --repeat R   runs per target (default 3); the tables show the median run and the spread
  --quick      fewer jobs and scenarios (a smoke run, a few minutes)
  --out DIR    keep the JSON results and tables here (default: a temp dir, printed)
  --no-setup   skip tools/setup.sh (use the existing build/)
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --no-setup) SETUP=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-peers: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf 'bench-peers: %s\n' "$*" >&2; }
die() { printf 'bench-peers: error: %s\n' "$*" >&2; exit 1; }

[[ "$SETUP" -eq 1 ]] && bash "$ROOT/tools/setup.sh" >&2
[[ -x "$BIN/taskring" ]] || die "no $BIN/taskring: run tools/setup.sh"
# `taskring bench` runs the load tool, taskring-bench, built beside it with the benchmarks.
[[ -x "$BIN/taskring-bench" ]] ||
  die "no $BIN/taskring-bench: build with -DTASKRING_BUILD_BENCHMARKS=ON (tools/setup.sh does)"
for tool in redis-server beanstalkd /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool not found (tools/setup.sh installs it)"
done
[[ "$QUICK" -eq 1 ]] && JOBS=$((JOBS / 4)) && REPEAT=1

WORK="$(mktemp -d /tmp/taskring-peers-XXXXXX)"
OUT="${OUT:-$WORK/results}"
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK/servers"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  die "server on port $1 did not come up"
}

# start_redis MODE -> sets PORT and SERVER_PID (appendfsync MODE, or no AOF for "no-aof")
start_redis() {
  local dir="$WORK/servers/redis-$1" aof=(--appendonly yes --appendfsync "$1")
  [[ "$1" == "no-aof" ]] && aof=(--appendonly no)
  mkdir -p "$dir"
  PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$PORT" --dir "$dir" --save "" "${aof[@]}" \
    --daemonize no --logfile "$dir/redis.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_port "$PORT"
}

# start_beanstalkd MODE: none | binlog | fsync (binlog with -f 0: fsync every write)
start_beanstalkd() {
  local dir="$WORK/servers/beanstalkd-$1" extra=()
  mkdir -p "$dir"
  case "$1" in binlog) extra=(-b "$dir") ;; fsync) extra=(-b "$dir" -f 0) ;; esac
  PORT="$(free_port)"
  beanstalkd -l 127.0.0.1 -p "$PORT" "${extra[@]}" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_port "$PORT"
}

stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# run SCENARIO LABEL BENCH-ARGS...: REPEAT `taskring bench --json` lines into $OUT/SCENARIO.jsonl
run() {
  local scenario="$1" label="$2"; shift 2
  log "$scenario: $label"
  for _ in $(seq 1 "$REPEAT"); do
    if ! "$BIN/taskring" bench --json --label "$label" "$@" >>"$OUT/$scenario.jsonl" 2>"$WORK/err"; then
      log "  failed: $(cat "$WORK/err")"
      printf '{"label":"%s","error":"%s"}\n' "$label" "$(tr -d '"\n' <"$WORK/err")" >>"$OUT/$scenario.jsonl"
    fi
  done
}

# scenario NAME ARGS...: every target with the same workload ARGS
scenario() {
  local name="$1"; shift
  : >"$OUT/$name.jsonl"
  for d in fsync interval none; do run "$name" "taskring $d" --durability "$d" "$@"; done
  run "$name" "boost message_queue" --target boost-mq "$@"
  for m in always everysec no-aof; do
    start_redis "$m"
    run "$name" "redis $m" --target redis --port "$PORT" --server-pid "$SERVER_PID" "$@"
    stop_server
  done
  for m in fsync binlog none; do
    start_beanstalkd "$m"
    run "$name" "beanstalkd $m" --target beanstalkd --port "$PORT" --server-pid "$SERVER_PID" "$@"
    stop_server
  done
}

# 1 producer -> 1 worker across processes, one job at a time, busy worker.
scenario p1w1-single --producers 1 --workers 1 --jobs "$JOBS" --payload 64 --batch 1
# 8 producers each waiting for its own job (durable targets pay one fsync per group commit).
scenario p8w2-single --producers 8 --workers 2 --jobs "$((JOBS / 4))" --payload 64 --batch 1
if [[ "$QUICK" -eq 0 ]]; then
  # The same 8 producers sending batches of 256 (Redis and beanstalkd pipelined).
  scenario p8w2-batch256 --producers 8 --workers 2 --jobs "$((JOBS * 2))" --payload 64 --batch 256
fi

/usr/bin/python3 "$ROOT/tools/peers_table.py" "$OUT"/*.jsonl | tee "$OUT/tables.md"
log "results in $OUT"
