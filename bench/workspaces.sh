#!/usr/bin/env bash
# Workspace benchmark: for a 5,000-file, 50 MB release, the session creation call, the time until
# the session's workspace is ready (prepared in the background), creation then a first answer at
# once, and the bytes on disk per idle session.
# Usage: bench/workspaces.sh [sessions=30] [files=5000] [megabytes=50]
# BENCH_DIR=/some/disk puts the data dir there (default: the system temp folder);
# BENCH_JAVA_OPTS=-Dbench.copies=true measures copies where overlays would be used.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -o -pl server -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="server/target/test-classes:server/target/classes:api/target/classes:$(cat server/target/bench.classpath)"
exec java ${BENCH_JAVA_OPTS:-} ${BENCH_DIR:+-Dbench.dir="$BENCH_DIR"} -cp "$cp" dev.karta.server.sessions.WorkspaceBench "$@"
