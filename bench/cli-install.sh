#!/usr/bin/env bash
# Installed-CLI benchmark: with the archives `mvn package` made (cli/target), measures on this
# machine
#   (a) `npm install -g --prefix TMP` of the packed npm package to the first answered
#       `karta projects list` (the first run also trains the class-data archive), median of RUNS,
#   (b) the same with the tar.gz and its install.sh,
#   (c) wall time of `karta --version` and `karta projects list` once installed (median of CLI_RUNS),
#       through the npm shim, the tar.gz launcher and, for reference under the same load, the
#       repository's own ./karta launcher.
# A server on a free loopback port, killed on exit. Needs the jars built: mvn -B -DskipTests package
#
# Usage: bench/cli-install.sh          env: RUNS=3 CLI_RUNS=20
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n '/<artifactId>karta-parent<\/artifactId>/{n;s:.*<version>\(.*\)</version>.*:\1:p;q;}' "$root/pom.xml")"
npm_package="$root/cli/target/npm/karta-cli-$version.tgz"
archive="$root/cli/target/karta-cli-$version.tar.gz"
runs="${RUNS:-3}"
cli_runs="${CLI_RUNS:-20}"
for f in "$npm_package" "$archive" "$root/server/target/karta-server.jar"; do
  [ -f "$f" ] || { echo "bench: $f is missing; run mvn -B -DskipTests package" >&2; exit 1; }
done

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
key="kt_live_BenchAdminKey0123456789abcdefABC"
KARTA_BOOTSTRAP_KEY="$key" java -jar "$root/server/target/karta-server.jar" --bind 127.0.0.1 --port "$port" \
  --data-dir "$work/data" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.1
done
export KARTA_SERVER="http://127.0.0.1:$port" KARTA_API_KEY="$key"
curl -fs -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"name":"shop"}' "$KARTA_SERVER/agent_projects"

npm_times=(); tar_times=()
for i in $(seq 1 "$runs"); do
  home="$work/home-npm-$i"; mkdir -p "$home"
  start=$(now_ms)
  HOME="$home" npm install --global --prefix "$work/npm-$i" --offline --no-audit --no-fund --no-update-notifier \
    "$npm_package" >/dev/null 2>&1
  HOME="$home" "$work/npm-$i/bin/karta" projects list | grep -q shop
  npm_times+=($(( $(now_ms) - start )))

  home="$work/home-tar-$i"; mkdir -p "$home"
  start=$(now_ms)
  mkdir -p "$work/tar-$i" && tar -xzf "$archive" -C "$work/tar-$i"
  HOME="$home" sh "$work/tar-$i/karta-cli-$version/install.sh" --prefix "$work/prefix-$i" >/dev/null
  HOME="$home" "$work/prefix-$i/bin/karta" projects list | grep -q shop
  tar_times+=($(( $(now_ms) - start )))
done

wall() { # LABEL KARTA HOME ARGS…: median wall time of CLI_RUNS runs
  local label="$1" karta="$2" home="$3"; shift 3
  local times=()
  for _ in $(seq 1 "$cli_runs"); do
    local start; start=$(now_ms)
    HOME="$home" "$karta" "$@" >/dev/null
    times+=($(( $(now_ms) - start )))
  done
  printf '  %-38s %6s ms\n' "$label" "$(printf '%s\n' "${times[@]}" | median)"
}

echo "CLI $version, $(nproc) cores, $(java -version 2>&1 | head -n 1)"
echo "(a) npm install -g to first projects list: median $(printf '%s\n' "${npm_times[@]}" | median) ms (${npm_times[*]})"
echo "(b) tar.gz + install.sh to first projects list: median $(printf '%s\n' "${tar_times[@]}" | median) ms (${tar_times[*]})"
echo "(c) installed, median of $cli_runs:"
wall "npm shim: karta --version" "$work/npm-1/bin/karta" "$work/home-npm-1" --version
wall "npm shim: karta projects list" "$work/npm-1/bin/karta" "$work/home-npm-1" projects list
wall "tar.gz launcher: karta --version" "$work/prefix-1/bin/karta" "$work/home-tar-1" --version
wall "tar.gz launcher: karta projects list" "$work/prefix-1/bin/karta" "$work/home-tar-1" projects list
"$root/karta" --version >/dev/null  # its class-data archive, made once
wall "repository ./karta --version" "$root/karta" "$HOME" --version
wall "repository ./karta projects list" "$root/karta" "$HOME" projects list
