#!/usr/bin/env bash
# Issue 7 benchmarks: session creation rate and latency while deploys and rollbacks of the same
# project run in a loop, and the overhead a turn adds over running the harness process directly.
# Usage: bench/sessions.sh [seconds per phase=20] [clients=4] [creations/s paced=100] [turns=200]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -o -pl server -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="server/target/test-classes:server/target/classes:api/target/classes:$(cat server/target/bench.classpath)"
exec java ${BENCH_JAVA_OPTS:-} -cp "$cp" dev.karta.server.sessions.SessionBench "$@"
