#!/usr/bin/env bash
# CLI start-up benchmark (issue 16): wall time of the `karta` launcher for `projects list`,
# `whoami` and `--version` against a running server, median of RUNS runs after WARMUP runs (the
# first run of a new jar also trains its class-data or AOT archive). Also prints the user+sys CPU
# of each median run, which says more than wall time on a busy machine. A server it starts itself
# is warmed up first (1,000 requests), so that a cold server's slowness is not counted as the CLI's.
#
#   bench/cli-start.sh                      # starts its own server; RUNS=20 WARMUP=3
#   KARTA_SERVER=http://127.0.0.1:7070 KARTA_API_KEY=kt_live_… bench/cli-start.sh   # a running one
#   JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 bench/cli-start.sh                   # another JDK
#
# Needs java 17+, curl; the launcher builds the jars with Maven when they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-20}"
warmup="${WARMUP:-3}"
karta="$root/karta"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$karta" --version >/dev/null # builds the jars if needed, outside the timings
java_cmd="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if [ -z "${KARTA_SERVER:-}" ] || [ -z "${KARTA_API_KEY:-}" ]; then
  key="kt_live_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  KARTA_BOOTSTRAP_KEY="$key" "$java_cmd" -jar "$root/server/target/karta-server.jar" --port 0 --bind 127.0.0.1 \
    --data-dir "$work/data" >"$work/server.log" 2>&1 &
  server_pid=$!
  base=""
  for _ in $(seq 1 600); do
    base="$(sed -n 's/^Karta listening on \(http[^ ]*\).*/\1/p' "$work/server.log")"
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$base" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
  export KARTA_SERVER="$base" KARTA_API_KEY="$key"
  for name in shop-agent support-bot docs-helper; do
    curl -fsS -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d "{\"name\":\"$name\"}" "$base/agent_projects"
  done
  # The figure is the CLI's: a server that has just started answers its first requests slowly
  # (interpreted code) and compiles on both cores for a while, which would land on the CLI's time.
  # So the routes the runs call are warmed first, as a server in use is, and its compiler let settle.
  urls=()
  for _ in $(seq 1 500); do urls+=("$base/agent_projects" "$base/whoami"); done
  curl -fsS -H "Authorization: Bearer $key" "${urls[@]}" >/dev/null
  sleep 3
fi
# A home of its own: no saved login, no user config.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# One run: wall ms and user+sys CPU ms of the launcher and everything it started.
measure() {
  local t0 t1 cpu
  t0=$(date +%s%N)
  cpu="$( { TIMEFORMAT='%3U %3S'; time "$karta" "$@" >/dev/null 2>"$work/err"; } 2>&1 )" \
    || { echo "karta $* failed:" >&2; cat "$work/err" >&2; exit 1; }
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $(awk '{ printf "%d", ($1 + $2) * 1000 }' <<<"$cpu")"
}

echo "karta CLI start-up, median of $runs runs after $warmup warm-up runs; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "java: $("$java_cmd" -version 2>&1 | head -1)"
for command in "projects list" "whoami" "--version"; do
  # shellcheck disable=SC2086 # the command is words on purpose
  for _ in $(seq 1 "$warmup"); do measure $command >/dev/null; done
  walls=() cpus=()
  for _ in $(seq 1 "$runs"); do
    # shellcheck disable=SC2086
    read -r wall cpu < <(measure $command)
    walls+=("$wall") cpus+=("$cpu")
  done
  printf '  karta %-14s wall %5s ms   cpu %5s ms   (wall: %s)\n' "$command" \
    "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" "${walls[*]}"
done
