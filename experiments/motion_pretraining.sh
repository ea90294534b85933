#!/usr/bin/env bash
# The learning result of docs/pretraining.md in one command: draw the paired motion benchmark
# (VARIANT, level 1 by default), pretrain a small encoder on its unlabelled split with the
# small-run recipe, then score the final target encoder against its controls (random init of the
# same architecture, seeds RANDOM_SEEDS; the attentive probe given token positions) and print the
# table. Re-running the same command resumes the run and skips what is done.
#
#   experiments/motion_pretraining.sh OUT [extra 'vjepa2 pretrain' options...]
#
# Environment (defaults in brackets):
#   data       VARIANT [paired1] (paired2, demo, full), UNLABELLED [3000], TRAIN_PER_CLASS [200],
#              TEST_PER_CLASS [200] (1200 test clips for paired1's 6 classes), DATA_WORKERS [2]
#              DATA_ONLY [0]: 1 draws the data and stops (runs side by side can share it)
#   length     EPOCHS [30], or STEPS: that many optimiser steps, rounded up to whole epochs of
#              UNLABELLED / BATCH steps (the schedules span the whole epochs); TIME_LIMIT
#              [unset]: stop pretraining after that many minutes (and score what it reached)
#   recipe     BATCH [16], LR [1e-4], START_LR [2e-5], FINAL_LR [1e-6], WARMUP [3] (epochs),
#              SCHEDULE_SCALE [1.25] (cosine and EMA ramp over 1.25x the steps, as the original),
#              EMA [0.999] -> EMA_END [1.0], EMA_SCHEDULE [ramp] (or constant: EMA throughout),
#              CLIP_GRAD [unset: off], PREDICTOR [tiny] (1 block, 64 wide), MASKS
#              ["1:1:0.5 8:0.15"] (--mask values), DEVICE [auto: CUDA when there is one],
#              WORKERS [1] (data-loading processes of pretraining), CACHE_FRAMES [1]
#              (decode every clip once up front, in WORKERS processes; 0: decode in the
#              loaders at every step)
#   evaluation PROBE_SEEDS ["0,1,2"], RANDOM_SEEDS ["0,1"; set but empty: no random-init controls],
#              ATTENTIVE_EPOCHS [30],
#              EVAL_EVERY [0]: also score every N-th epoch's checkpoint (one probe seed, no
#              controls) for a learning curve
# Examples:
#   experiments/motion_pretraining.sh runs/paired1                  # CPU: about 4000 steps/hour
#   DEVICE=cuda STEPS=30000 UNLABELLED=20000 EVAL_EVERY=5 experiments/motion_pretraining.sh runs/gpu
#   EPOCHS=1 UNLABELLED=64 TRAIN_PER_CLASS=8 TEST_PER_CLASS=8 ATTENTIVE_EPOCHS=2 \
#     experiments/motion_pretraining.sh /tmp/smoke                   # a smoke test, minutes
# Writes OUT/data, OUT/pretrain (the run), OUT/eval-final.json (+ eval-epoch-*.json) and prints
# the table.
set -euo pipefail
# without the console script (e.g. the package on PYTHONPATH only), run the module
command -v vjepa2 >/dev/null || vjepa2() { python3 -m vjepa2 "$@"; }
out=${1:?usage: motion_pretraining.sh OUT [pretrain options...]}
shift
batch=${BATCH:-16}
unlabelled=${UNLABELLED:-3000}
if [ -n "${STEPS:-}" ]; then
  per_epoch=$((unlabelled / batch))
  [ "$per_epoch" -gt 0 ] || { echo "UNLABELLED must be at least BATCH" >&2; exit 2; }
  epochs=$(((STEPS + per_epoch - 1) / per_epoch))
else
  epochs=${EPOCHS:-30}
fi
masks=()
for mask in ${MASKS:-1:1:0.5 8:0.15}; do masks+=(--mask "$mask"); done
clip=()
[ -z "${CLIP_GRAD:-}" ] || clip=(--clip-grad "$CLIP_GRAD")
[ -z "${TIME_LIMIT:-}" ] || clip+=(--time-limit "$TIME_LIMIT")
cache=(--cache-frames)
[ "${CACHE_FRAMES:-1}" = 1 ] || cache=()
mkdir -p "$out"
if [ ! -f "$out/data/test.csv" ]; then
  vjepa2 make-motion-data "$out/data" --variant "${VARIANT:-paired1}" --unlabelled "$unlabelled" \
    --train-per-class "${TRAIN_PER_CLASS:-200}" --val-per-class 0 \
    --test-per-class "${TEST_PER_CLASS:-200}" --workers "${DATA_WORKERS:-2}"
fi
[ "${DATA_ONLY:-0}" = 0 ] || exit 0
vjepa2 pretrain --data "$out/data/unlabelled.txt" --out "$out/pretrain" --resume \
  --arch vit-tiny --set hidden_size=128 --set num_attention_heads=4 --set num_hidden_layers=6 \
  --predictor "${PREDICTOR:-tiny}" --crop-size 64 --frames 16 --fps 4 --batch-size "$batch" \
  --epochs "$epochs" --lr "${LR:-1e-4}" --start-lr "${START_LR:-2e-5}" \
  --final-lr "${FINAL_LR:-1e-6}" --warmup "${WARMUP:-3}" --schedule-scale "${SCHEDULE_SCALE:-1.25}" \
  --ema "${EMA:-0.999}" "${EMA_END:-1.0}" --ema-schedule "${EMA_SCHEDULE:-ramp}" \
  --weight-decay 0.04 --workers "${WORKERS:-1}" --keep-epochs --device "${DEVICE:-auto}" \
  "${cache[@]}" "${clip[@]}" "${masks[@]}" "$@"
score() {  # score CHECKPOINT NAME [pretrain-eval options...]
  local checkpoint=$1 name=$2
  shift 2
  [ "$out/eval-$name.json" -nt "$checkpoint" ] || vjepa2 pretrain-eval "$checkpoint" \
    --train "$out/data/train.csv" --test "$out/data/test.csv" --device "${DEVICE:-auto}" \
    --attentive-epochs "${ATTENTIVE_EPOCHS:-30}" --json "$out/eval-$name.json" "$@"
}
if [ "${EVAL_EVERY:-0}" -gt 0 ]; then
  for ((epoch = EVAL_EVERY; epoch < epochs; epoch += EVAL_EVERY)); do
    checkpoint=$(printf '%s/pretrain/epoch-%04d.pt' "$out" "$epoch")
    [ ! -f "$checkpoint" ] || score "$checkpoint" "$(printf 'epoch-%04d' "$epoch")" \
      --probe-seeds 0 --random-seeds ''
  done
fi
score "$out/pretrain/latest.pt" final --probe-seeds "${PROBE_SEEDS:-0,1,2}" \
  --random-seeds "${RANDOM_SEEDS-0,1}"
python - "$out" <<'PY'
import json, pathlib, sys
from vjepa2.train.frozen_eval import format_table
out = pathlib.Path(sys.argv[1])
curve = sorted(out.glob("eval-epoch-*.json"))
if curve:
    print("learning curve (target encoder, attentive probe seed 0): epoch  top-1  within-pair")
    for path in curve:
        att = json.loads(path.read_text())["encoders"]["encoder"].get("attentive")
        if att:
            pair = att.get("within_pair", {}).get("mean", float("nan"))
            print(f"  {path.stem[11:]:>5}  {att['top1']['mean']:.3f}  {pair:.3f}")
final = json.loads((out / "eval-final.json").read_text())
print(f"\n{final['encoder']} ({final['test_clips']} test clips):")
print(format_table(final))
PY
