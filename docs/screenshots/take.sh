#!/usr/bin/env bash
# Regenerates the dashboard screenshots in this folder: starts a throw-away server on port 7199,
# fills it with a small demo (two projects, releases, a config change, keys) through the CLI, then
# has headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core from npm, which is
# installed into a temporary folder and never downloads a browser) sign in and photograph each page.
# Usage: docs/screenshots/take.sh    (from anywhere; needs Java, Node.js with npm, and chromium)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"; port=7199; server="http://127.0.0.1:$port"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -x /usr/bin/chromium ] || { echo "needs Debian's chromium: apt-get install -y chromium" >&2; exit 1; }

"$repo/karta" --version >/dev/null   # builds on first use
"$repo/karta" server --data-dir "$work/data" --port "$port" > "$work/server.log" 2>&1 &
pid=$!
until key=$(grep -o 'kt_live_[A-Za-z0-9]\{32\}' "$work/server.log" | head -1) && [ -n "$key" ]; do sleep 0.3; done
until curl -fsS "$server/readyz" >/dev/null 2>&1; do sleep 0.3; done
export KARTA_SERVER="$server" KARTA_API_KEY="$key" HOME="$work/home"
karta() { "$repo/karta" "$@" >/dev/null; }

app="$work/shop"; cp -r "$repo/examples/hello-agent" "$app"
karta projects create shop
(cd "$app" && karta publish shop)
echo "Answer in two sentences at most." >> "$app/CLAUDE.md"
(cd "$app" && karta publish shop)
karta config set shop MODEL_HINT=fast
echo "Always greet by name." >> "$app/CLAUDE.md"
(cd "$app" && karta publish shop)
karta projects create support-bot
(cd "$app" && karta publish support-bot)
karta keys create github-actions --scope write --expires 90d --project shop
karta keys create on-call --scope admin --expires 30d

npm install --silent --no-audit --no-fund --prefix "$work/npm" playwright-core@1 >/dev/null
KARTA_URL="$server" KARTA_KEY="$key" OUT="$here" NODE_PATH="$work/npm/node_modules" node "$here/take.js"
echo "screenshots written to $here"
