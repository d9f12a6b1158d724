"""The trainable module: a causal LM whose forward returns the summed loss of a packed row, and how packed samples
are kept from attending to each other."""
from __future__ import annotations

import importlib.util
from typing import Optional

import torch

from .loss import linear_cross_entropy_sum


class CausalLMLoss(torch.nn.Module):
    """Wraps a Hugging Face causal LM (or anything with ``base_model`` and ``get_output_embeddings``) so that the
    whole step, loss included, runs inside one forward — the root FSDP unit then holds the output matrix."""

    def __init__(self, lm: torch.nn.Module, chunk_size: int = 4096):
        super().__init__()
        self.lm = lm
        self.chunk_size = chunk_size

    def hidden_states(self, input_ids, position_ids, attention_mask=None):
        out = self.lm.base_model(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask, use_cache=False)
        return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]

    def forward(self, input_ids, position_ids, labels=None, attention_mask=None):
        """The summed loss over the labels' targets; the logits when no labels are given (through forward, so that
        FSDP gathers the root's parameters either way)."""
        hidden = self.hidden_states(input_ids, position_ids, attention_mask)
        if labels is None:
            return self.lm.get_output_embeddings()(hidden)
        weight = self.lm.get_output_embeddings().weight
        return linear_cross_entropy_sum(hidden.flatten(0, 1), weight, labels.flatten(), self.chunk_size)


def attention_implementation() -> str:
    """flash-attention 2 when installed (varlen kernels over the packed samples), else PyTorch SDPA."""
    return "flash_attention_2" if importlib.util.find_spec("flash_attn") else "sdpa"


def block_causal_mask(lengths: list, device, dtype=torch.bool) -> torch.Tensor:
    """(1, 1, L, L) mask, True where a position may attend: causal within its own packed sample only."""
    total = sum(lengths)
    sample = torch.repeat_interleave(torch.arange(len(lengths), device=device), torch.tensor(lengths, device=device))
    causal = torch.ones(total, total, dtype=torch.bool, device=device).tril()
    mask = causal & (sample[:, None] == sample[None, :])
    return mask[None, None].to(dtype)


def packed_inputs(row, device, mask_mode: str) -> dict:
    inputs = {
        "input_ids": torch.as_tensor(row.input_ids, device=device)[None],
        "position_ids": torch.as_tensor(row.position_ids, device=device)[None],
        "labels": torch.as_tensor(row.labels, device=device)[None],
    }
    if mask_mode == "block_mask" and len(row.lengths) > 1:
        inputs["attention_mask"] = block_causal_mask(row.lengths, device)
    return inputs


@torch.no_grad()
def isolation_gap(module: CausalLMLoss, vocab_size: int, device, mask_mode: str, seed: int = 0) -> float:
    """How much sample B's logits change when A is packed before it, relative to the change with no isolation at
    all (plain causal attention over A+B, positions continuing). ~0 when the packing isolates samples."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, vocab_size, (9,), generator=g)
    b = torch.randint(0, vocab_size, (7,), generator=g)
    lengths = [len(a), len(b)]
    ids = torch.cat([a, b])[None].to(device)
    alone = module(b[None].to(device), torch.arange(len(b), device=device)[None]).float()
    reset = torch.cat([torch.arange(len(a)), torch.arange(len(b))])[None].to(device)
    mask = block_causal_mask(lengths, device) if mask_mode == "block_mask" else None
    packed = module(ids, reset, attention_mask=mask)[:, len(a):].float()
    leaky = module(ids, torch.arange(sum(lengths), device=device)[None])[:, len(a):].float()
    leak = (leaky - alone).abs().max().item()
    return (packed - alone).abs().max().item() / max(leak, 1e-12)


def choose_mask_mode(module: CausalLMLoss, vocab_size: int, device, autocast) -> tuple[str, dict]:
    """Position ids alone isolate packed samples with flash-attention and with transformers' packed-sequence
    detection; where they do not (older transformers), an explicit block-causal mask is used. Measured, not assumed."""
    gaps = {}
    for mode in ("position_ids", "block_mask"):
        with autocast():
            gaps[mode] = isolation_gap(module, vocab_size, device, mode)
        if gaps[mode] < 0.05:
            return mode, gaps
    raise RuntimeError(f"packed samples attend to each other with every mask mode: {gaps}")


def matmul_params(lm: torch.nn.Module) -> int:
    """Parameters that take part in matrix products: all but the input embedding (a lookup), the output matrix
    counted even when tied to it."""
    embedding = lm.get_input_embeddings().weight
    head = lm.get_output_embeddings().weight
    total = sum(p.numel() for p in lm.parameters())
    return total - embedding.numel() + (head.numel() if head is embedding else 0)


def model_shape(lm: torch.nn.Module) -> tuple[int, int]:
    config = lm.config
    return int(config.num_hidden_layers), int(config.hidden_size)


def load_hf(base_model: str, dtype, attn_implementation: Optional[str] = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    try:
        lm = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, attn_implementation=attn_implementation or attention_implementation())
    except TypeError:  # transformers before 4.56 names it torch_dtype
        lm = AutoModelForCausalLM.from_pretrained(base_model, torch_dtype=dtype, attn_implementation=attn_implementation or attention_implementation())
    return lm, tokenizer
