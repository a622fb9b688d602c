#!/bin/sh
# serve_load.sh - load benchmark of `iris serve`: wrk against GET /api/search
# (hybrid: text embedding + vector lane + BM25 + RRF + JSON) on a synthetic
# index, with the server's RSS sampled every second and its CPU time over
# the measured run (CPU per request is the steadier number on a shared
# machine).
#
#   make bench && bench/serve_load.sh MODEL [N_ITEMS] [SECONDS] [CONNECTIONS]
#   MODE=keyword bench/serve_load.sh ...     # BM25 only: no query embedding
#
# MODEL: a ViT-B/32-shaped model gives realistic numbers (embedding time
# depends on the shape, not the weights: e.g. the seeded random model
# tests/py/test_reference_full.py writes to models/full/b32); the tiny
# fixture model (tests/fixtures/models/tiny-hf) measures the server itself.
# The index is build/bench/search_bench's (N items, half text chunks of
# Zipf words, half images, random unit vectors), kept in $DIR.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/serve_load.sh MODEL [N_ITEMS] [SECONDS] [CONNECTIONS]}
N=${2:-10000}
SECS=${3:-30}
CONN=${4:-16}
DIR=${DIR:-/tmp/iris_serve_bench}
IRIS=${IRIS:-build/iris}

build/bench/search_bench "$MODEL" "$N" 5 "$DIR" > "$DIR.build.txt"
"$IRIS" serve --db "$DIR/index.db" --port 0 --quiet > "$DIR/serve.out" 2> "$DIR/serve.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
sleep 0.5
PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$DIR/serve.out")
URL=http://127.0.0.1:$PORT
until curl --noproxy '*' -sf "$URL/api/health" > /dev/null; do sleep 0.2; done

# Warm-up (thread arenas, caches, the map), then the measured run.
wrk -t2 -c"$CONN" -d5s -s bench/serve_load.lua "$URL" > /dev/null
# VmRSS, and its anonymous (heap) and file-backed (mapped index files) parts, in KiB.
rss() { awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2} END {print ""}' /proc/$PID/status; }
cpu_ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
( while kill -0 $PID 2>/dev/null; do rss; sleep 1; done ) > "$DIR/rss.txt" &
SAMPLER=$!
CPU0=$(cpu_ticks)
wrk -t2 -c"$CONN" -d"${SECS}s" --timeout 10s --latency -s bench/serve_load.lua "$URL" | tee "$DIR/wrk.txt"
CPU1=$(cpu_ticks)
kill $SAMPLER
REQS=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$DIR/wrk.txt")
echo "SERVER_CPU seconds=$(echo "($CPU1 - $CPU0) / $(getconf CLK_TCK)" | bc -l | cut -c1-6)" \
     "ms_per_request=$(echo "($CPU1 - $CPU0) * 1000 / $(getconf CLK_TCK) / $REQS" | bc -l | cut -c1-6)"
kill -TERM $PID
wait $PID || true
trap - EXIT
awk 'NR == 1 {first = $1; a0 = $2; f0 = $3} {if ($1 > max) max = $1; last = $1; a1 = $2; f1 = $3}
     END {printf "RSS_KB start=%d max=%d end=%d (anon %d -> %d, file %d -> %d) samples=%d\n",
          first, max, last, a0, a1, f0, f1, NR}' "$DIR/rss.txt"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
