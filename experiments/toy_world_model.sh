#!/usr/bin/env bash
# The toy world model end to end on a CPU, and the bundled world model of `vjepa2 demo --plan`:
# reach and push data, an AC predictor trained on the frozen demo encoder, its checks, and
# closed-loop planning against the random and oracle baselines (docs/plan-eval.md).
#
#   experiments/toy_world_model.sh [WORK_DIR]             (default runs/toy-world-model)
#   BUNDLE=1 experiments/toy_world_model.sh [WORK_DIR]    ... and copy the model into the package
#
# Every stage is skipped when its output exists, so a rerun only redoes what is missing.
# The knobs below are the ones the measured table in docs/plan-eval.md used.
set -euo pipefail

WORK=${1:-runs/toy-world-model}
EPISODES=${EPISODES:-50}        # planning episodes per task and policy
MAX_STEPS=${MAX_STEPS:-20}      # closed-loop steps per episode
SAMPLES=${SAMPLES:-64}          # CEM samples per iteration (the original: 400)
ITERATIONS=${ITERATIONS:-3}     # CEM iterations (the original: 10)
EPOCHS=${EPOCHS:-16}            # predictor training epochs
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# (a) 300 exploration episodes of 20 steps per task at 64 px (the demo encoder's crop), 5 % val,
#     and one dataset of both (links; the names keep the task).
for task in reach push; do
    vjepa2 make-robot-data "$WORK/$task-data" --task "$task" --episodes 300 --steps 20 \
        --size 64 --val-fraction 0.05 --seed 0 --quiet
done
for split in train val; do
    mkdir -p "$WORK/mix-data/$split"
    for task in reach push; do
        for file in "$WORK/$task-data/$split"/*; do
            ln -sf "$file" "$WORK/mix-data/$split/${task}_$(basename "$file")"
        done
    done
done

# (b) an AC predictor (128 wide = the encoder's width, 2 layers, 4 heads) on the frozen demo
#     encoder (64 px, 128 wide, 6 layers, 16 tokens per frame): 16 epochs of 2 clips of 4
#     frames per episode (1136 steps).
cat > "$WORK/ac.json" <<'JSON'
{"model_type": "vjepa2_ac",
 "encoder": {"crop_size": 64},
 "predictor": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
               "action_dim": 7}}
JSON
if [ ! -f "$WORK/ac/model/config.json" ]; then
    vjepa2 train-ac --data "$WORK/mix-data" --config "$WORK/ac.json" --encoder demo \
        --out "$WORK/ac" --overwrite --epochs "$EPOCHS" --frames 4 --batch-size 16 \
        --clips-per-episode 2 --warmup 0.5 --decay 2 --lr 2e-3 --start-lr 2e-4 --val-every 2 \
        --cond-init data
fi

# (c) the checks: the predictor against copying the last frame, the oracle's move's energy.
python "$HERE/world_model_checks.py" "$WORK/ac" --task reach
python "$HERE/world_model_checks.py" "$WORK/ac" --task push

# (d) closed-loop planning: the world model, random actions, the scripted oracle.
evaluate() {  # TASK POLICY
    local out="$WORK/plan-eval-$1-$2"
    if [ ! -f "$out.json" ]; then
        vjepa2 plan-eval --model "$WORK/ac/model" --task "$1" --policy "$2" \
            --episodes "$EPISODES" --max-steps "$MAX_STEPS" --seed 1000 \
            --samples "$SAMPLES" --iterations "$ITERATIONS" --top-k 10 \
            --video "$out.gif" --json > "$out.json.part"
        mv "$out.json.part" "$out.json"
    fi
}
for task in reach push; do
    for policy in model random oracle; do evaluate "$task" "$policy"; done
done

# (e) the table.
python - "$WORK" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
print("| task | policy | episodes | success | final distance (m) | s / step | steps to success |")
print("|---|---|---|---|---|---|---|")
for task in ("reach", "push"):
    for policy in ("model", "random", "oracle"):
        r = json.loads((work / f"plan-eval-{task}-{policy}.json").read_text())
        steps = r["mean_steps_to_success"]
        steps = "-" if steps is None else f"{steps:.1f}"
        print(f"| {task} | {policy} | {r['episodes']} | {100 * r['success_rate']:.0f} % | "
              f"{r['mean_final_distance']:.3f} | {r['seconds_per_step']:.3f} | {steps} |")
PY

# (f) BUNDLE=1: the model and how it plans into the package (what `vjepa2 demo --plan` loads).
if [ "${BUNDLE:-0}" = 1 ]; then
    ASSET="$HERE/../src/vjepa2/assets/world-model"
    mkdir -p "$ASSET"
    cp "$WORK/ac/model/config.json" "$WORK/ac/model/model.safetensors" "$ASSET/"
    python - "$WORK" "$ASSET/plan.json" "$SAMPLES" "$ITERATIONS" "$MAX_STEPS" <<'PY'
import json, sys
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
samples, iterations, max_steps = map(int, sys.argv[3:6])
rates = {task: json.loads((work / f"plan-eval-{task}-model.json").read_text())
         for task in ("reach", "push")}
record = {
    "made_by": "experiments/toy_world_model.sh (docs/plan-eval.md)",
    "size": 64, "max_steps": max_steps, "tolerance": 0.05,
    "planner": {"horizon": 2, "samples": samples, "topk": 10, "iterations": iterations},
    "seed": 1000,
    "episodes": {task: r["episodes"] for task, r in rates.items()},
    "success_rate": {task: r["success_rate"] for task, r in rates.items()},
}
out.write_text(json.dumps(record, indent=1) + "\n")
PY
fi
