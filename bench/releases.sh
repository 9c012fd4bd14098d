#!/usr/bin/env bash
# Release benchmarks (issue 3): materialization vs tar -xzf, publish-to-active, rollback latency.
# Usage: bench/releases.sh   (builds test classes if needed; takes about two minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mvn -B -q -DskipTests test-compile dependency:build-classpath -pl server -am \
  -Dmdep.outputFile="$work/cp.txt" -Dmdep.includeScope=test

# A 50 MB, 5,000-file app: text-like content, so gzip behaves as on real source trees.
python3 - "$work/big" <<'PY'
import os, random, sys
root = sys.argv[1]
random.seed(7)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(2, 9))) for _ in range(5000)]
for i in range(5000):
    d = os.path.join(root, "app", f"dir{i % 50:02d}", f"sub{i % 7}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:04d}.md"), "w") as f:
        n = 0
        while n < 10_000:
            line = ' '.join(random.choice(words) for _ in range(12)) + '\n'
            f.write(line); n += len(line)
PY
tar -czf "$work/big.tar.gz" -C "$work/big" app
tar -czf "$work/example.tar.gz" -C examples hello-agent
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1)"
java -cp "server/target/classes:server/target/test-classes:api/target/classes:$(cat "$work/cp.txt")" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -DKARTA_LOG_LEVEL=WARN \
  dev.karta.server.bench.ReleaseBench "$work/big.tar.gz" "$work/example.tar.gz" 2> "$work/server.log"
