"""The algorithms that train G on the env, each an SB3 algorithm: REINFORCE (the paper's update), the actor-critics on
SB3 (PPO, A2C, TRPO), the mean actor-critic, the exact per-step reference; their policies, the callbacks they share
(D retraining, the rollout policy's copy, evaluation, checkpoints) and what each persists to resume mid-run."""
