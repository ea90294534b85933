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
MAX_STEPS=${MAX_STEPS:-20}      # closed-loop steps per episode
SAMPLES=${SAMPLES:-64}          # CEM samples per iteration (the original: 400)
ITERATIONS=${ITERATIONS:-3}     # CEM iterations (the original: 10)
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
train() {  # OUT EPOCHS [extra train-ac options]
    local out=$1 epochs=$2
    shift 2
    vjepa2 train-ac --data "$WORK/reach-data" --config "$WORK/ac.json" --encoder demo \
        --out "$out" --epochs "$epochs" --batch-size 16 --clips-per-episode 4 \
        --warmup 1 --decay 3 --lr 1e-3 --start-lr 1e-4 --val-every 4 "$@"
}
[ -f "$WORK/ac/model/config.json" ] || train "$WORK/ac" 12 --overwrite
# ... and the same run continued to 30 epochs (exact resume; the schedule's decay moves to the
# last 3 of the 30 epochs, so the learning rate goes back up at epoch 13).
if [ ! -f "$WORK/ac30/model/config.json" ]; then
    rm -rf "$WORK/ac30" && cp -r "$WORK/ac" "$WORK/ac30"
    train "$WORK/ac30" 30 --resume --allow-change epochs
fi

# (c) closed-loop planning on reach: the world model, random actions, the scripted oracle;
#     the two baselines on push as well (no push world model is trained here).
evaluate() {  # TASK POLICY [RUN]
    local run=${3:-ac}
    local out="$WORK/plan-eval-$1-$2${3:+-$3}"
    if [ ! -f "$out.json" ]; then
        vjepa2 plan-eval --model "$WORK/$run/model" --task "$1" --policy "$2" \
            --episodes "$EPISODES" --max-steps "$MAX_STEPS" --seed 1000 \
            --samples "$SAMPLES" --iterations "$ITERATIONS" --top-k 10 \
            --video "$out.gif" --json > "$out.json.part"
        mv "$out.json.part" "$out.json"
    fi
}
for policy in model random oracle; do evaluate reach "$policy"; done
evaluate reach model ac30
for policy in random oracle; do evaluate push "$policy"; done

# (d) the table.
python - "$WORK" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
print("| task | policy | episodes | success | final distance (m) | s / step | steps to success |")
print("|---|---|---|---|---|---|---|")
for path in sorted(work.glob("plan-eval-*.json")):
    r = json.loads(path.read_text())
    steps = r["mean_steps_to_success"]
    steps = "-" if steps is None else f"{steps:.1f}"
    name = path.stem.removeprefix("plan-eval-").split("-", 2)
    policy = r["policy"] + (f" ({name[2]})" if len(name) > 2 else "")
    print(f"| {r['task']} | {policy} | {r['episodes']} | {100 * r['success_rate']:.0f} % | "
          f"{r['mean_final_distance']:.3f} | {r['seconds_per_step']:.3f} | {steps} |")
PY

# (e) how good the predictors are: validation teacher-forcing L1 against copying the last frame.
python - "$WORK" <<'PY'
import json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
work = Path(sys.argv[1])
cached = sorted((work / "ac" / "cache").glob("*/val/*.safetensors"))
copy = torch.stack([(h[1:] - h[:-1]).abs().mean() for h in (load_file(f)["h"] for f in cached)])
print(f"copy-the-last-frame L1 on the validation encodings: {copy.mean():.4f}")
for run in ("ac", "ac30"):
    lines = (work / run / "metrics.jsonl").read_text().splitlines()
    val = [json.loads(line) for line in lines if "val_tf" in line][-1]
    print(f"{run}: epoch {val['epoch']}, validation teacher forcing {val['val_tf']:.4f}, "
          f"rollout {val['val_rollout']:.4f}")
PY
