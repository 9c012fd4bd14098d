#!/usr/bin/env bash
# Issue 6 benchmark: 1,000 tailing SSE clients on one server (loopback), bounded in time.
# Prints write throughput without and with tailers, the server's heap and threads with the
# tailers connected, and write-to-receipt latency percentiles over every delivered entry.
# Usage: bench/logs.sh [CLIENTS=1000] [RATE=50 entries/s] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-1000}"
rate="${2:-50}"
seconds="${3:-10}"
mvn -B -q -pl server -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
classpath="server/target/classes:server/target/test-classes:$(cat server/target/bench.classpath)"
# The server gets the heap the issue allows it; only warnings are logged, so the figures stay readable.
exec timeout 600 java -Xmx512m -Dlogback.configurationFile=bench/logback-bench.xml -cp "$classpath" \
    dev.karta.server.logs.LogsBench "$clients" "$rate" "$seconds" bench/LogTailers.java
