#!/bin/sh
# Demo of the main job (./run.sh demo): generate a small folder of mixed data, index it with
# the project's tiny CLIP (models/tiny-clip, trained on generated shapes), then search it.
#
#   data: 60 shape pictures from tools/shapes.py (their captions are known), 5 pictures of
#   known words (OCR'd), an illustrated PDF written by tools/make_pdf.py (text pages and
#   figures), a text file and a Markdown note, in build/demo/data (git-ignored).
#
# Everything is regenerated from seeds, so the demo is the same on every machine; a second
# run re-indexes nothing. Last, iris serve shows the index in the web UI until Ctrl+C
# (PORT=... picks another port).
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
IRIS=build/iris
MODEL=models/tiny-clip
DEMO=build/demo
DB=$DEMO/index.db

$IRIS version

if [ ! -d "$DEMO/data" ]; then
    echo "== generating demo data in $DEMO/data"
    mkdir -p "$DEMO/data/notes"
    "$PY" tools/shapes.py --out "$DEMO/data/shapes" --n 60 --seed 7 --size 128 \
        --text-out "$DEMO/data/words"
    rm -f "$DEMO/data/shapes/captions.tsv" "$DEMO/data/words/words.tsv" # answers stay out
    "$PY" tools/make_pdf.py --out "$DEMO/data/field-guide.pdf" --demo "$DEMO/data/shapes" \
        --figures 4
    cat > "$DEMO/data/notes/lighthouse.txt" <<'EOF'
The lighthouse keeper climbed one hundred steps every night to light the lamp above the
harbour. Ships that saw the beam steered clear of the rocks at the mouth of the bay.
EOF
    cat > "$DEMO/data/notes/shapes.md" <<'EOF'
# Notes on shapes

A **red circle** on the left marks the start; a blue square marks the end.
Stars are yellow. 红色的圆形 means "red circle" in Chinese.
EOF
fi

echo
echo "== iris index --ocr $DEMO/data"
# Exit status 3 (some file skipped) is reported, not fatal, for a demo.
$IRIS index --db "$DB" --model "$MODEL" --ocr "$DEMO/data" || [ $? -eq 3 ]
echo
echo "== iris stats"
$IRIS stats --db "$DB"
for q in "two red circles on the left" "a blue square" "lighthouse" "invoice total" "红色的圆形"; do
    echo
    echo "== iris search \"$q\""
    $IRIS search --db "$DB" -k 5 "$q"
done
first=$(ls "$DEMO/data/shapes" | head -n 1)
echo
echo "== iris search --image $DEMO/data/shapes/$first  (the query itself is left out)"
$IRIS search --db "$DB" -k 5 --type image --image "$DEMO/data/shapes/$first"
echo
echo "== iris serve: the web UI and REST API on http://127.0.0.1:${PORT:-8080}/ (Ctrl+C stops)"
exec $IRIS serve --db "$DB" --port "${PORT:-8080}"
