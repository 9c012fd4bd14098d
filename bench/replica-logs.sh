#!/usr/bin/env bash
# Cross-replica log delivery: two servers on one embedded PostgreSQL; 200 lines are appended on one
# (5–30 ms apart) and tailed over SSE (`GET …/logs?tail=true`, as `karta logs --tail` does) on the
# other. Prints p50, p99 and max of append-to-receipt latency. The target is p99 ≤ 250 ms.
# Usage: bench/replica-logs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
mvn -B -q -pl server -am test -Dtest='CrossServerLogTest#a_tail_on_one_server*' \
    -Dsurefire.failIfNoSpecifiedTests=false
grep -h "cross-server log delivery" server/target/surefire-reports/dev.karta.server.logs.CrossServerLogTest-output.txt
