#!/usr/bin/env bash
# The learning run of docs/pretraining.md sized for one device call (about 10 minutes on one
# H100): level 1 (paired1) drawn, pretrained at batch 64 for MINUTES of training
# (--time-limit), scored with the controls, and the predictor's use of time measured. The run
# lives in WORK (a local disk); the small results are copied to OUT.
#
#   experiments/gpu_learning_run.sh OUT [MINUTES [extra 'vjepa2 pretrain' options...]]
#   experiments/gpu_learning_run.sh $OUT/learn 5 --lr 2e-4 --set abs_positions=true
#
# MINUTES: 5 by default. Several runs side by side: experiments/gpu_learning_runs.sh.
#
# Environment: WORK [/tmp/gpu-learning-run], and every knob of motion_pretraining.sh, here with
# defaults for the GPU: DEVICE [cuda], BATCH [64], UNLABELLED [10000], STEPS [4000] (the
# schedules' length; the time limit usually stops the run first), LR [3e-4], MASKS
# [1:1:0.5:end], WORKERS [12], DATA_WORKERS [14].
# A smoke test on the CPU (a few minutes):
#   DEVICE=cpu BATCH=4 UNLABELLED=16 STEPS=8 WORKERS=0 TRAIN_PER_CLASS=4 TEST_PER_CLASS=4 \
#     ATTENTIVE_EPOCHS=1 PROBE_SEEDS=0 RANDOM_SEEDS=0 experiments/gpu_learning_run.sh /tmp/out 0.2
set -euo pipefail
out=${1:?usage: gpu_learning_run.sh OUT [MINUTES]}
minutes=${2:-5}
shift $(($# < 2 ? $# : 2))
work=${WORK:-/tmp/gpu-learning-run}
here=$(dirname "$0")
mkdir -p "$out"
export DEVICE=${DEVICE:-cuda} BATCH=${BATCH:-64} UNLABELLED=${UNLABELLED:-10000}
export STEPS=${STEPS:-4000} LR=${LR:-3e-4} MASKS=${MASKS:-1:1:0.5:end} WORKERS=${WORKERS:-12}
export DATA_WORKERS=${DATA_WORKERS:-14} TIME_LIMIT=$minutes
"$here/motion_pretraining.sh" "$work" "$@" 2>&1 | tr '\r' '\n' | grep -v 'it/s\|clip/s\|step/s' \
  | tee "$out/run.log"
python3 "$here/predictor_time_use.py" "$work/pretrain/latest.pt" "$work/data/test.csv" \
  --clips 128 | tee "$out/predictor_time_use.txt"
cp "$work/pretrain/metrics.jsonl" "$work/pretrain/run.json" "$work/eval-final.json" "$out/"
