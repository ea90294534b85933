#!/usr/bin/env bash
# Several learning runs side by side on one GPU, on one shared level-1 dataset: the small
# encoder of the benchmark leaves most of an H100 idle, so one device call can hold a few
# settings at once. Each NAME=OPTIONS runs experiments/gpu_learning_run.sh with those extra
# 'vjepa2 pretrain' options (a later option wins over the script's, e.g. --lr), in its own WORK,
# and leaves its logs, metrics and scores in OUT/NAME.
#
#   experiments/gpu_learning_runs.sh OUT MINUTES NAME=OPTIONS [NAME=OPTIONS ...]
#   experiments/gpu_learning_runs.sh $OUT/learn 5 "rope=" "rope-2e-4=--lr 2e-4" \
#     "abspos=--set abs_positions=true"
#
# Environment: WORK [/tmp/gpu-learning-runs]; WORKERS [4] data-loading processes per run;
# DATA_WORKERS [14] for drawing the data; every other knob of gpu_learning_run.sh.
# A smoke test on the CPU (a few minutes):
#   DEVICE=cpu BATCH=4 UNLABELLED=16 STEPS=8 WORKERS=0 TRAIN_PER_CLASS=4 TEST_PER_CLASS=4 \
#     ATTENTIVE_EPOCHS=1 PROBE_SEEDS=0 RANDOM_SEEDS='' DATA_WORKERS=2 \
#     experiments/gpu_learning_runs.sh /tmp/out 0.1 "a=" "b=--lr 1e-4"
set -euo pipefail
out=${1:?usage: gpu_learning_runs.sh OUT MINUTES NAME=OPTIONS...}
minutes=${2:?usage: gpu_learning_runs.sh OUT MINUTES NAME=OPTIONS...}
shift 2
[ $# -gt 0 ] || { echo "name at least one run: NAME=OPTIONS" >&2; exit 2; }
for spec; do
  case $spec in
    *=*) [ -n "${spec%%=*}" ] || { echo "no NAME in '$spec'" >&2; exit 2; } ;;
    *) echo "expected NAME=OPTIONS, got '$spec'" >&2; exit 2 ;;
  esac
done
work=${WORK:-/tmp/gpu-learning-runs}
here=$(dirname "$0")
export DEVICE=${DEVICE:-cuda} UNLABELLED=${UNLABELLED:-10000} DATA_WORKERS=${DATA_WORKERS:-14}
export WORKERS=${WORKERS:-4}
DATA_ONLY=1 "$here/motion_pretraining.sh" "$work/shared"
pids=()
for spec in "$@"; do
  name=${spec%%=*}
  mkdir -p "$work/$name" "$out/$name"
  ln -sfn "$work/shared/data" "$work/$name/data"
  # shellcheck disable=SC2086  # OPTIONS split into words on purpose
  WORK="$work/$name" "$here/gpu_learning_run.sh" "$out/$name" "$minutes" ${spec#*=} \
    > "$out/$name/console.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for spec in "$@"; do
  echo "== ${spec%%=*}: ${spec#*=}"
  tail -n 12 "$out/${spec%%=*}/run.log" 2>/dev/null || true
done
exit $status
