#!/usr/bin/env bash
# The dashboard's project page with many releases: its server time per load (the request log's
# milliseconds, measured inside the server) and the wall time curl sees on loopback, p50/p95/max
# over LOADS loads, for a project with 20 uploaded trees and 180 config releases (200 in all).
# Usage: KARTA_SERVER=http://127.0.0.1:7070 KARTA_API_KEY=kt_live_… bench/dashboard.sh [LOADS] [SERVER_LOG]
# SERVER_LOG: the server's standard output, to read its request log (optional).
set -euo pipefail
server="${KARTA_SERVER:?set KARTA_SERVER}"; key="${KARTA_API_KEY:?set KARTA_API_KEY}"
loads="${1:-100}"; server_log="${2:-}"
project="dash-bench-$$"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
auth=(-H "Authorization: Bearer $key")
json=(-H 'Content-Type: application/json')
curl -fsS "${auth[@]}" "${json[@]}" -d "{\"name\":\"$project\"}" "$server/agent_projects" >/dev/null
for i in $(seq 1 20); do
  mkdir -p "$work/app/.claude"; echo "# bench $i" > "$work/app/CLAUDE.md"; echo '{}' > "$work/app/.claude/settings.json"
  tar czf "$work/app.tgz" -C "$work/app" .
  deploy=$(curl -fsS "${auth[@]}" -H 'Content-Type: application/gzip' --data-binary @"$work/app.tgz" \
    "$server/agent_projects/$project/releases" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  until curl -fsS "${auth[@]}" "$server/agent_projects/$project/deploys/$deploy" | grep -Eq '"status" *: *"(succeeded|failed)"'; do sleep 0.1; done
done
for i in $(seq 1 180); do
  curl -fsS -X PATCH "${auth[@]}" "${json[@]}" -d "{\"set\":{\"BENCH_VAR\":\"value-$i\"}}" \
    "$server/agent_projects/$project/config" >/dev/null
done
releases=$(curl -fsS "${auth[@]}" "$server/agent_projects/$project/releases" | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["releases"]))')

# Sign in as a browser does: the form's CSRF cookie and field, then the session cookie.
jar="$work/cookies"
csrf=$(curl -fsS -c "$jar" "$server/sign-in" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -fsS -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "key=$key" "$server/sign-in"
page="$server/projects/$project"
size=$(curl -fsS -b "$jar" -o "$work/page.html" -w '%{size_download}' "$page")
grep -q "data-version=\"v$releases\"" "$work/page.html" || { echo "the page does not show v$releases" >&2; exit 1; }
for i in $(seq 1 5); do curl -fsS -b "$jar" -o /dev/null "$page"; done   # warm-up
for i in $(seq 1 "$loads"); do curl -fsS -b "$jar" -o /dev/null -w '%{time_total}\n' "$page"; done > "$work/times"
stats() { sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, p95 %.1f ms, max %.1f ms", a[int(NR*0.5)+1], a[int(NR*0.95)], a[NR]}'; }
echo "project page, $releases releases, $size bytes, $loads loads"
echo "  wall (curl, loopback): $(awk '{print $1 * 1000}' "$work/times" | stats)"
if [ -n "$server_log" ]; then
  echo "  server time (request log): $(grep "GET /projects/$project 200 " "$server_log" | tail -n "$loads" \
    | sed -n 's/.* 200 \([0-9]*\)ms .*/\1/p' | stats)"
fi
curl -fsS -X DELETE "${auth[@]}" "$server/agent_projects/$project" >/dev/null
