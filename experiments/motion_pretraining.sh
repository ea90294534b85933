#!/usr/bin/env bash
# The learning result of docs/pretraining.md in one command: draw the demo variant (or VARIANT) of
# the motion benchmark, pretrain a small encoder on its unlabelled split, then score the pretrained
# target encoder (every kept epoch) and the same architecture at random init under the same frozen
# probes.
#
#   experiments/motion_pretraining.sh OUT [extra 'vjepa2 pretrain' options...]
#
# Environment: EPOCHS (default 30), UNLABELLED (3000), TRAIN_PER_CLASS (150), BATCH (16),
# LR (5e-5), EMA (0.999, the start of the momentum ramp to 1), MASKS ("1:1:0.5 8:0.15", the
# --mask values), DEVICE (pretraining's; auto: CUDA when there is one; the probes run on the CPU),
# VARIANT (demo; paired1 or paired2: the tubelet-aligned, time-reversal-paired benchmark).
# The defaults are the run of docs/pretraining.md that the demo model's encoder comes from. Examples:
#   experiments/motion_pretraining.sh runs/motion
#   EPOCHS=100 UNLABELLED=20000 MASKS="8:0.15 2:0.7" experiments/motion_pretraining.sh runs/gpu
#   VARIANT=paired1 experiments/motion_pretraining.sh runs/paired1
# Writes OUT/data, OUT/pretrain (the run), OUT/eval-*.json and prints the table.
set -euo pipefail
out=${1:?usage: motion_pretraining.sh OUT [pretrain options...]}
shift
epochs=${EPOCHS:-30}
masks=()
for mask in ${MASKS:-1:1:0.5 8:0.15}; do masks+=(--mask "$mask"); done
mkdir -p "$out"
if [ ! -f "$out/data/test.csv" ]; then
  vjepa2 make-motion-data "$out/data" --variant "${VARIANT:-demo}" \
    --unlabelled "${UNLABELLED:-3000}" --train-per-class "${TRAIN_PER_CLASS:-150}" --workers 2
fi
vjepa2 pretrain --data "$out/data/unlabelled.txt" --out "$out/pretrain" --resume \
  --arch vit-tiny --set hidden_size=128 --set num_attention_heads=4 --set num_hidden_layers=6 \
  --set pred_hidden_size=96 --set pred_num_hidden_layers=2 --set pred_num_attention_heads=3 \
  --crop-size 64 --frames 16 --fps 4 --batch-size "${BATCH:-16}" --epochs "$epochs" \
  --lr "${LR:-5e-5}" --start-lr 1e-5 --final-lr 1e-6 --warmup 3 --ema "${EMA:-0.999}" 1.0 \
  --weight-decay 0.04 --workers 1 --cache-frames --keep-epochs --device "${DEVICE:-auto}" \
  "${masks[@]}" "$@"
score() {  # score ENCODER NAME
  [ -f "$out/eval-$2.json" ] || vjepa2 pretrain-eval "$1" --train "$out/data/train.csv" \
    --test "$out/data/test.csv" --json "$out/eval-$2.json"
}
score "random:$out/pretrain/config.json" random
shopt -s nullglob
checkpoints=("$out"/pretrain/epoch-*.pt)
[ ${#checkpoints[@]} -gt 0 ] || checkpoints=("$out/pretrain/latest.pt")  # stopped mid-epoch
for checkpoint in "${checkpoints[@]}"; do
  score "$checkpoint" "$(basename "$checkpoint" .pt)"
done
python - "$out" <<'PY'
import json, pathlib, sys
print(f"{'encoder':<14} {'logistic':>9} {'attentive':>9}")
for path in sorted(pathlib.Path(sys.argv[1]).glob("eval-*.json")):
    r = json.loads(path.read_text())
    print(f"{path.stem[5:]:<14} {r['logistic_accuracy']:>9.3f} {r['attentive_accuracy']:>9.3f}")
PY
