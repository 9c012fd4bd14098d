#!/usr/bin/env bash
# Push-to-live benchmark (issue 4): wall time of `git push` of examples/hello-agent to Karta, from
# start to exit with the release active, next to a plain `git push` of the same commit to a local
# bare repository over file:// in the same run. Each run pushes to a fresh project / fresh bare
# repository, so both sides transfer the whole commit. Reports medians after warm-up and the ratio.
#
#   bench/git-push.sh            # RUNS=15 WARMUP=5 by default
#   RUNS=30 WARMUP=5 bench/git-push.sh
#
# Needs java 17, git and curl; builds the server jar with Maven when it is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-15}"
warmup="${WARMUP:-5}"
jar="$root/server/target/karta-server.jar"
if [ ! -f "$jar" ]; then
  echo "building $jar…" >&2
  (cd "$root" && mvn -B -q -DskipTests -pl server -am package >&2)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# git runs with its own HOME: no user or system config, no prompts.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 LC_ALL=C
mkdir -p "$HOME"
git config --global user.name "Karta Bench"
git config --global user.email bench@karta.invalid
git config --global init.defaultBranch main

key="kt_live_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
KARTA_BOOTSTRAP_KEY="$key" java -jar "$jar" --port 0 --bind 127.0.0.1 --data-dir "$work/data" \
  >"$work/server.log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 1 200); do
  base="$(sed -n 's/^Karta listening on \(http[^ ]*\).*/\1/p' "$work/server.log")"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
hostport="${base#http://}"

cp -r "$root/examples/hello-agent" "$work/app"
cd "$work/app"
git init -q
git add -A
git commit -q -m "hello-agent"
sha="$(git rev-parse HEAD)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

plain_times=()
karta_times=()
total=$((warmup + runs))
for i in $(seq 1 "$total"); do
  git init -q --bare "$work/plain-$i.git"
  t0="$(now_ms)"
  git push "file://$work/plain-$i.git" main >>"$work/push.log" 2>&1
  t1="$(now_ms)"

  t2="$(now_ms)"
  git push "http://bench:$key@$hostport/git/bench-$i.git" main >>"$work/push.log" 2>&1 \
    || { echo "push $i to Karta failed:" >&2; tail -20 "$work/push.log" >&2; exit 1; }
  t3="$(now_ms)"

  project="$(curl -fsS -H "Authorization: Bearer $key" "$base/agent_projects/bench-$i")"
  case "$project" in
    *"\"current_release\":{\"version\":\"v1\",\"commit_sha\":\"$sha\"}"*) ;;
    *) echo "bench-$i has no active v1 after its push returned: $project" >&2; exit 1 ;;
  esac
  if [ "$i" -gt "$warmup" ]; then
    plain_times+=($((t1 - t0)))
    karta_times+=($((t3 - t2)))
  fi
done

plain="$(printf '%s\n' "${plain_times[@]}" | median)"
karta="$(printf '%s\n' "${karta_times[@]}" | median)"
echo "git push of examples/hello-agent ($sha), median of $runs runs after $warmup warm-up runs"
printf '  %-44s %6s ms   (all: %s)\n' "plain git push, file:// bare repository" "$plain" "${plain_times[*]}"
printf '  %-44s %6s ms   (all: %s)\n' "git push to Karta until released (v1 active)" "$karta" "${karta_times[*]}"
awk -v k="$karta" -v p="$plain" 'BEGIN { printf "  ratio Karta / plain: %.1fx (target <= 3x)\n", k / (p > 0 ? p : 1) }'
