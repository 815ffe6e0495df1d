#!/usr/bin/env bash
# The paper's three real-data tasks (RESULTS.md "Real data"): MLE vs SeqGAN-REINFORCE vs PPO vs tuned MLE, 2 seeds,
# each from one MLE pretraining whose length was chosen on the validation split (the pilot runs below: the epoch
# of lowest NLL-valid). BLEU against the test split (the paper's protocol), self-BLEU among the samples.
# Needs: pip install -e ".[text,music]" and Debian's fortunes-zh. ~1 h on 2 CPU cores.
set -euo pipefail
COMMON=(--seeds 0 1 --adv.updates 60 --eval.every 10 --eval.samples 1000 --no-progress)

# pilots: MLE only, evaluated every epoch, to choose --mle.epochs on validation data (chosen: 5, 10, 26)
python train/reinforce.py --task.data poems:tang300 --task.text-level char --task.seq-len 6 --task.n-valid 100 --mle.epochs 15 \
  --eval.every 1 --adv.updates 0 --adv.no-match-mle-diversity --run-dir runs/poems_mle_valid --no-progress
python train/reinforce.py --task.data sotu:obama --task.n-valid 150 --mle.epochs 25 --eval.every 1 --adv.updates 0 \
  --adv.no-match-mle-diversity --run-dir runs/obama_mle_valid --no-progress --eval.samples 300
python train/reinforce.py --task.data music:folk --task.seq-len 33 --task.n-valid 300 --mle.epochs 30 --eval.every 2 \
  --adv.updates 0 --adv.no-match-mle-diversity --run-dir runs/music_mle_valid --no-progress --eval.samples 300

python train/compare.py --task.data poems:tang300 --task.text-level char --task.seq-len 6 --task.n-valid 100 --mle.epochs 5 \
  --mle.keep-every 1 --out runs/real_poems "${COMMON[@]}"
python train/compare.py --task.data sotu:obama --task.n-valid 150 --mle.epochs 10 --mle.keep-every 1 \
  --out runs/real_obama "${COMMON[@]}"
python train/compare.py --task.data music:folk --task.seq-len 33 --task.n-valid 300 --mle.epochs 26 --mle.keep-every 2 \
  --out runs/real_music "${COMMON[@]}"
