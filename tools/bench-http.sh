#!/usr/bin/env bash
# The HTTP gateway's throughput and latency (issue 14): wrk POSTs small jobs to `taskring http`
# in front of a `none` and an `fsync` queue, each drained by a `taskring worker --print`, and to
# taskring-http-ceiling (the gateway's own server answering a fixed 202, no queue behind it),
# for several connection counts, as A/B runs (ceiling, none, fsync back to back) repeated.
# Prints one table: requests/s answered 202, p50/p99 latency, ratio to the ceiling of the same
# pair, CPU of each process and the load average at the start of each run. Everything runs on
# 127.0.0.1 on free ports with a temp dir, and is stopped by PID.
#
#   tools/bench-http.sh [--duration S] [--connections LIST] [--reps N] [--quick] [--out DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build"
DURATION=5
CONNECTIONS="1 4 16 64"
REPS=3
THREADS=2
PAYLOAD=64
PRODUCERS=""
OUT=""
SETUP=1
QUICK=0
PERF=0

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --duration S        seconds per wrk run (default 5)
  --connections LIST  wrk connection counts, e.g. "1 4 16 64" or 1,4,16,64 (the default)
  --reps N            A/B rounds over every connection count (default 3); the table shows medians
  --threads N         wrk threads (default 2; 1 when connections are 1)
  --payload BYTES     POST body size (default 64)
  --producers N       the gateway's --producers (default: its own default, 4)
  --quick             a smoke run: 2 s runs, 1 round, connections "1 16 64"
  --out DIR           keep the raw results and the table here (default: a temp dir, printed)
  --perf              then profile `none` at the largest connection count: perf record -g of
                      the gateway, daemon and worker for one run (OUT/perf-none.{data,txt}; by
                      thread id: the pids are in the log above)
  --no-setup          do not install packages or build (use the existing build/)

Environment: JOBS (build jobs, default 1; the build runs under nice -n 10).
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="${2//,/ }"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --payload) PAYLOAD="$2"; shift 2 ;;
    --producers) PRODUCERS="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --perf) PERF=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --no-setup) SETUP=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-http: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$QUICK" -eq 1 ]] && DURATION=2 && REPS=1 && CONNECTIONS="1 16 64"

log() { printf 'bench-http: %s\n' "$*" >&2; }
die() { printf 'bench-http: error: %s\n' "$*" >&2; exit 1; }

if [[ "$SETUP" -eq 1 ]]; then
  # Packages (wrk among them) and the CMake configure; then only the three binaries, not the
  # whole tree: the gateway, the daemon and the ceiling.
  bash "$ROOT/tools/setup.sh" --no-build >&2
  nice -n 10 ninja -C "$BIN" -j "${JOBS:-1}" taskringd taskring_cli http_ceiling >&2 ||
    die "build failed in $BIN"
fi
for b in taskringd taskring bench/taskring-http-ceiling; do
  [[ -x "$BIN/$b" ]] || die "no $BIN/$b: run without --no-setup (or ninja -C build $b)"
done
command -v wrk >/dev/null || die "wrk not found (tools/setup.sh installs it)"
command -v /usr/bin/python3 >/dev/null || die "/usr/bin/python3 not found"
[[ "$PERF" -eq 0 ]] || command -v perf >/dev/null || die "--perf: perf not found (linux-perf)"

# The WAL must be on a real disk for fsync to mean anything: /tmp here, not /dev/shm.
WORK="$(mktemp -d /tmp/taskring-hbench-XXXXXX)"
OUT="${OUT:-$WORK/results}"
mkdir -p "$OUT"
QPREFIX="hbench$$"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # A stopped daemon leaves its segment behind (for `taskring stat`); these queues are ours.
  rm -f /dev/shm/taskring."$QPREFIX"-*
  rm -rf "$WORK/queues"
}
trap cleanup EXIT

