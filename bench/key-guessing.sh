#!/usr/bin/env bash
# Key-guessing benchmark: how long a legitimate, not yet cached API key takes to check while
# attackers guess secrets for a known key prefix as fast as they can, compared with no attack.
#   (a) baseline: CHECKS fresh keys, each checked once (GET /whoami), no attack;
#   (b) the same while ATTACKERS concurrent clients send well-formed guesses for the admin key's
#       prefix (a real bcrypt check each, until the throttle answers without one);
# and prints p50/max of (a) and (b), the attackers' request count and how many of their
# requests ran bcrypt (from the server's rate of slow answers). Binds 127.0.0.1 only; stops itself.
#
# Usage: bench/key-guessing.sh     env: ATTACKERS=16 (wrk connections) SECONDS_UNDER_ATTACK=10 CHECKS=10
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
attackers="${ATTACKERS:-16}"
attack_seconds="${SECONDS_UNDER_ATTACK:-10}"
checks="${CHECKS:-10}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
# head closes the pipe early, so tr ends on SIGPIPE: not a failure here.
random_chars() { (LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom || true) | head -c "$1"; }
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
url="http://127.0.0.1:$port"
admin="kt_live_$(random_chars 32)"
printf '%s' "$admin" >"$work/admin.key"

"$root/karta" --version >/dev/null
KARTA_BOOTSTRAP_KEY_FILE="$work/admin.key" "$root/karta" server --port "$port" --data-dir "$work/data" \
  >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do curl -fs -o /dev/null "$url/healthz" && break; sleep 0.1; done

# Fresh keys, never checked yet (their creation does not check them).
new_keys() {
  for i in $(seq 1 "$checks"); do
    curl -fs -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      -d "{\"name\":\"$1-$i\",\"scopes\":[\"read\"]}" "$url/api_keys" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])'
  done
}

# Checks each key once and prints its latency in ms, one per line.
time_checks() {
  while read -r key; do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "$url/whoami" |
      awk '{ printf "%.1f\n", $1 * 1000 }'
    sleep 0.2
  done
}

summary() { sort -n | awk '{ v[NR] = $1 } END { printf "p50 %.1f ms, max %.1f ms (n=%d)", v[int((NR + 1) / 2)], v[NR], NR }'; }

new_keys quiet >"$work/quiet.keys"
new_keys attacked >"$work/attacked.keys"
baseline="$(time_checks <"$work/quiet.keys" | summary)"

prefix="${admin:0:14}"
command -v wrk >/dev/null || { log "wrk is needed (apt-get install wrk)"; exit 1; }
cat >"$work/guess.lua" <<LUA
-- A different well-formed guess for the admin key's prefix on every request.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) math.randomseed(os.time() * 100 + id) end
request = function()
  local chars = {}
  for i = 1, 26 do local n = math.random(1, #alphabet); chars[i] = alphabet:sub(n, n) end
  return wrk.format("GET", "/whoami", { ["Authorization"] = "Bearer $prefix" .. table.concat(chars) })
end
LUA
log "attacking with $attackers connections for ${attack_seconds}s"
wrk -t2 -c"$attackers" -d"${attack_seconds}s" -s "$work/guess.lua" "$url" >"$work/wrk.out" 2>&1 &
attack_pid=$!
sleep 1
under_attack="$(time_checks <"$work/attacked.keys" | summary)"
wait "$attack_pid" || true
totals="$(awk '/requests in/ { n = $1 } /Non-2xx/ { r = $5 } END { print n, r }' "$work/wrk.out")"

echo "key-guessing bench on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  fresh key check, no attack:            $baseline"
echo "  fresh key check, $attackers attackers:           $under_attack"
echo "  attackers' requests: ${totals% *}, answered 401: ${totals#* }"
