#!/usr/bin/env bash
# Push-to-live benchmark (issues 4 and 16): wall time of `git push` of examples/hello-agent to
# Karta, from start to exit with the release active, next to a plain `git push` of the same commit
# to a local bare repository over file:// in the same run. Measured two ways:
#
#   whole commit  each run pushes to a fresh project / fresh bare repository: the key in the URL
#                 (no helper), and git asking the `karta` launcher's credential helper (as
#                 `karta init` sets it up: `git-credential get`, then `store` after the push);
#   small change  each run commits a one-line change and pushes it to the same project and the
#                 same bare repository, the helper in the loop (issue 16: within 3x of plain).
#
# Reports medians after warm-up and the ratios.
#
#   bench/git-push.sh            # RUNS=15 WARMUP=5 by default
#   RUNS=30 WARMUP=5 bench/git-push.sh
#   HELPER=/other/checkout/karta bench/git-push.sh   # another launcher as the helper (a before/after)
#   RUNS=90 bench/git-push.sh    # a project's 90 small pushes: "all:" shows whether they slow down as
#                                # its repository grows (packs are compacted past 8: docs/git-push.md)
#
# Needs java 17, git and curl; builds the server jar with Maven when it is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-15}"
warmup="${WARMUP:-5}"
helper="${HELPER:-$root/karta}"
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
# Each whole-commit run makes a project of its own: room for long runs.
KARTA_BOOTSTRAP_KEY="$key" java -jar "$jar" --port 0 --bind 127.0.0.1 --data-dir "$work/data" \
  --max-projects-per-org 10000 >"$work/server.log" 2>&1 &
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

# The helper as `karta init` configures it, and the login it answers from.
git config --global "credential.$base.helper" "!\"$helper\" git-credential"
mkdir -p "$HOME/.config/karta"
printf 'server = "%s"\napi_key = "%s"\n' "$base" "$key" >"$HOME/.config/karta/config.toml"
chmod 600 "$HOME/.config/karta/config.toml"
unset KARTA_SERVER KARTA_API_KEY

cp -r "$root/examples/hello-agent" "$work/app"
cd "$work/app"
git init -q
git add -A
git commit -q -m "hello-agent"
sha="$(git rev-parse HEAD)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# Fails unless PROJECT's active release is of commit SHA.
released() {
  local project
  project="$(curl -fsS -H "Authorization: Bearer $key" "$base/agent_projects/$1")"
  case "$project" in
    *"\"current_release\":{\"version\":\"v"*"\",\"commit_sha\":\"$2\"}"*) ;;
    *) echo "$1 has no active release of $2 after its push returned: $project" >&2; exit 1 ;;
  esac
}

plain_times=() karta_times=() helper_times=() small_plain_times=() small_helper_times=()
git init -q --bare "$work/small.git"
total=$((warmup + runs))
for i in $(seq 1 "$total"); do
  git init -q --bare "$work/plain-$i.git"
  t0="$(now_ms)"
  git push "file://$work/plain-$i.git" "$sha:refs/heads/main" >>"$work/push.log" 2>&1
  t1="$(now_ms)"

  t2="$(now_ms)"
  git -c "credential.$base.helper=" push "http://bench:$key@$hostport/git/bench-$i.git" "$sha:refs/heads/main" >>"$work/push.log" 2>&1 \
    || { echo "push $i to Karta failed:" >&2; tail -20 "$work/push.log" >&2; exit 1; }
  t3="$(now_ms)"
  released "bench-$i" "$sha"

  t4="$(now_ms)"
  git push "$base/git/helper-$i.git" "$sha:refs/heads/main" >>"$work/push.log" 2>&1 \
    || { echo "push $i to Karta through the helper failed:" >&2; tail -20 "$work/push.log" >&2; exit 1; }
  t5="$(now_ms)"
  released "helper-$i" "$sha"

  echo "change $i" >>"$work/app/README.md"
  git commit -q -am "change $i"
  small="$(git rev-parse HEAD)"
  t6="$(now_ms)"
  git push "file://$work/small.git" main >>"$work/push.log" 2>&1
  t7="$(now_ms)"
  git push "$base/git/small.git" main >>"$work/push.log" 2>&1 \
    || { echo "small push $i to Karta failed:" >&2; tail -20 "$work/push.log" >&2; exit 1; }
  t8="$(now_ms)"
  released small "$small"

  if [ "$i" -gt "$warmup" ]; then
    plain_times+=($((t1 - t0)))
    karta_times+=($((t3 - t2)))
    helper_times+=($((t5 - t4)))
    small_plain_times+=($((t7 - t6)))
    small_helper_times+=($((t8 - t7)))
  fi
done

row() { printf '  %-58s %6s ms   (all: %s)\n' "$1" "$(printf '%s\n' "${@:2}" | median)" "${*:2}"; }
ratio() { awk -v k="$2" -v p="$3" -v what="$1" 'BEGIN { printf "  ratio %s: %.1fx\n", what, k / (p > 0 ? p : 1) }'; }
echo "git push of examples/hello-agent ($sha), median of $runs runs after $warmup warm-up runs"
echo "helper: $helper"
row "plain git push, file:// bare repository (whole commit)" "${plain_times[@]}"
row "push to Karta until released, key in the URL" "${karta_times[@]}"
row "push to Karta until released, credential helper" "${helper_times[@]}"
row "small change: plain git push, file:// bare repository" "${small_plain_times[@]}"
row "small change: push to Karta until released, helper" "${small_helper_times[@]}"
plain="$(printf '%s\n' "${plain_times[@]}" | median)"
ratio "Karta key in URL / plain (whole commit)" "$(printf '%s\n' "${karta_times[@]}" | median)" "$plain"
ratio "Karta with helper / plain (whole commit)" "$(printf '%s\n' "${helper_times[@]}" | median)" "$plain"
ratio "Karta with helper / plain (small change, target <= 3x)" \
  "$(printf '%s\n' "${small_helper_times[@]}" | median)" "$(printf '%s\n' "${small_plain_times[@]}" | median)"
