#!/usr/bin/env bash
# Foundation benchmark: measures, on this machine,
#   (a) `karta server` start to the first healthy GET /healthz (median of 5 fresh data dirs),
#   (b) GET /agent_projects throughput and p50/p99 with a valid key (warm key cache),
#   (c) the same with well-formed unknown keys (one repeated key, and a fresh key per request),
#   (d) wall time of `./karta projects list` (median of 10), skipped while the CLI cannot do it,
# and prints them next to the targets. Servers bind 127.0.0.1 only and are killed on exit.
#
# Usage: bench/foundation.sh            env: DURATION=15s CONNECTIONS=50 THREADS=2 STARTS=5 CLI_RUNS=10
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/bench/out"
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-50}"
threads="${THREADS:-2}"
starts="${STARTS:-5}"
cli_runs="${CLI_RUNS:-10}"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$out"/data.*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

random_key() { echo "kt_live_$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"; }

# Starts `karta server` on a free port in a fresh data dir with a preset admin key.
# Sets: server_pid, server_port, server_key, server_dir. Does not wait for it.
launch_server() {
  server_dir="$(mktemp -d "$out/data.XXXXXX")"
  server_port="$(free_port)"
  server_key="$(random_key)"
  KARTA_BOOTSTRAP_KEY="$server_key" "$root/karta" server --bind 127.0.0.1 --port "$server_port" \
    --data-dir "$server_dir" >"$server_dir/server.out" 2>"$server_dir/server.err" &
  server_pid=$!
  pids+=("$server_pid")
}

wait_healthy() {
  local deadline=$(( $(now_ms) + 30000 ))
  until curl -fs -o /dev/null "http://127.0.0.1:$server_port/healthz"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "server exited early; its log:"; cat "$server_dir/server.err" >&2; exit 1
    fi
    if (( $(now_ms) > deadline )); then
      log "server not healthy after 30 s"; exit 1
    fi
    sleep 0.01
  done
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# Runs wrk for $1 against /agent_projects with the other arguments; prints "req_per_s p50_ms p99_ms non2xx".
run_wrk() {
  local result length="$1"
  shift
  result="$(wrk -t"$threads" -c"$connections" -d"$length" --latency "$@" "http://127.0.0.1:$server_port/agent_projects")"
  echo "$result" >>"$out/wrk.log"
  echo "$result" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, non2xx }'
}

mkdir -p "$out"
: >"$out/wrk.log"

log "building jars if needed (./karta --version)"
"$root/karta" --version >/dev/null
command -v curl >/dev/null || { log "curl is needed"; exit 1; }
command -v python3 >/dev/null || { log "python3 is needed (to pick a free port)"; exit 1; }
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing wrk with apt-get"
    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
  fi
fi

# (a) start to first healthy /healthz
start_times=()
for i in $(seq 1 "$starts"); do
  t0="$(now_ms)"
  launch_server
  wait_healthy
  start_times+=($(( $(now_ms) - t0 )))
  stop_server
  rm -rf "$server_dir"
done
start_ms="$(printf '%s\n' "${start_times[@]}" | median)"
log "start times (ms): ${start_times[*]}"

# One server for the rest.
launch_server
wait_healthy
for name in bench-app-1 bench-app-2 bench-app-3; do
  curl -fs -o /dev/null -H "Authorization: Bearer $server_key" -H "Content-Type: application/json" \
    -d "{\"name\":\"$name\"}" "http://127.0.0.1:$server_port/agent_projects"
done

known="n/a n/a n/a 0"; unknown="n/a n/a n/a 0"; unknown_fresh="n/a n/a n/a 0"
if command -v wrk >/dev/null; then
  fresh_lua="$out/fresh-key.lua"
  cat >"$fresh_lua" <<'LUA'
