#!/usr/bin/env bash
# The toy world model end to end on a CPU: reach data, an AC predictor trained on the frozen demo
# encoder, and closed-loop planning against the random and oracle baselines (docs/plan-eval.md).
#
#   experiments/toy_world_model.sh [WORK_DIR]        (default runs/toy-world-model)
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing.
# The knobs below are the ones the measured table in docs/plan-eval.md used.
set -euo pipefail

WORK=${1:-runs/toy-world-model}
EPISODES=${EPISODES:-20}        # planning episodes per policy
MAX_STEPS=${MAX_STEPS:-30}      # closed-loop steps per episode
SAMPLES=${SAMPLES:-100}         # CEM samples per iteration (the original: 400)
ITERATIONS=${ITERATIONS:-5}     # CEM iterations (the original: 10)
EPOCHS=${EPOCHS:-30}            # train-ac epochs
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$WORK"

# (a) reach data: 200 exploration episodes of 20 steps at 64 px (the demo encoder's crop).
vjepa2 make-robot-data "$WORK/reach-data" --task reach --episodes 200 --steps 20 --size 64 \
    --val-fraction 0.05 --seed 0 --quiet

# (b) an AC predictor on the frozen demo encoder (64 px, 128 wide, 6 layers).
cat > "$WORK/ac.json" <<'JSON'
{"model_type": "vjepa2_ac",
 "encoder": {"crop_size": 64},
 "predictor": {"hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4,
               "action_dim": 7}}
JSON
if [ ! -f "$WORK/ac/model/config.json" ]; then
    vjepa2 train-ac --data "$WORK/reach-data" --config "$WORK/ac.json" --encoder demo \
        --out "$WORK/ac" --overwrite --epochs "$EPOCHS" --batch-size 16 --clips-per-episode 4 \
        --warmup 2 --decay 6 --lr 1e-3 --start-lr 1e-4 --val-every 5
fi

# (c) closed-loop planning on reach: the world model, random actions, the scripted oracle.
for policy in model random oracle; do
    if [ ! -f "$WORK/plan-eval-reach-$policy.json" ]; then
        vjepa2 plan-eval --model "$WORK/ac/model" --task reach --policy "$policy" \
            --episodes "$EPISODES" --max-steps "$MAX_STEPS" --seed 1000 \
            --samples "$SAMPLES" --iterations "$ITERATIONS" --top-k 10 \
            --video "$WORK/plan-eval-reach-$policy.mp4" --json > "$WORK/plan-eval-reach-$policy.json"
    fi
done

# (d) the table.
python - "$WORK" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
print("| policy | task | episodes | success | final distance (m) | planning s/step |")
print("|---|---|---|---|---|---|")
for policy in ("model", "random", "oracle"):
    r = json.loads((work / f"plan-eval-reach-{policy}.json").read_text())
    print(f"| {policy} | {r['task']} | {r['episodes']} | {100 * r['success_rate']:.0f} % | "
          f"{r['mean_final_distance']:.3f} | {r['seconds_per_step']:.3f} |")
PY
