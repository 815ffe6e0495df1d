#!/usr/bin/env bash
# RLlib PPO with SeqGAN's own generator vs SB3 PPO: the `fast` preset's schedule on the official oracle, both from
# one MLE pretraining, the same budget (40 updates x 1,280 env steps), the same PPO settings. README "Scaling out".
# --ppo.advantage critic --ppo.reward-mode shaped --adv.no-match-mle-diversity: what both can run (RLlib cannot express
# the fast preset's un-centred Q weights, nor its end-of-run tempering). ~35 min on 2 CPU cores.
set -euo pipefail
ORACLE=${ORACLE:-../shared/seqgan_oracle/target_params.npz}
COMMON=(--preset fast --task.oracle-params "$ORACLE" --ppo.advantage critic --ppo.reward-mode shaped
        --adv.no-match-mle-diversity --no-progress)
python train/reinforce.py --preset fast --task.oracle-params "$ORACLE" --adv.updates 0 --run-dir runs/rl_pre --no-progress
python train/ppo.py "${COMMON[@]}" --pretrained runs/rl_pre --run-dir runs/rl_sb3
python train/rllib_ppo.py "${COMMON[@]}" --pretrained runs/rl_pre --num-env-runners 2 --run-dir runs/rl_r2
# seconds per iteration with 1 env runner (10 iterations: the timing, not the quality)
python train/rllib_ppo.py "${COMMON[@]}" --pretrained runs/rl_pre --num-env-runners 1 --adv.updates 10 \
  --run-dir runs/rl_r1
python docs/experiments/rllib_table.py runs/rl_pre runs/rl_sb3 runs/rl_r2 runs/rl_r1
