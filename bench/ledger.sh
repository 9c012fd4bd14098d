#!/usr/bin/env bash
# The ledger's cost: how long a config change (a new release and its audit event, both chained)
# takes, and how long GET /audit_events/verify takes per entry, against a running server.
# Usage: KARTA_SERVER=http://127.0.0.1:7070 KARTA_API_KEY=kt_live_… bench/ledger.sh [CHANGES]
set -euo pipefail
server="${KARTA_SERVER:?set KARTA_SERVER}"; key="${KARTA_API_KEY:?set KARTA_API_KEY}"
changes="${1:-500}"
project="ledger-bench-$$"
auth=(-H "Authorization: Bearer $key" -H 'Content-Type: application/json')
curl -fsS "${auth[@]}" -d "{\"name\":\"$project\"}" "$server/agent_projects" >/dev/null
here="$(cd "$(dirname "$0")/.." && pwd)"
tar czf /tmp/$project.tgz -C "$here/examples" hello-agent
deploy=$(curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: application/gzip' \
  --data-binary @/tmp/$project.tgz "$server/agent_projects/$project/releases" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
until curl -fsS "${auth[@]}" "$server/agent_projects/$project/deploys/$deploy" | grep -q '"status" *: *"succeeded"'; do sleep 0.2; done
start=$(date +%s%N)
for i in $(seq 1 "$changes"); do
  curl -fsS -X PATCH "${auth[@]}" -d "{\"set\":{\"BENCH_VAR\":\"value-$i\"}}" \
    "$server/agent_projects/$project/config" >/dev/null
done
end=$(date +%s%N)
echo "config changes: $changes in $(( (end - start) / 1000000 )) ms, $(( (end - start) / 1000 / changes )) µs each (new release + audit event, both chained)"
start=$(date +%s%N)
answer=$(curl -fsS "${auth[@]}" "$server/audit_events/verify")
end=$(date +%s%N)
checked=$(echo "$answer" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["checked"] if d["ok"] else "BROKEN "+str(d))')
echo "verify: $checked entries in $(( (end - start) / 1000000 )) ms, $(( (end - start) / 1000 / checked )) µs per entry"
curl -fsS -X DELETE "${auth[@]}" "$server/agent_projects/$project" >/dev/null
rm -f /tmp/$project.tgz
