#!/usr/bin/env bash
# One lent-GPU session (one GPU, ~16 CPU cores), three trainings side by side, each stopped by a time limit
# at which its cosine schedule ends:
#   1. the pnp prior, one network shared by the 8 HQS rounds, fine-tuned through the unrolled loop from the
#      shipped weights (the control);
#   2. the same with one network per round (--rounds 8, untied weights), every round starting from the
#      shipped shared network;
#   3. the disk-kernel estimator fine-tuned from its shipped weights, ×3 and ×4 drawn twice as often as ×2.
#
#   scripts/gpu_prior.sh TRAIN_DIR VAL_DIR OUT_DIR MINUTES [DEVICE]
#
# VAL_DIR: the pnp validation images (BSD100 img 61-68: python scripts/gpu_data.py --val); the estimator
# runs without validation (its validation set is the benchmark's). Environment: PRIOR_BATCH (32),
# TIED_LR (1e-4), UNTIED_LR (2e-4), DISK_LR (1.5e-4), DISK_WORKERS (6), VAL_EVERY (1000).
#
# Writes OUT_DIR/{prior-tied,prior-untied}.safetensors (best validation checkpoint, fp16),
# OUT_DIR/est-disk.safetensors (last iteration, fp16) and OUT_DIR/logs.tar.gz (configs, CSV logs, stdout
# of each run, nvidia-smi). The run folders are runs/gpu-*.
set -u
DATA=${1:?train dir}; VAL=${2:?val dir}; OUT=${3:?out dir}; MIN=${4:?minutes}; DEV=${5:-cuda}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-python3}
PRIOR_BATCH=${PRIOR_BATCH:-32}; TIED_LR=${TIED_LR:-1e-4}; UNTIED_LR=${UNTIED_LR:-2e-4}
DISK_LR=${DISK_LR:-1.5e-4}; DISK_WORKERS=${DISK_WORKERS:-6}; VAL_EVERY=${VAL_EVERY:-1000}
mkdir -p "$OUT" runs
(nvidia-smi || true) > runs/gpu-nvidia-smi.txt 2>&1
prior() {  # NAME EXTRA...: the sr-objective fine-tune of the shipped prior
  local name=$1; shift
  $PY -m s2k.cli train denoiser --out "runs/$name" --objective sr --init s2k/weights/denoiser.safetensors \
    --train-dirs "$DATA" --val-dir "$VAL" --val-count 8 --val-crop 192 --val-every "$VAL_EVERY" \
    --iterations 1000000 --batch-size "$PRIOR_BATCH" --patch-size 96 --threads 3 --device "$DEV" --amp false \
    --log-every 100 --checkpoint-every 2000 --time-limit-min "$MIN" --quiet "$@" > "runs/$name.log" 2>&1
}
prior gpu-prior-tied --lr "$TIED_LR" &
prior gpu-prior-untied --lr "$UNTIED_LR" --rounds 8 &
$PY -m s2k.cli train estimator --out runs/gpu-est-disk --family disk --scales 2,3,3,4,4 \
  --init s2k/weights/estimator-disk.safetensors --train-dirs "$DATA" --val-dir "" \
  --iterations 1000000 --batch-size 32 --lr "$DISK_LR" --lr-schedule cosine --workers "$DISK_WORKERS" \
  --threads 1 --device "$DEV" --log-every 100 --checkpoint-every 5000 --time-limit-min "$MIN" --quiet \
  > runs/gpu-est-disk.log 2>&1 &
wait
for name in tied untied; do
  ck=runs/gpu-prior-$name/best.safetensors
  [ -f "$ck" ] || ck=runs/gpu-prior-$name/last.safetensors
  $PY -m s2k.cli train export "$ck" -o "$OUT/prior-$name.safetensors"
done
$PY -m s2k.cli train export runs/gpu-est-disk/last.safetensors -o "$OUT/est-disk.safetensors"
tar czf "$OUT/logs.tar.gz" $(ls runs/gpu-*.log runs/gpu-*.txt runs/gpu-*/config.json runs/gpu-*/*.csv 2>/dev/null)
ls -la "$OUT"
tail -n 4 runs/gpu-*.log
tail -n 3 runs/gpu-prior-*/val.csv
