#!/usr/bin/env bash
# Issue "A reward that carries signal": every run of RESULTS.md's section of that name, in order.
# Usage: bash docs/experiments/reward_signal.sh SEED [PART...]; PARTS: pretrain table recipes-a recipes-b probe400
# frontier (default: all, in that order).
# Each run takes 1-5 min on 2 CPU cores; the whole script about an hour per seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${1:?usage: reward_signal.sh SEED [pretrain|table|recipes|frontier ...]}
shift
PARTS=${*:-pretrain table recipes-a recipes-b probe400 frontier}
PY=${PY:-.venv/bin/python}
ORACLE=${ORACLE:-../shared/seqgan_oracle/target_params.npz}
# The fast preset's pretraining (60 MLE epochs, G kept every 5 epochs for the tuned-MLE frontier, 5 D rounds);
# the adversarial runs below all start from it and generate the same 40 x 64 x 20 = 51,200 tokens.
COMMON=(--preset fast --task.oracle-params "$ORACLE" --seed "$S" --task.n-valid 0 --adv.no-match-mle-diversity --no-progress)
PRE=runs/pre_s$S

for part in $PARTS; do case $part in
pretrain)
  $PY train/reinforce.py "${COMMON[@]}" --adv.updates 0 --mle.keep-every 5 --run-dir "$PRE" ;;
table)  # reward source x agent, the fast preset's schedule otherwise
  for agent in reinforce ppo; do
    $PY train/$agent.py "${COMMON[@]}" --pretrained "$PRE" --env.d-reward constant --run-dir runs/t_constant_${agent}_s$S
    $PY train/$agent.py "${COMMON[@]}" --pretrained "$PRE" --run-dir runs/t_cnn_${agent}_s$S
    $PY train/$agent.py "${COMMON[@]}" --pretrained "$PRE" --env.reward-source prefix --run-dir runs/t_prefix_${agent}_s$S
    $PY train/$agent.py "${COMMON[@]}" --pretrained "$PRE" --env.reward-source perfect --run-dir runs/t_perfect_${agent}_s$S
  done ;;
recipes-a|recipes-b)  # which RL recipe gets closest to the exact per-step reference on the perfect reward
  # (batch 256, 200 updates = 1,024,000 tokens, Adam 1e-3)
  R=(--pretrained "$PRE" --env.reward-source perfect --env.num-envs 256 --adv.updates 200 --eval.every 25
     --eval.samples 5000 --eval.checkpoint-every 50 --adv.lr-schedule constant --adv.max-grad-norm 5)
  if [ "$part" = recipes-a ]; then
  $PY train/reference.py "${COMMON[@]}" "${R[@]}" --reinforce.lr 1e-3 --run-dir runs/r_reference_s$S
  # the issue's probe: reward-to-go of the dense reward, batch-mean baseline, Adam 1e-3
  $PY train/reinforce.py "${COMMON[@]}" "${R[@]}" --reinforce.loss-reduction mean --reinforce.reward-mode shaped --reinforce.baseline mean --reinforce.lr 1e-3 --run-dir runs/r_rtg_s$S
  # the per-step weight r_t alone (the reference's sampled form), batch-mean baseline
  $PY train/reinforce.py "${COMMON[@]}" "${R[@]}" --reinforce.loss-reduction mean --reinforce.reward-mode q --reinforce.baseline mean --reinforce.lr 1e-3 --run-dir runs/r_step_s$S
  # reward-to-go with a KL(G || MLE checkpoint) penalty, or an entropy bonus
  $PY train/reinforce.py "${COMMON[@]}" "${R[@]}" --reinforce.loss-reduction mean --reinforce.reward-mode shaped --reinforce.baseline mean --reinforce.lr 1e-3 --reinforce.kl-coef 1 --run-dir runs/r_rtg_kl1_s$S
  $PY train/reinforce.py "${COMMON[@]}" "${R[@]}" --reinforce.loss-reduction mean --reinforce.reward-mode shaped --reinforce.baseline mean --reinforce.lr 1e-3 --adv.ent-coef 0.5 --run-dir runs/r_rtg_ent_s$S
  else
  # reward-to-go with interleaved MLE steps
  $PY train/reinforce.py "${COMMON[@]}" "${R[@]}" --reinforce.loss-reduction mean --reinforce.reward-mode shaped --reinforce.baseline mean --reinforce.lr 1e-3 --adv.mle-steps 1 --mle.lr 1e-3 --run-dir runs/r_rtg_mle_s$S
  # PPO with its critic (gamma = lambda = 1) on the dense reward, and PPO with per-step advantages
  $PY train/ppo.py "${COMMON[@]}" "${R[@]}" --ppo.reward-mode shaped --ppo.advantage critic --ppo.lr 1e-3 --run-dir runs/r_ppo_critic_s$S
  $PY train/ppo.py "${COMMON[@]}" "${R[@]}" --ppo.reward-mode q --ppo.advantage q --ppo.lr 1e-3 --run-dir runs/r_ppo_step_s$S
  fi ;;
probe400)  # the issue's probe to its 400 updates: the reward-to-go run, continued from its 200th update
  rm -rf runs/r_rtg400_s$S && cp -r runs/r_rtg_s$S runs/r_rtg400_s$S && rm -f runs/r_rtg400_s$S/.lock
  $PY train/reinforce.py --resume runs/r_rtg400_s$S --adv.updates 400 --no-progress
  # the issue's second probe: batch 64, Adam 1e-2, 150 updates
  $PY train/reinforce.py "${COMMON[@]}" --pretrained "$PRE" --env.reward-source perfect --env.num-envs 64 --adv.updates 150 \
      --eval.every 25 --eval.samples 5000 --eval.checkpoint-every 50 --adv.lr-schedule constant --adv.max-grad-norm 5 \
      --reinforce.loss-reduction mean --reinforce.reward-mode shaped --reinforce.baseline mean --reinforce.lr 1e-2 --run-dir runs/r_rtg_b64_s$S ;;
frontier)  # every table run's temperature sweep against tuned MLE (the MLE-epoch checkpoints' envelope)
  specs=()
  for d in runs/t_*_s$S; do [ -f "$d/checkpoints/latest.pt" ] && specs+=("$(basename "$d")=$d"); done
  $PY train/quality_diversity.py "MLE60=$PRE/checkpoints/pretrained.pt" "${specs[@]}" --frontier "$PRE" \
      --temperatures 0.7 0.8 0.9 1.0 1.1 1.25 1.5 --frontier-temperatures 0.5 0.6 0.7 0.8 0.9 1.0 1.1 1.25 1.5 \
      --frontier-epochs 5 10 15 20 30 60 --samples 5000 \
      --out docs/reward_signal_qd_s$S.png --json runs/reward_signal_frontier_s$S.json ;;
*) echo "unknown part $part" >&2; exit 2 ;;
esac; done
