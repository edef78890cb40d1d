#!/usr/bin/env bash
# WAL replay time: fills a queue with N outstanding 64-byte jobs, stops the daemon (the jobs stay
# in the WAL), starts it again and reports how long the new daemon took to replay the WAL and
# to be serving (replay + a fresh segment + loading every job into it).
#
#   tools/bench-replay.sh [--jobs N] [--durability fsync|none] [--no-setup]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build"
JOBS=1000000
DURABILITY=none
SETUP=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2 ;;
    --durability) DURABILITY="$2"; shift 2 ;;
    --no-setup) SETUP=0; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-replay: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf 'bench-replay: %s\n' "$*" >&2; }
[[ "$SETUP" -eq 1 ]] && bash "$ROOT/tools/setup.sh" >&2

WORK="$(mktemp -d /tmp/taskring-replay-XXXXXX)"
QUEUE="replay-$$"
DAEMON_PID=""
trap '[[ -n "$DAEMON_PID" ]] && kill -TERM "$DAEMON_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

start_daemon() {  # start_daemon LOG: returns once the queue is served
  "$BIN/taskringd" --queue "$QUEUE" --dir "$WORK/wal" --capacity "$((JOBS + 1024))" \
    --max-payload 64 --durability "$DURABILITY" --no-metrics 2>"$1" &
  DAEMON_PID=$!
  until grep -q "serving:" "$1"; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$1" >&2; exit 1; }
    sleep 0.01
  done
}
stop_daemon() { kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""; }
# seconds from START_NS (the exec) to the timestamp of the first log line matching PATTERN
since_start() {
  local ts
  ts="$(grep -m1 "$2" "$1" | awk '{ print $2 }')"
  awk -v a="$START_NS" -v b="$(date -d "$ts" +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

log "filling queue $QUEUE with $JOBS jobs of 64 bytes ($DURABILITY)"
start_daemon "$WORK/fill.log"
awk -v n="$JOBS" 'BEGIN { for (i = 1; i <= n; i++) printf "job-%058d\n", i }' |
  "$BIN/taskring" enqueue --queue "$QUEUE" | grep -vc '^accepted' >/dev/null || true
"$BIN/taskring" stat --queue "$QUEUE" | grep -E '^(outstanding|wal_disk_bytes) ' >&2
stop_daemon

log "restarting"
START_NS=$(date +%s%N)
start_daemon "$WORK/replay.log"
READY_S=$(awk -v a="$START_NS" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
grep -E "recovered|serving" "$WORK/replay.log" >&2
printf 'replay of %s outstanding jobs: WAL replayed %ss and serving %ss after exec\n' \
  "$(sed -n 's/.*recovered \([0-9]*\) unfinished.*/\1/p' "$WORK/replay.log")" \
  "$(since_start "$WORK/replay.log" "recovered")" "$READY_S"
stop_daemon
