#!/usr/bin/env bash
# PutRecords throughput over HTTP/2 (h2c with prior knowledge) against HTTP/1.1, with h2load
# (nghttp2-client) driving a Release `tideline serve`, started afresh (new data directory) for
# every run. The two protocols run in alternating rounds, each first every other round, so that
# what else the machine does weighs on both alike; the median of each is reported with their
# ratio.
#
#   bench/h2_vs_h1.sh                       5 rounds of 10000 PutRecords per protocol
#   H2B_ROUNDS=3 H2B_REQUESTS=5000 bench/h2_vs_h1.sh
#
# Environment (all optional):
#   H2B_ROUNDS=5            rounds per protocol
#   H2B_REQUESTS=10000      PutRecords calls per run
#   H2B_CONNECTIONS=8       h2load -c
#   H2B_STREAMS=1           h2load -m: requests in flight per connection (HTTP/1.1 pipelines
#                           that many)
#   H2B_RECORDS=100         records per PutRecords, of H2B_RECORD_SIZE bytes each
#   H2B_RECORD_SIZE=1024
#   H2B_SHARDS=4
#   H2B_DURABILITY=fsync    or none
#   H2B_PORT=45681          port the server listens on (127.0.0.1)
#   BUILD_DIR=build         a Release tree (built here unless H2B_SKIP_BUILD=1)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${H2B_ROUNDS:-5}
requests=${H2B_REQUESTS:-10000}
connections=${H2B_CONNECTIONS:-8}
streams=${H2B_STREAMS:-1}
records=${H2B_RECORDS:-100}
record_size=${H2B_RECORD_SIZE:-1024}
shards=${H2B_SHARDS:-4}
durability=${H2B_DURABILITY:-fsync}
port=${H2B_PORT:-45681}
build_dir=${BUILD_DIR:-build}

for tool in h2load curl python3; do
  command -v "$tool" >/dev/null || { echo "h2_vs_h1: $tool is missing (scripts/setup)" >&2; exit 1; }
done
if [[ "${H2B_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j "${TIDELINE_JOBS:-2}" --target tideline >/dev/null
fi
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$build_dir/CMakeCache.txt" ||
  echo "h2_vs_h1: warning: $build_dir is not a Release tree" >&2

# On the build tree's disk: fsync on tmpfs measures nothing.
work=$(mktemp -d "$build_dir/h2-vs-h1.XXXXXX")
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh server and stream for every run: the store grows by ~1 GB a run and compaction slows
# later runs, which must not count against whichever protocol runs second. Runs go in command
# substitutions (subshells): each stops its own server, also when it fails.
start_server() {
  rm -rf "$work/data"
  "$build_dir/cli/tideline" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
    --durability "$durability" --log-level warn >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    curl -sf "${url}health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  call CreateStream "{\"StreamName\":\"h2b\",\"ShardCount\":$shards}" >/dev/null
  for _ in $(seq 300); do
    call DescribeStreamSummary '{"StreamName":"h2b"}' | grep -q '"StreamStatus":"ACTIVE"' && break
    sleep 0.1
  done
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

call() {
  curl -sS -X POST -H "X-Amz-Target: Kinesis_20131202.$1" \
    -H 'Content-Type: application/x-amz-json-1.1' -d "$2" "$url"
}
url="http://127.0.0.1:$port/"

python3 - "$work/body.json" "$records" "$record_size" <<'EOF'
import base64, json, sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
records = [{"Data": base64.b64encode(bytes([65 + i % 26]) * size).decode(),
            "PartitionKey": f"key-{i}"} for i in range(n)]
with open(path, "w") as f:
    json.dump({"StreamName": "h2b", "Records": records}, f)
EOF

run() {  # run h1|h2 -> requests/s, after checking every request succeeded
  local flag=() out
  [[ "$1" == h1 ]] && flag=(--h1)
  start_server
  out=$(h2load "${flag[@]}" -n "$requests" -c "$connections" -m "$streams" -d "$work/body.json" \
    -H 'x-amz-target: Kinesis_20131202.PutRecords' \
    -H 'content-type: application/x-amz-json-1.1' "$url")
  if ! grep -q "status codes: $requests 2xx" <<<"$out"; then
    echo "h2_vs_h1: $1 round had failures:" >&2
    echo "$out" >&2
    stop_server
    exit 1
  fi
  stop_server
  awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$out"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

h1=()
h2=()
for r in $(seq "$rounds"); do
  # Either protocol goes first every other round.
  if ((r % 2)); then
    h1+=("$(run h1)")
    h2+=("$(run h2)")
  else
    h2+=("$(run h2)")
    h1+=("$(run h1)")
  fi
  echo "round $r: HTTP/1.1 ${h1[-1]} req/s, HTTP/2 ${h2[-1]} req/s"
done
m1=$(printf '%s\n' "${h1[@]}" | median)
m2=$(printf '%s\n' "${h2[@]}" | median)
echo "command (each run): h2load [--h1] -n $requests -c $connections -m $streams -d body.json" \
  "-H 'x-amz-target: Kinesis_20131202.PutRecords'" \
  "-H 'content-type: application/x-amz-json-1.1' $url"
echo "body: PutRecords of $records records x $record_size bytes; $shards shards; durability $durability"
awk -v a="$m1" -v b="$m2" -v r="$records" 'BEGIN {
  printf "median HTTP/1.1: %.1f req/s (%.0f records/s)\n", a, a * r
  printf "median HTTP/2:   %.1f req/s (%.0f records/s)\n", b, b * r
  printf "HTTP/2 / HTTP/1.1: %.1f%%\n", 100 * b / a }'
