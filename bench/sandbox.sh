#!/usr/bin/env bash
# What the harness sandbox adds to a turn: the same tiny fake harness started N times directly,
# through the launcher, and through the sandbox in each mode (bubblewrap, network, overlay).
# Usage: bench/sandbox.sh [runs per mode=100]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -o -pl server -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="server/target/test-classes:server/target/classes:api/target/classes:$(cat server/target/bench.classpath)"
exec java ${BENCH_JAVA_OPTS:-} -cp "$cp" dev.karta.server.process.SandboxBench "$@"
