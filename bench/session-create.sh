#!/usr/bin/env bash
# Session creation latency while deploys and rollbacks of the same project run in a loop
# (target: p99 <= 20 ms), next to a quiet baseline, in several rounds so that a noisy neighbour
# on the machine shows as an outlier round instead of a wrong figure.
# Usage: bench/session-create.sh [seconds per phase=15] [clients=4] [creations/s paced=100] [rounds=3]
# Validated keys are trusted for an hour here (-Dbench.keyCacheTtl=PT1H; the server's default is 5 s):
# the bcrypt re-check of the key every 5 s is measured by bench/key-guessing.sh, not here.
# BENCH_CLASSES=DIR runs the server classes in DIR instead of this tree's (to compare two builds
# back to back on the same machine); BENCH_JAVA_OPTS adds JVM options (-Dbench.keyCacheTtl=PT5S
# puts the default back).
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -o -pl server -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
classes="${BENCH_CLASSES:-server/target/classes}"
cp="server/target/test-classes:$classes:api/target/classes:$(cat server/target/bench.classpath)"
exec java -Dbench.keyCacheTtl=PT1H ${BENCH_JAVA_OPTS:-} -Dbench.rounds="${4:-3}" -Dbench.creationOnly=true -cp "$cp" \
  dev.karta.server.sessions.SessionBench "${1:-15}" "${2:-4}" "${3:-100}"
