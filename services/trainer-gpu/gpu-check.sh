#!/usr/bin/env bash
# The trainer's GPU check, for a machine with a GPU, torch and transformers but no internet:
#   services/trainer-gpu/gpu-check.sh TRAINING.jsonl [OUTPUT_DIR]
# 1. the CPU unit tests under this machine's torch; 2. 50 Stage-I steps of a random ~0.8B Qwen2 on 8k packed rows
# (tokens/s, MFU); 3. the FSDP2 path under torchrun: 6 steps with a checkpoint at step 3, then a rerun that resumes;
# 4. the trained model served (vLLM where installed, else the batched torch engine) and asked 4 answers to each of 8
# AIME 2024 problems (generation tokens/s), graded by `amdistill verify math` where dotnet is installed.
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
echo "== serve the trained model and evaluate a slice of AIME 2024"
port=8765
python3 -m amdistill_trainer serve --model "$out/fsdp/model" --name gpu-check --port $port > "$out/serve.log" 2>&1 &
server=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
head -c 300 "$out/serve.log"; echo
python3 -m amdistill_trainer eval-slice --endpoint "http://127.0.0.1:$port/v1" --model gpu-check \
  --benchmark ../../data/benchmarks/aime24.jsonl --output "$out/aime24-answers.jsonl" --limit 8 --k 4 --max-tokens 1024 || echo "eval-slice failed"
kill $server 2>/dev/null
if command -v dotnet >/dev/null; then
  dotnet run --project ../AmDistill.Cli -- verify math --input "$out/aime24-answers.jsonl" --output "$out/aime24-verdicts.jsonl" \
    && python3 -c "import json,sys; v=[json.loads(l)['verdict'] for l in open(sys.argv[1])]; print(f'avg@4 {sum(v)/len(v):.3f} over {len(v)} answers')" "$out/aime24-verdicts.jsonl"
fi
