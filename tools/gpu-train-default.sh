#!/bin/sh
# Train the bundled default model on a lent GPU machine (the device tool), from the published
# weights, on freshly painted paintings (painted by 14 workers on the machine's 16 cores).
#
# Here, once (downloads what the GPU machine's image lacks into .whl/, ignored by git):
#     sh tools/gpu-train-default.sh --fetch-wheels
# There, one prepared call (MINUTES of training, a snapshot every 2 ticks):
#     run(command="sh tools/gpu-train-default.sh 7", carry=[".whl"], timeout_s=600)
# What comes back under $OUT: stats.jsonl, the preview grid, and the newest resumable snapshot
# split into 15 MB parts (the tool returns files of up to 16 MiB). Here, join and continue it:
#     cat PARTS/snapshot.part-* > network-snapshot.safetensors
#     studio train --resume network-snapshot.safetensors --outdir training-runs
# DEVICE=cpu runs the same steps on this machine (a dry run of the script itself).
set -e
WHEELS="open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.5 platformdirs==4.14.9"
if [ "$1" = "--fetch-wheels" ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform any --platform manylinux2014_x86_64 -d .whl $WHEELS
    ls .whl
    exit 0
fi
MINUTES=${1:-7}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/gpu-train-out}
PY=${PY:-python3}
mkdir -p "$OUT"
if [ -d .whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
WORKERS=$(( $(nproc) > 2 ? $(nproc) - 2 : 0 ))
BATCH=$([ "$DEVICE" = cuda ] && echo 64 || echo 16)
timeout -s INT "${MINUTES}m" $PY -m studio train --paintings fresh --resume latest --outdir /tmp/gpu-runs \
    --device "$DEVICE" --batch "$BATCH" --workers "$WORKERS" --snap 2 || [ $? -eq 124 ]
run=$(ls -d /tmp/gpu-runs/*/ | tail -n 1)
cp "$run/stats.jsonl" "$OUT/"
cp "$(ls "$run"/preview-*.png | tail -n 1)" "$OUT/preview.png"
mkdir -p "$OUT/parts"
split -b 15000000 "$(ls "$run"/network-snapshot-*.safetensors | tail -n 1)" "$OUT/parts/snapshot.part-"
ls -l "$OUT" "$OUT/parts"
