#!/bin/sh
# Idempotent dependency installer for iris on Debian 12 (bookworm).
#
#   tools/install-deps.sh          system packages + Python tool venv (.venv)
#   tools/install-deps.sh --system only the Debian packages
#
# Used by both README commands (./run.sh demo, ./run.sh test). Safe to run
# again: apt and pip skip what is already present; a stamp file skips the
# slow apt step when the package list has not changed.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config clang make git ca-certificates curl
 libsqlite3-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev libtiff-dev libexif-dev
 libmupdf-dev libgumbo-dev libjbig2dec0-dev libmujs-dev libopenjp2-7-dev libfreetype-dev libharfbuzz-dev
 libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-chi-sim
 libssl-dev libutf8proc-dev libopenblas-dev libcurl4-openssl-dev libmicrohttpd-dev libcjson-dev
 libhnswlib-dev libfaiss-dev wrk hyperfine chromium chromium-driver
 fonts-dejavu-core fonts-wqy-microhei python3 python3-venv"

stamp=.venv/.apt-stamp
want=$(echo "$PKGS" | tr -s ' \n' '  ' | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  missing=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null | awk '$4!="installed"{print $1}' || true)
  # dpkg-query prints nothing for unknown packages: compare counts too.
  known=$(dpkg-query -W -f='${Package}\n' $PKGS 2>/dev/null | wc -l || true)
  if [ -n "$missing" ] || [ "$known" -lt "$(echo $PKGS | wc -w)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $PKGS
  fi
fi

[ "${1:-}" = "--system" ] && exit 0

# Python tools (reference goldens, fixture training, converters, e2e tests).
# torch is pinned to the CPU build; see docs/DEVELOPING.md.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import torch, transformers, ftfy, regex, safetensors, numpy, PIL, gguf, pytest, playwright' 2>/dev/null; then
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -r tools/requirements.txt
  # open_clip is read only for its tokenizer and BPE file; its torchvision
  # dependency does not import beside the CPU torch wheel, so skip deps.
  .venv/bin/pip install -q --no-deps open_clip_torch==3.3.0
fi
mkdir -p .venv && echo "$want" > "$stamp"