# wait_line FILE REGEX PID: until FILE has a line matching REGEX (or PID died)
wait_line() {
  for _ in $(seq 1 200); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "process $3 exited during startup"; }
    sleep 0.05
  done
  die "no '$2' in $1"
}
listen_port() { sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$1"; }

declare -A PORT DAEMON WORKER GATEWAY
# start_queue MODE: taskringd (durability MODE, WAL in $WORK), one worker, one gateway
start_queue() {
  local mode="$1" q="$QPREFIX-$1" dir="$WORK/queues/$1"
  mkdir -p "$dir"
  "$BIN/taskringd" --queue "$q" --dir "$dir/wal" --durability "$mode" --no-metrics \
    --ready-fd 3 3>"$dir/ready" >"$dir/daemon.log" 2>&1 </dev/null &
  DAEMON[$mode]=$!
  PIDS+=("${DAEMON[$mode]}")
  wait_line "$dir/ready" '^ready' "${DAEMON[$mode]}"
  # The fastest honest consumer: each job is taken, printed (to /dev/null) and completed.
  "$BIN/taskring" worker --queue "$q" --print >/dev/null 2>"$dir/worker.log" </dev/null &
  WORKER[$mode]=$!
  PIDS+=("${WORKER[$mode]}")
  "$BIN/taskring" http --listen 127.0.0.1:0 --queue "$q" ${PRODUCERS:+--producers "$PRODUCERS"} \
    >"$dir/gateway.out" 2>"$dir/gateway.log" </dev/null &
  GATEWAY[$mode]=$!
  PIDS+=("${GATEWAY[$mode]}")
  wait_line "$dir/gateway.out" '^listening on' "${GATEWAY[$mode]}"
  PORT[$mode]="$(listen_port "$dir/gateway.out")"
  log "$mode: taskringd $q (pid ${DAEMON[$mode]}), worker (pid ${WORKER[$mode]}), gateway on port ${PORT[$mode]} (pid ${GATEWAY[$mode]})"
}

start_ceiling() {
  mkdir -p "$WORK/queues/ceiling"
  "$BIN/bench/taskring-http-ceiling" --listen 127.0.0.1:0 >"$WORK/queues/ceiling/out" \
    2>"$WORK/queues/ceiling/log" </dev/null &
  GATEWAY[ceiling]=$!
  PIDS+=("${GATEWAY[ceiling]}")
  wait_line "$WORK/queues/ceiling/out" '^listening on' "${GATEWAY[ceiling]}"
  PORT[ceiling]="$(listen_port "$WORK/queues/ceiling/out")"
  log "ceiling: taskring-http-ceiling on port ${PORT[ceiling]} (pid ${GATEWAY[ceiling]})"
}

# wrk's Lua: POST PAYLOAD bytes; at the end one machine-readable line. Non-2xx/3xx answers are
# wrk's errors.status (none is expected: the only 2xx the route answers is 202).
cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = string.rep("x", $PAYLOAD)
wrk.headers["Content-Type"] = "application/octet-stream"
done = function(s, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    s.requests, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.write,
    s.errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
EOF

# CPU ticks (user + system) of a process so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run REP CONNS TARGET: one wrk run against TARGET (ceiling | none | fsync), one line in runs.tsv
run() {
  local rep="$1" c="$2" target="$3" t="$THREADS" load line
  local path="/queues/$QPREFIX-${target}/jobs"
  [[ "$target" == "ceiling" ]] && path="/queues/$QPREFIX-none/jobs"
  [[ "$t" -gt "$c" ]] && t="$c"
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  local pids=("${GATEWAY[$target]}")
  [[ "$target" != "ceiling" ]] && pids+=("${DAEMON[$target]}" "${WORKER[$target]}")
  local before=() after=() p
  for p in "${pids[@]}"; do before+=("$(ticks "$p")"); done
  line="$(wrk -t "$t" -c "$c" -d "${DURATION}s" --timeout 10s -s "$WORK/post.lua" \
    "http://127.0.0.1:${PORT[$target]}$path" 2>&1 | tee -a "$OUT/wrk.log" | grep '^RESULT')" ||
    die "wrk failed against $target (see $OUT/wrk.log)"
  for p in "${pids[@]}"; do after+=("$(ticks "$p")"); done
  local cpu=() i
  for i in "${!pids[@]}"; do cpu+=("$((after[i] - before[i]))"); done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$c" "$target" "$load" "${cpu[*]}" "${line#RESULT }" \
    >>"$OUT/runs.tsv"
  log "  rep $rep c=$c $target: ${line#RESULT }"
}

start_ceiling
start_queue none
start_queue fsync
log "load at start: $(cat /proc/loadavg); $(nproc) cores; ${DURATION}s runs, connections $CONNECTIONS, $REPS rounds"
echo "# start $(date -u +%FT%TZ) loadavg $(cat /proc/loadavg) nproc $(nproc) clk_tck $(getconf CLK_TCK) duration $DURATION threads $THREADS payload $PAYLOAD producers ${PRODUCERS:-4}" \
  >"$OUT/runs.tsv"
# Warm up each target once (connections, page cache, the WAL's first segment), unrecorded.
for target in ceiling none fsync; do
  wrk -t 1 -c 4 -d 1s -s "$WORK/post.lua" "http://127.0.0.1:${PORT[$target]}/queues/$QPREFIX-${target/ceiling/none}/jobs" >/dev/null 2>&1 || true
done
for rep in $(seq 1 "$REPS"); do
  for c in $CONNECTIONS; do
    for target in ceiling none fsync; do run "$rep" "$c" "$target"; done
  done
done
echo "# end $(date -u +%FT%TZ) loadavg $(cat /proc/loadavg)" >>"$OUT/runs.tsv"
if [[ "$PERF" -eq 1 ]]; then
  c="${CONNECTIONS##* }"
  log "perf: none at $c connections (gateway, daemon, worker)"
  perf record -q -F 999 -g -o "$OUT/perf-none.data" \
    -p "${GATEWAY[none]},${DAEMON[none]},${WORKER[none]}" -- sleep "$DURATION" 2>>"$OUT/perf.log" &
  perf_pid=$!
  wrk -t "$THREADS" -c "$c" -d "${DURATION}s" -s "$WORK/post.lua" \
    "http://127.0.0.1:${PORT[none]}/queues/$QPREFIX-none/jobs" >>"$OUT/wrk.log" 2>&1 || true
  wait "$perf_pid" || true
  perf report -i "$OUT/perf-none.data" --stdio --no-children -g none --sort pid,dso,symbol 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' |
    cut -c1-160 | head -60 >"$OUT/perf-none.txt" || true
  log "perf: top symbols in $OUT/perf-none.txt"
fi
for mode in none fsync; do
  "$BIN/taskring" stat --queue "$QPREFIX-$mode" >"$OUT/stat-$mode.txt" 2>&1 || true
done

/usr/bin/python3 - "$OUT/runs.tsv" <<'PY' | tee "$OUT/table.md"
import collections, statistics, sys
runs, clk, dur = [], 100, 1
for line in open(sys.argv[1]):
    if line.startswith("#"):
        f = line.split()
        if "clk_tck" in f: clk = int(f[f.index("clk_tck") + 1])
        print(line.strip())
        continue
    rep, c, target, load, cpu, res = line.rstrip("\n").split("\t")
    kv = dict(x.split("=") for x in res.split())
    kv = {k: int(v) for k, v in kv.items()}
    secs = kv["duration_us"] / 1e6
    ok = kv["requests"] - kv["status_errors"]
    runs.append(dict(rep=int(rep), c=int(c), target=target, load=float(load.split()[0]),
                     cpu=[int(x) / clk / secs * 100 for x in cpu.split()], rps=ok / secs,
                     bad=kv["status_errors"], sock=kv["connect"] + kv["read"] + kv["write"] + kv["timeout"],
                     p50=kv["p50_us"] / 1000, p99=kv["p99_us"] / 1000, p999=kv["p999_us"] / 1000))
by = collections.defaultdict(list)
for r in runs: by[(r["c"], r["target"])].append(r)
med = statistics.median
print()
print("| conns | target | 202/s median | range (runs) | p50 ms | p99 ms | p99.9 ms | ÷ ceiling (median of pairs) | non-2xx | socket errors | CPU % (gateway, daemon, worker) | load 1-min |")
print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|")
for c in sorted({r["c"] for r in runs}):
    ceil = {r["rep"]: r["rps"] for r in by[(c, "ceiling")]}
    for target in ("ceiling", "none", "fsync"):
        rs = by[(c, target)]
        if not rs: continue
        rps = [r["rps"] for r in rs]
        ratio = ""
        if target != "ceiling":
            pairs = [r["rps"] / ceil[r["rep"]] for r in rs if ceil.get(r["rep"])]
            ratio = f"{med(pairs):.2f}×" if pairs else ""
        cpu = ", ".join(f"{med([r['cpu'][i] for r in rs]):.0f}" for i in range(len(rs[0]["cpu"])))
        loads = [r["load"] for r in rs]
        print(f"| {c} | {target} | {med(rps):,.0f} | {min(rps):,.0f}–{max(rps):,.0f} ({len(rs)}) | "
              f"{med([r['p50'] for r in rs]):.2f} | {med([r['p99'] for r in rs]):.2f} | "
              f"{med([r['p999'] for r in rs]):.2f} | {ratio} | {sum(r['bad'] for r in rs)} | "
              f"{sum(r['sock'] for r in rs)} | {cpu} | {min(loads):.2f}–{max(loads):.2f} |")
PY
log "results in $OUT"
