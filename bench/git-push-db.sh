#!/usr/bin/env bash
# Push-to-live of a small change with the repository in PostgreSQL (`--storage database`): wall
# time of `git push` of a one-line change to examples/hello-agent, from start to exit with the new
# release active, next to a plain `git push` of the same change to a local bare repository over
# file:// in the same run. Both sides already hold the previous commit, so each push sends only
# the change. A throw-away PostgreSQL (Debian's, under /usr/lib/postgresql) runs on a free port
# in a temporary folder. Reports medians after warm-up and the ratio.
#
#   bench/git-push-db.sh                 # RUNS=15 WARMUP=5 STORAGE=database by default
#   STORAGE=local bench/git-push-db.sh   # the same on PostgreSQL with repositories in the data dir
#
# Needs java 17, git, curl and Debian's postgresql package; builds the server jar when it is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-15}"
warmup="${WARMUP:-5}"
storage="${STORAGE:-database}"
jar="$root/server/target/karta-server.jar"
pgbin="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$pgbin/initdb" ] || { echo "no PostgreSQL binaries (set PGBIN)" >&2; exit 1; }
if [ ! -f "$jar" ]; then
  echo "building $jar…" >&2
  (cd "$root" && mvn -B -q -DskipTests -pl server -am package >&2)
fi

work="$(mktemp -d)"
chmod 755 "$work"
server_pid=""
pg_started=""
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_started" ]; then as_postgres "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as_postgres "$pgbin/initdb" -D "$work/pg" -U karta --auth=trust >"$work/initdb.log" 2>&1
as_postgres "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
  -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
pg_started=1
as_postgres "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U karta karta

# git runs with its own HOME: no user or system config, no prompts.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 LC_ALL=C
mkdir -p "$HOME"
git config --global user.name "Karta Bench"
git config --global user.email bench@karta.invalid
git config --global init.defaultBranch main

key="kt_live_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
KARTA_BOOTSTRAP_KEY="$key" java -jar "$jar" --port 0 --bind 127.0.0.1 --data-dir "$work/data" \
  --database "jdbc:postgresql://127.0.0.1:$pg_port/karta?user=karta" --storage "$storage" \
  >"$work/server.log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(sed -n 's/^Karta listening on \(http[^ ]*\).*/\1/p' "$work/server.log")"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
hostport="${base#http://}"
remote="http://bench:$key@$hostport/git/bench.git"

cp -r "$root/examples/hello-agent" "$work/app"
cd "$work/app"
git init -q
git add -A
git commit -q -m "hello-agent"
git init -q --bare "$work/plain.git"
git push -q "file://$work/plain.git" main
git push -q "$remote" main 2>>"$work/push.log" || { tail -20 "$work/push.log" >&2; exit 1; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

plain_times=()
karta_times=()
total=$((warmup + runs))
for i in $(seq 1 "$total"); do
  echo "change $i" >>CLAUDE.md
  git commit -q -am "change $i"
  sha="$(git rev-parse HEAD)"

  t0="$(now_ms)"
  git push -q "file://$work/plain.git" main >>"$work/push.log" 2>&1
  t1="$(now_ms)"

  t2="$(now_ms)"
  git push "$remote" main >>"$work/push.log" 2>&1 \
    || { echo "push $i to Karta failed:" >&2; tail -20 "$work/push.log" >&2; exit 1; }
  t3="$(now_ms)"

  project="$(curl -fsS -H "Authorization: Bearer $key" "$base/agent_projects/bench")"
  case "$project" in
    *"\"commit_sha\":\"$sha\""*) ;;
    *) echo "bench does not serve $sha after its push returned: $project" >&2; exit 1 ;;
  esac
  if [ "$i" -gt "$warmup" ]; then
    plain_times+=($((t1 - t0)))
    karta_times+=($((t3 - t2)))
  fi
done

packs="$(as_postgres "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U karta -d karta -tAc \
  "SELECT count(*) FROM git_packs WHERE dropped_at IS NULL" 2>/dev/null || echo n/a)"
plain="$(printf '%s\n' "${plain_times[@]}" | median)"
karta="$(printf '%s\n' "${karta_times[@]}" | median)"
echo "git push of a one-line change to examples/hello-agent, --storage $storage on PostgreSQL,"
echo "median of $runs runs after $warmup warm-up runs (listed packs at the end: $packs)"
printf '  %-44s %6s ms   (all: %s)\n' "plain git push, file:// bare repository" "$plain" "${plain_times[*]}"
printf '  %-44s %6s ms   (all: %s)\n' "git push to Karta until released (live)" "$karta" "${karta_times[*]}"
awk -v k="$karta" -v p="$plain" 'BEGIN { printf "  ratio Karta / plain: %.1fx (target <= 3x)\n", k / (p > 0 ? p : 1) }'
