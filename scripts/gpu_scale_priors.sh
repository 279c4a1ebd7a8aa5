#!/usr/bin/env bash
# One lent-GPU session (one GPU, ~16 CPU cores): five fine-tunes of the shipped (stage-3) pnp prior side by
# side, all through the inference path with real borders (--sr-borders padded, views cycled), each stopped
# by a time limit at which its cosine schedule ends (session 16):
#   u2, u3, u4  one network per HQS round (--rounds 8, untied), trained on one scale only (x2 / x3 / x4),
#               validated on that scale's Gaussian and motion problems: a prior per scale, same cost per run;
#   s4          the shared network trained on x4 only (the control: specialisation without untying);
#   sa          the shared network on every scale, as stage 3 was, with batch 32 (stage 3 with 4x the batch).
# Session 21 (larger networks per round, grown from the shipped per-scale files so that they start computing
# exactly what those compute: --grow true, s2k.nets.denoiser.grow_denoiser):
#   g4, g3      the x4 / x3 file grown to a fourth level (widths 16,32,64,128, blocks 0,1,1,1: 1.5x the
#               multiply-adds), trained on x4 / x3;
#   g4b         the x4 file grown to 16,32,64,128 with blocks 0,1,1,2 (1.8x the multiply-adds);
#   g3s         as g3 at half the learning rate (the x3 file's own validation peaked early at 1e-4);
#   c4          the x4 file trained on at its own size (the control: more training without growth).
#
#   scripts/gpu_scale_priors.sh TRAIN_DIR VAL_DIR OUT_DIR MINUTES [DEVICE]
#
# VAL_DIR: BSD100 img 61-68 (python scripts/gpu_data.py --count 400 --val). Environment: BATCH (32),
# LR (1e-4), VAL_EVERY (400), THREADS (3), RUNS (the runs to start, default "u2 u3 u4 s4 sa"), TAG (gpu16).
# Writes OUT_DIR/prior-<run>.safetensors (best validation checkpoint, fp16) and OUT_DIR/logs.tar.gz
# (configs, CSV logs, stdout of each run, nvidia-smi). The run folders are runs/<TAG>-*.
set -u
DATA=${1:?train dir}; VAL=${2:?val dir}; OUT=${3:?out dir}; MIN=${4:?minutes}; DEV=${5:-cuda}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-python3}
BATCH=${BATCH:-32}; LR=${LR:-1e-4}; VAL_EVERY=${VAL_EVERY:-400}; THREADS=${THREADS:-3}
RUNS=${RUNS:-"u2 u3 u4 s4 sa"}; TAG=${TAG:-gpu16}
W4="--widths 16,32,64,128 --blocks 0,1,1,1"
mkdir -p "$OUT" runs
(nvidia-smi || true) > runs/$TAG-nvidia-smi.txt 2>&1
train() {  # NAME EXTRA...
  local name=$1; shift
  $PY -m s2k.cli train denoiser --out "runs/$TAG-$name" --objective sr --init s2k/weights/denoiser.safetensors \
    --sr-borders padded --train-dirs "$DATA" --val-dir "$VAL" --val-count 8 --val-crop 192 \
    --val-every "$VAL_EVERY" --iterations 1000000 --batch-size "$BATCH" --patch-size 96 --lr "$LR" \
    --threads "$THREADS" --device "$DEV" --amp false --log-every 100 --checkpoint-every 100000 \
    --time-limit-min "$MIN" --quiet "$@" > "runs/$TAG-$name.log" 2>&1
}
for run in $RUNS; do
  case $run in
    u2) train u2 --rounds 8 --sr-scales 2 --sr-val-cases gaussian:2,motion:2 & ;;
    u3) train u3 --rounds 8 --sr-scales 3 --sr-val-cases gaussian:3,motion:3 & ;;
    u4) train u4 --rounds 8 --sr-scales 4 --sr-val-cases gaussian:4,motion:4 & ;;
    s4) train s4 --sr-scales 4 --sr-val-cases gaussian:4,motion:4 & ;;
    sa) train sa & ;;
    g4) train g4 --init s2k/weights/denoiser-x4.safetensors --grow true $W4 --rounds 8 --sr-scales 4 \
          --sr-val-cases gaussian:4,motion:4 & ;;
    g4b) train g4b --init s2k/weights/denoiser-x4.safetensors --grow true --widths 16,32,64,128 \
          --blocks 0,1,1,2 --rounds 8 --sr-scales 4 --sr-val-cases gaussian:4,motion:4 & ;;
    c4) train c4 --init s2k/weights/denoiser-x4.safetensors --rounds 8 --sr-scales 4 \
          --sr-val-cases gaussian:4,motion:4 & ;;
    g3) train g3 --init s2k/weights/denoiser-x3.safetensors --grow true $W4 --rounds 8 --sr-scales 3 \
          --sr-val-cases gaussian:3,motion:3 & ;;
    g3s) train g3s --init s2k/weights/denoiser-x3.safetensors --grow true $W4 --rounds 8 --sr-scales 3 \
          --sr-val-cases gaussian:3,motion:3 --lr "$($PY -c "print($LR / 2)")" & ;;
    *) echo "unknown run $run" >&2 ;;
  esac
done
wait
for run in $RUNS; do
  ck=runs/$TAG-$run/best.safetensors
  [ -f "$ck" ] || ck=runs/$TAG-$run/last.safetensors
  [ -f "$ck" ] && $PY -m s2k.cli train export "$ck" -o "$OUT/prior-$run.safetensors"
done
tar czf "$OUT/logs.tar.gz" $(ls runs/$TAG-*.log runs/$TAG-*.txt runs/$TAG-*/config.json runs/$TAG-*/*.csv 2>/dev/null)
ls -la "$OUT"
tail -n 3 runs/$TAG-*.log
for run in $RUNS; do echo "== $run"; cat "runs/$TAG-$run/val.csv" 2>/dev/null; done