-- A different well-formed, never-issued key on every request.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + id)
end
request = function()
  local chars = {}
  for i = 1, 32 do
    local n = math.random(1, #alphabet)
    chars[i] = alphabet:sub(n, n)
  end
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer kt_live_" .. table.concat(chars) })
end
LUA
  unknown_key="$(random_key)"
  log "warming up the JIT (5 s)"
  run_wrk 5s -H "Authorization: Bearer $server_key" >/dev/null
  log "valid key: wrk -t$threads -c$connections -d$duration"
  known="$(run_wrk "$duration" -H "Authorization: Bearer $server_key")"
  log "one unknown key, repeated"
  unknown="$(run_wrk "$duration" -H "Authorization: Bearer $unknown_key")"
  log "a fresh unknown key per request"
  unknown_fresh="$(run_wrk "$duration" -s "$fresh_lua")"
else
  log "wrk is not installed and could not be installed: skipping throughput"
fi

# (d) CLI wall time
cli_ms="skipped"
cli_note=""
set +e
cli_output="$(KARTA_SERVER="http://127.0.0.1:$server_port" KARTA_API_KEY="$server_key" "$root/karta" projects list 2>&1)"
cli_exit=$?
set -e
if [ "$cli_exit" -eq 0 ] && grep -q "bench-app-2" <<<"$cli_output"; then
  cli_times=()
  for i in $(seq 1 "$cli_runs"); do
    t0="$(now_ms)"
    KARTA_SERVER="http://127.0.0.1:$server_port" KARTA_API_KEY="$server_key" "$root/karta" projects list >/dev/null
    cli_times+=($(( $(now_ms) - t0 )))
  done
  cli_ms="$(printf '%s\n' "${cli_times[@]}" | median)"
  log "CLI times (ms): ${cli_times[*]}"
else
  cli_note="\`karta projects list\` does not list projects yet (exit $cli_exit: $(head -c 80 <<<"$cli_output" | tr '\n' ' '))"
fi
stop_server
cp "$server_dir/server.err" "$out/server.log"
rm -rf "$server_dir"

verdict() { if [ "$1" = "n/a" ] || [ "$1" = "skipped" ]; then echo "-"; elif awk "BEGIN { exit !($2) }"; then echo "ok"; else echo "MISSED"; fi; }

read -r k_rps k_p50 k_p99 k_bad <<<"$known"
read -r u_rps u_p50 u_p99 u_bad <<<"$unknown"
read -r f_rps f_p50 f_p99 f_bad <<<"$unknown_fresh"

echo
echo "Karta foundation benchmark  ($(nproc) cores, $(java -version 2>&1 | head -1); wrk -t$threads -c$connections -d$duration, same host)"
printf '%-44s %12s %10s %10s %-12s %s\n' "measure" "req/s" "p50 ms" "p99 ms" "target" "verdict"
printf '%-44s %12s %10s %10s %-12s %s\n' "(a) start -> healthy /healthz (median of $starts)" "" "$start_ms" "" "<= 2000 ms" \
  "$(verdict "$start_ms" "$start_ms <= 2000")"
printf '%-44s %12s %10s %10s %-12s %s\n' "(b) GET /agent_projects, valid key" "$k_rps" "$k_p50" "$k_p99" ">= 3000/s" \
  "$(verdict "$k_rps" "$k_rps >= 3000 && $k_bad == 0")"
printf '%-44s %12s %10s %10s %-12s %s\n' "(c) same, one unknown key (all 401)" "$u_rps" "$u_p50" "$u_p99" ">= (b)" \
  "$(verdict "$u_rps" "$u_rps >= 0.9 * $k_rps")"
printf '%-44s %12s %10s %10s %-12s %s\n' "(c') same, fresh unknown key per request" "$f_rps" "$f_p50" "$f_p99" ">= (b)" \
  "$(verdict "$f_rps" "$f_rps >= 0.9 * $k_rps")"
printf '%-44s %12s %10s %10s %-12s %s\n' "(d) ./karta projects list (median of $cli_runs)" "" "$cli_ms" "" "<= 600 ms" \
  "$(verdict "$cli_ms" "$cli_ms <= 600")"
[ -n "$cli_note" ] && echo "(d) skipped: $cli_note"
echo "non-2xx answers: valid key $k_bad (expected 0); unknown keys $u_bad and $f_bad (expected all)"
echo "(within 10% counts as 'no slower'; wrk and the server share the $(nproc) cores; raw wrk output: bench/out/wrk.log, server log: bench/out/server.log)"
