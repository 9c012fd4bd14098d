#!/usr/bin/env bash
# Release files in the database (--storage database): on the embedded PostgreSQL, the time to keep
# a release of FILES text files and MEGABYTES MB (archive and packed tree into the database), and
# the time a server with an empty cache takes to check its tree out, over RUNS fresh caches.
# Usage: bench/release-cache.sh [files=5000] [megabytes=50] [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -o -pl server -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="server/target/test-classes:server/target/classes:api/target/classes:$(cat server/target/bench.classpath)"
exec java ${BENCH_JAVA_OPTS:-} -Dlogback.configurationFile=bench/logback-bench.xml -cp "$cp" \
  dev.karta.server.dbstorage.ReleaseCacheBench "$@"
