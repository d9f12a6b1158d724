"""A character tokenizer and a one-layer causal LM built from a config, nothing downloaded: what the CPU tests and a
local end-to-end run (train → serve → evaluate, no GPU, no transformers) use. A tiny model directory holds
``amdistill-tiny.json`` (its config) and ``model.pt`` (its weights); ``train`` and ``serve`` accept it wherever they
accept a Hugging Face model directory."""
from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace

import torch

from .formatting import ChatFormatter, chatml

CONFIG_FILE, WEIGHTS_FILE = "amdistill-tiny.json", "model.pt"

SPECIALS = ["<|im_start|>", "<|im_end|>", "<think>", "</think>"]


class CharTokenizer:
    def __init__(self):
        self.vocab = SPECIALS + [chr(c) for c in range(32, 127)] + ["\n", "?"]
        self.ids = {t: i for i, t in enumerate(self.vocab)}

    def __len__(self):
        return len(self.vocab)

    def encode(self, text: str) -> list:
        out, i = [], 0
        while i < len(text):
            special = next((s for s in SPECIALS if text.startswith(s, i)), None)
            if special:
                out.append(self.ids[special])
                i += len(special)
            else:
                out.append(self.ids.get(text[i], self.ids["?"]))
                i += 1
        return out

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    @property
    def end_of_turn_id(self) -> int:
        return self.ids["<|im_end|>"]


def formatter(tokenizer: CharTokenizer, render=chatml) -> ChatFormatter:
    return ChatFormatter(render, tokenizer.encode)


class _Decoder(torch.nn.Module):
    def __init__(self, vocab: int, hidden: int, max_positions: int):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, hidden)
        self.positions = torch.nn.Embedding(max_positions, hidden)
        self.qkv = torch.nn.Linear(hidden, 3 * hidden)
        self.out = torch.nn.Linear(hidden, hidden)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(hidden, 4 * hidden), torch.nn.GELU(), torch.nn.Linear(4 * hidden, hidden))
        self.norm = torch.nn.LayerNorm(hidden)

    def forward(self, input_ids, position_ids, attention_mask=None, use_cache=False):
        x = self.embed(input_ids) + self.positions(position_ids)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if attention_mask is not None:
            allowed = attention_mask[:, 0].bool()
        else:  # like flash-attention varlen: a position id of 0 starts a new sample
            sample = (position_ids == 0).cumsum(-1)
            length = input_ids.shape[1]
            allowed = torch.ones(length, length, dtype=torch.bool).tril()[None] & (sample[:, :, None] == sample[:, None, :])
        x = x + self.out(scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v)
        x = x + self.mlp(x)
        return SimpleNamespace(last_hidden_state=self.norm(x))


class TinyCausalLM(torch.nn.Module):
    def __init__(self, vocab: int, hidden: int = 32, max_positions: int = 4096):
        super().__init__()
        self.config = SimpleNamespace(num_hidden_layers=1, hidden_size=hidden, vocab_size=vocab, max_positions=max_positions)
        self.model = _Decoder(vocab, hidden, max_positions)
        self.lm_head = torch.nn.Linear(hidden, vocab, bias=False)

    @property
    def base_model(self):
        return self.model

    def get_input_embeddings(self):
        return self.model.embed

    def get_output_embeddings(self):
        return self.lm_head


def is_tiny(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, CONFIG_FILE))


def save(lm: TinyCausalLM, directory: str, state: dict | None = None) -> None:
    os.makedirs(directory, exist_ok=True)
    config = {"architecture": "amdistill-tiny", "vocab_size": lm.config.vocab_size, "hidden_size": lm.config.hidden_size,
              "max_positions": lm.config.max_positions, "tokenizer": "chars"}
    torch.save(state if state is not None else lm.state_dict(), os.path.join(directory, WEIGHTS_FILE))
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:  # last: its presence means the directory is whole
        json.dump(config, f)


def load(directory: str) -> tuple[TinyCausalLM, CharTokenizer]:
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    lm = TinyCausalLM(config["vocab_size"], config["hidden_size"], config["max_positions"])
    lm.load_state_dict(torch.load(os.path.join(directory, WEIGHTS_FILE), map_location="cpu"))
    return lm, CharTokenizer()


def create(directory: str, hidden: int = 32, seed: int = 0) -> None:
    """A randomly initialised tiny model, the same for the same seed."""
    torch.manual_seed(seed)
    save(TinyCausalLM(len(CharTokenizer()), hidden), directory)
