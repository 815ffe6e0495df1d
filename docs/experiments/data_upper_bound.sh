#!/usr/bin/env bash
# RESULTS.md "What the data can teach": the best LM the 10,000 training sequences support (size and length chosen on
# validation NLL), then the exact per-step trainer distilling it into G (G's paper size) in place of the oracle.
# Usage: bash docs/experiments/data_upper_bound.sh teachers | distil-tune | distil SEED...
set -euo pipefail
cd "$(dirname "$0")/../.."
ORACLE=../shared/seqgan_oracle/target_params.npz
COMMON="--preset fast --task.oracle-params $ORACLE --task.data-seed 0 --env.reward-source oracle --adv.no-match-mle-diversity --no-progress"
case "$1" in
  teachers)  # larger LMs by MLE, early-stopped on the 5,000 validation sequences (patience 3)
    for spec in "64 0.01" "128 0.01" "128 0.003" "64 0.003"; do
      set -- $spec
      python train/reinforce.py $COMMON --generator.hidden-dim "$1" --generator.emb-dim 64 --mle.lr "$2" \
        --mle.patience 3 --adv.updates 0 --eval.samples 2000 --run-dir "runs/teacher_h$1_lr$2"
    done ;;
  distil-tune)  # the distillation's rate, chosen on validation NLL (seed 0)
    for lr in 0.01 0.03; do
      python train/reference.py $COMMON --pretrained runs/pre_es --adv.teacher "$TEACHER" --reinforce.lr $lr \
        --env.num-envs 64 --adv.updates 300 --adv.lr-schedule constant --eval.every 100 --eval.samples 5000 \
        --seed 0 --run-dir "runs/distil_lr${lr}_s0"
    done ;;
  distil)
    shift
    for seed in "$@"; do
      python train/reference.py $COMMON --pretrained runs/pre_es --adv.teacher "$TEACHER" --reinforce.lr "$LR" \
        --env.num-envs 64 --adv.updates 300 --adv.lr-schedule constant --eval.every 100 --eval.samples 5000 \
        --seed "$seed" --run-dir "runs/distil_lr${LR}_s$seed"
    done ;;
esac
