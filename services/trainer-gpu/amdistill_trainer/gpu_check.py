"""The GPU check: a small random Qwen2 model and a BPE tokenizer trained on the spot (nothing downloaded), trained
for a few dozen Stage-I steps on packed rows of a training file; prints tokens/s and MFU as one JSON line."""
from __future__ import annotations

import json
import math
import os
import statistics

import torch

from .dataset import TokenizedDataset, pack
from .formatting import ChatFormatter
from .progress import Progress
from .recipe import RECIPES
from .records import read_jsonl
from .train import TrainConfig, _tokenize_once, train

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}")
SIZES = {  # Qwen2 shapes: (hidden, intermediate, layers, heads, kv heads)
    "tiny": (256, 704, 4, 4, 2),
    "small": (2048, 5632, 16, 16, 4),
}


def _texts(path):
    for _, conversation, _ in read_jsonl(path):
        if conversation:
            yield " ".join(m["content"] for m in conversation.context) + conversation.thinking + conversation.answer


def build_model(data: str, directory: str, size: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Config, Qwen2ForCausalLM
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # transformers 5 renamed the fast tokenizer class
        from transformers import TokenizersBackend as PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    bpe.train_from_iterator(_texts(data), trainers.BpeTrainer(vocab_size=8192, special_tokens=specials,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    hidden, intermediate, layers, heads, kv = SIZES[size]
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                         max_position_embeddings=32768, tie_word_embeddings=False)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def run(args) -> None:
    from .model import load_hf

    import transformers

    base = os.path.join(args.output, "base-model")
    build_model(args.data, base, args.size)
    lm, tokenizer = load_hf(base, torch.float32)
    formatter = ChatFormatter.for_hf_tokenizer(tokenizer)

    # Enough epochs of the file for the requested steps; the schedule runs over those steps.
    recipe = RECIPES["stage1"].with_overrides(max_length=args.max_length, global_batch=args.global_batch)
    probe = TrainConfig(args.data, args.output, recipe)
    stats = _tokenize_once(probe, formatter, os.path.join(args.output, "tokenized"))
    rows_per_epoch = len(pack(TokenizedDataset(os.path.join(args.output, "tokenized")).lengths, args.max_length))
    recipe = recipe.with_overrides(epochs=math.ceil(args.steps * args.global_batch / max(1, rows_per_epoch)))

    steps = []

    class Collect(Progress):
        def emit(self, event, **fields):
            super().emit(event, **fields)
            if event == "step":
                steps.append(fields)

    torch.cuda.reset_peak_memory_stats()
    config = TrainConfig(args.data, args.output, recipe, max_steps=args.steps, gradient_checkpointing=not args.no_gradient_checkpointing)
    summary = train(config, lm, formatter, len(tokenizer),
                    lambda state, d: lm.save_pretrained(d, state_dict=state), Collect())
    measured = steps[min(5, len(steps) - 1):]  # the first steps include compilation and allocator warm-up
    print(json.dumps({
        "event": "gpu_check", "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "transformers": transformers.__version__, "model": args.size,
        "gradient_checkpointing": not args.no_gradient_checkpointing,
        "params": sum(p.numel() for p in lm.parameters()), "samples": stats["samples"],
        "rows_per_epoch": rows_per_epoch, "max_length": args.max_length, "global_batch": args.global_batch,
        "steps": len(steps), "first_loss": steps[0]["loss"], "final_loss": summary["final_loss"],
        "tokens_per_s_median": statistics.median(s["tokens_per_s"] for s in measured),
        "mfu_median": statistics.median(s["mfu"] for s in measured) if measured[0]["mfu"] is not None else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }), flush=True)
