#!/usr/bin/env bash
# Speaks the GPU trainer's JSON-line protocol (services/trainer-gpu) without a GPU, for the trainer service's tests.
# Usage: fake-trainer.sh OUTPUT [ARGS...]; FAKE_MODE = success | error | crash | hang; FAKE_STEPS = steps.
out=$1; mode=${FAKE_MODE:-success}; steps=${FAKE_STEPS:-3}
printf '%s\n' "$@" > "$out/args"
echo $$ > "$out/pid"
echo "Loading weights: 100%"   # library output on stdout is not part of the protocol and must be tolerated
echo "{\"event\": \"start\", \"steps\": $steps, \"resumed_at\": 0}"
case $mode in
  crash) echo "Fatal Python error: Segmentation fault" >&2; kill -SEGV $$ ;;
  hang) sleep 300 & echo $! > "$out/child"; wait ;;
esac
for i in $(seq 1 "$steps"); do
  echo "{\"event\": \"step\", \"step\": $i, \"steps\": $steps, \"loss\": $(awk "BEGIN{print 2/$i}"), \"lr\": 8e-05, \"grad_norm\": 1.5, \"tokens\": 1000, \"tokens_per_s\": 5000.5, \"mfu\": 0.42}"
  if [ "$mode" = error ] && [ "$i" = 2 ]; then
    echo "torch.OutOfMemoryError: CUDA out of memory" >&2
    echo '{"event": "error", "message": "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"}'
    exit 1
  fi
done
mkdir -p "$out/model"
echo "{\"event\": \"done\", \"steps\": $steps, \"model\": \"$out/model\"}"
