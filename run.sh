#!/bin/sh
# The two set-up commands of iris (see README.md):
#
#   ./run.sh demo   install deps, build, index the demo data, search it,
#                   then serve the web UI on http://127.0.0.1:8080
#   ./run.sh test   install deps, build (gcc and clang, -Werror), run the
#                   whole suite, then run it again under ASan + UBSan
#
# Both are idempotent and work on a fresh Debian 12 machine (root or sudo).
set -eu
cd "$(dirname "$0")"
JOBS=$(nproc 2>/dev/null || echo 2)

case "${1:-}" in
demo)
    tools/install-deps.sh
    make -j"$JOBS"
    tools/demo.sh
    ;;
test)
    tools/install-deps.sh
    make -j"$JOBS" check-tests
    make -j"$JOBS" CC=clang BUILD=build/clang all
    make -j"$JOBS" SAN=1 check-tests
    # One run over both builds; the last line is "N passed, N failed".
    exec .venv/bin/python tests/run.py --build build --build build/asan
    ;;
*)
    echo "usage: ./run.sh demo | test" >&2
    exit 2
    ;;
esac
