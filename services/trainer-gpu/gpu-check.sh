#!/usr/bin/env bash
# The trainer's GPU check, for a machine with a GPU, torch and transformers but no internet:
#   services/trainer-gpu/gpu-check.sh TRAINING.jsonl [OUTPUT_DIR]
# 1. the CPU unit tests under this machine's torch; 2. 50 Stage-I steps of a random ~0.8B Qwen2 on 8k packed rows
# (tokens/s, MFU); 3. the FSDP2 path under torchrun: 6 steps with a checkpoint at step 3, then a rerun that resumes.
set -uo pipefail
data=$(realpath "$1"); out=${2:-/tmp/amdistill-gpu-check}
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1
rm -rf "$out"; mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m amdistill_trainer env
CUDA_VISIBLE_DEVICES= python3 -m unittest discover -s tests -t . 2>&1 | tail -3
python3 -m amdistill_trainer gpu-check --data "$data" --output "$out/single" --steps 50 --max-length 8192 --global-batch 4 --size small \
  | grep -v '"event": "step"' || echo "gpu-check failed"
for run in first resumed; do
  echo "== FSDP2 under torchrun, $run run"
  AMDISTILL_FSDP=1 torchrun --standalone --nproc_per_node=1 -m amdistill_trainer train --data "$data" \
    --base-model "$out/single/base-model" --output "$out/fsdp" --max-steps 6 --save-every 3 --max-length 8192 --global-batch 4 \
    2>&1 | grep -E '"event"|Error|error' | cut -c1-400
done
ls "$out/fsdp/model" 2>&1
