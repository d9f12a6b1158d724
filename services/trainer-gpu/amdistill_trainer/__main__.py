"""``python -m amdistill_trainer train|env|gpu-check``. Progress and the outcome are JSON lines on stdout; a failure
is an ``error`` event and exit code 1, so the trainer service can report why."""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from .recipe import RECIPES


def environment() -> dict:
    info = {"python": sys.version.split()[0]}
    try:
        import torch

        info.update(torch=torch.__version__, cuda_available=torch.cuda.is_available(),
                    devices=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                    bf16=bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()))
    except ImportError as e:
        info["error"] = f"torch not importable: {e}"
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError as e:
        info["error"] = f"transformers not importable: {e}"
    return info


def parse(argv):
    parser = argparse.ArgumentParser(prog="amdistill_trainer")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="report torch, transformers and the GPUs as one JSON line")
    t = commands.add_parser("train", help="SFT with a DeepDistill recipe")
    t.add_argument("--data", required=True, help="JSONL: chat messages, ShareGPT or AM-schema records")
    t.add_argument("--base-model", required=True, help="a Hugging Face model directory (or hub id where the hub is reachable)")
    t.add_argument("--output", required=True, help="directory for the tokenised data, checkpoints and the final model")
    t.add_argument("--recipe", choices=sorted(RECIPES), default="stage1")
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--epochs", type=int)
    t.add_argument("--max-length", type=int)
    t.add_argument("--global-batch", type=int)
    t.add_argument("--packing", choices=["on", "off"])
    t.add_argument("--seed", type=int)
    t.add_argument("--save-every", type=int, default=0)
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--no-gradient-checkpointing", action="store_true")
    t.add_argument("--peak-tflops", type=float, help="per-GPU bf16 peak for MFU when the GPU is not in the table")
    g = commands.add_parser("gpu-check", help="train a tiny random Qwen2 on a packed sample and print tokens/s and MFU")
    g.add_argument("--data", required=True)
    g.add_argument("--output", required=True)
    g.add_argument("--steps", type=int, default=50)
    g.add_argument("--max-length", type=int, default=8192)
    g.add_argument("--global-batch", type=int, default=4)
    g.add_argument("--size", choices=["tiny", "small"], default="small")
    g.add_argument("--no-gradient-checkpointing", action="store_true")
    s = commands.add_parser("serve", help="serve a model directory over an OpenAI-compatible chat completions endpoint")
    s.add_argument("--model", required=True, help="a Hugging Face model directory or an amdistill tiny model directory")
    s.add_argument("--name", required=True, help="the model name clients ask for (and the teacher's name)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0: any free port (printed in the 'serving' event)")
    s.add_argument("--engine", choices=["auto", "vllm", "torch"], default="auto", help="auto: vLLM where it is installed")
    s.add_argument("--max-batch", type=int, default=8, help="sequences sampled together by the torch engine")
    e = commands.add_parser("eval-slice", help="k answers of a served model to a benchmark's first problems, as `amdistill verify math` reads them")
    e.add_argument("--endpoint", required=True, help="the server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1")
    e.add_argument("--model", required=True)
    e.add_argument("--benchmark", required=True, help="a benchmark file in the repository's query schema (data/benchmarks/aime24.jsonl)")
    e.add_argument("--output", required=True)
    e.add_argument("--limit", type=int, default=8)
    e.add_argument("--k", type=int, default=4)
    e.add_argument("--max-tokens", type=int, default=2048)
    e.add_argument("--concurrency", type=int, default=8)
    m = commands.add_parser("tiny-model", help="write a randomly initialised tiny model (char tokenizer, one layer): CPU runs")
    m.add_argument("--output", required=True)
    m.add_argument("--hidden", type=int, default=32)
    m.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run_train(args) -> None:
    import torch

    from . import tiny
    from .formatting import ChatFormatter
    from .model import load_hf
    from .progress import Progress
    from .train import TrainConfig, init_distributed, train

    recipe = RECIPES[args.recipe].with_overrides(
        learning_rate=args.learning_rate, epochs=args.epochs, max_length=args.max_length, global_batch=args.global_batch,
        packing=None if args.packing is None else args.packing == "on", seed=args.seed)
    init_distributed()
    rank0 = int(os.environ.get("RANK", "0")) == 0
    if tiny.is_tiny(args.base_model):
        lm, tokenizer = tiny.load(args.base_model)
        formatter = tiny.formatter(tokenizer)
        # Its learned positions end at max_positions: longer rows would index past them.
        recipe = recipe.with_overrides(max_length=min(recipe.max_length, lm.config.max_positions))

        def save_model(state, directory):
            tiny.save(lm, directory, state)
    else:
        lm, tokenizer = load_hf(args.base_model, torch.float32)
        formatter = ChatFormatter.for_hf_tokenizer(tokenizer)

        def save_model(state, directory):
            lm.save_pretrained(directory, state_dict=state)
            tokenizer.save_pretrained(directory)

    config = TrainConfig(args.data, args.output, recipe, save_every=args.save_every, max_steps=args.max_steps,
                         gradient_checkpointing=not args.no_gradient_checkpointing, peak_tflops=args.peak_tflops,
                         extra={"base_model": args.base_model})
    progress = Progress(enabled=rank0)
    try:
        train(config, lm, formatter, len(tokenizer), save_model, progress)
    finally:
        progress.close()  # flushes the OTLP exporter's last metrics


def main(argv=None) -> int:
    args = parse(argv if argv is not None else sys.argv[1:])
    if args.command == "env":
        report = {"event": "environment", **environment()}
        print(json.dumps(report), flush=True)
        return 1 if "error" in report else 0
    try:
        if args.command == "train":
            run_train(args)
        elif args.command == "serve":
            from .serve import run

            run(args)
        elif args.command == "eval-slice":
            from .eval_slice import run

            run(args)
        elif args.command == "tiny-model":
            from . import tiny

            tiny.create(args.output, args.hidden, args.seed)
            print(json.dumps({"event": "done", "model": args.output}), flush=True)
        else:
            from .gpu_check import run

            run(args)
        return 0
    except Exception as e:  # the reason travels to the trainer service as the last event
        print(json.dumps({"event": "error", "message": f"{type(e).__name__}: {e}"}), flush=True)
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
