#!/usr/bin/env bash
# One lent-GPU session (one GPU, ~16 CPU cores): fine-tune the three shipped estimators and train the sftmd
# backend, four processes side by side on the one GPU, each stopped by a time limit (its cosine schedule
# ends there). Data are made on the fly by DataLoader workers (3 per process).
#
#   scripts/gpu_train.sh TRAIN_DIR OUT_DIR MINUTES [DEVICE]
#
# Environment: FAMILIES (estimators to fine-tune, default "gaussian motion disk"), EST_WORKERS and
# SR_WORKERS (DataLoader workers, default 3 each), SR_INIT (SFTMD weights to start from, default none),
# EST_LR / SR_LR (peak learning rates, default 3e-4 / 5e-4).
#
# Writes OUT_DIR/{est-gaussian,est-motion,est-disk}.safetensors (fp16 generators, as shipped),
# OUT_DIR/sftmd-fp32.safetensors (exported network, float32) and OUT_DIR/logs.tar.gz (configs, CSV logs,
# stdout of each run, nvidia-smi). The run folders are runs/gpu-*.
set -u
DATA=${1:?train dir}; OUT=${2:?out dir}; MIN=${3:?minutes}; DEV=${4:-cuda}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-python3}
FAMILIES=${FAMILIES:-gaussian motion disk}; EST_WORKERS=${EST_WORKERS:-3}; SR_WORKERS=${SR_WORKERS:-3}
EST_LR=${EST_LR:-3e-4}; SR_LR=${SR_LR:-5e-4}; SR_INIT=${SR_INIT:-}
mkdir -p "$OUT" runs
(nvidia-smi || true) > runs/gpu-nvidia-smi.txt 2>&1
(nproc --all; df -h /dev/shm; $PY -c "import torch; print(torch.__version__)") > runs/gpu-nproc.txt 2>&1
train() {  # NAME CMD...: run CMD with the time limit; if it fails, retry once without bf16 autocast
  local name=$1; shift
  local t0=$SECONDS
  "$@" --time-limit-min "$MIN" > "runs/$name.log" 2>&1 && return
  local left
  left=$($PY -c "print(round(max(0.5, $MIN - ($SECONDS - $t0) / 60 - 0.3), 2))")
  echo "=== failed; retrying without autocast for $left min" >> "runs/$name.log"
  rm -rf "runs/$name"
  "$@" --amp false --time-limit-min "$left" >> "runs/$name.log" 2>&1
}
for fam in $FAMILIES; do
  train gpu-est-$fam $PY -m s2k.cli train estimator --out runs/gpu-est-$fam --family $fam \
    --init s2k/weights/estimator-$fam.safetensors --train-dirs "$DATA" --val-dir "" \
    --iterations 1000000 --batch-size 32 --lr "$EST_LR" --lr-schedule cosine --workers "$EST_WORKERS" --threads 1 \
    --device "$DEV" --log-every 100 --checkpoint-every 5000 --quiet &
done
train gpu-sftmd $PY -m s2k.cli train sr --out runs/gpu-sftmd --train-dirs "$DATA" --val-dir "" \
  --iterations 1000000 --batch-size 32 --lr-patch 48 --lr "$SR_LR" --lr-schedule cosine --workers "$SR_WORKERS" --threads 1 --init "$SR_INIT" \
  --device "$DEV" --log-every 100 --checkpoint-every 5000 --quiet &
wait
for fam in $FAMILIES; do
  $PY -m s2k.cli train export runs/gpu-est-$fam/last.safetensors -o "$OUT/est-$fam.safetensors"
done
$PY -m s2k.cli train export runs/gpu-sftmd/last.safetensors -o "$OUT/sftmd-fp32.safetensors" --float32
tar czf "$OUT/logs.tar.gz" runs/gpu-*.log runs/gpu-*.txt runs/gpu-*/config.json runs/gpu-*/log.csv
ls -la "$OUT"
tail -n 3 runs/gpu-*.log
