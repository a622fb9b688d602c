#!/bin/sh
# Demo of the main job. Filled in as the indexing, search and serve
# features land (issues 3 and 5); today it shows the engine is built.
set -eu
cd "$(dirname "$0")/.."
build/iris version
