"""The tokenised training set on disk, and the rows (packed or single samples) the trainer steps through.

Tokenising is one streaming pass that appends token ids to ``tokens.bin`` and (offset, length, prompt_length) to
``index.bin``; training reads them through memory maps, so host memory stays flat however large the dataset is.
Samples longer than the maximum length are dropped, never truncated (a truncated reasoning trace teaches the model
to stop mid-thought).
"""
from __future__ import annotations

import bisect
import json
import os
import random
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from .formatting import IGNORE, ChatFormatter
from .records import read_jsonl

TOKENS, INDEX, STATS = "tokens.bin", "index.bin", "tokenize.json"


@dataclass
class TokenizeStats:
    samples: int = 0
    tokens: int = 0
    target_tokens: int = 0
    dropped_too_long: int = 0
    dropped_invalid: int = 0
    errors: list = field(default_factory=list)  # the first few, with line numbers

    def to_json(self) -> dict:
        return dict(self.__dict__)


def tokenize_file(path: str, formatter: ChatFormatter, out_dir: str, max_length: int, max_errors_kept: int = 20) -> TokenizeStats:
    os.makedirs(out_dir, exist_ok=True)
    stats = TokenizeStats()
    offset = 0
    with open(os.path.join(out_dir, TOKENS), "wb") as tokens, open(os.path.join(out_dir, INDEX), "wb") as index:
        for line, conversation, error in read_jsonl(path):
            if conversation is None:
                stats.dropped_invalid += 1
                if len(stats.errors) < max_errors_kept:
                    stats.errors.append(f"line {line}: {error}")
                continue
            encoded = formatter.encode(conversation)
            length = len(encoded.input_ids)
            if length > max_length:
                stats.dropped_too_long += 1
                continue
            tokens.write(np.asarray(encoded.input_ids, dtype=np.int32).tobytes())
            index.write(np.asarray([offset, length, encoded.prompt_length], dtype=np.int64).tobytes())
            offset += length
            stats.samples += 1
            stats.tokens += length
            stats.target_tokens += length - encoded.prompt_length
    with open(os.path.join(out_dir, STATS), "w") as f:
        json.dump(stats.to_json(), f)
    return stats


class TokenizedDataset:
    def __init__(self, directory: str):
        index_path = os.path.join(directory, INDEX)
        self.index = np.fromfile(index_path, dtype=np.int64).reshape(-1, 3) if os.path.getsize(index_path) else np.zeros((0, 3), np.int64)
        tokens_path = os.path.join(directory, TOKENS)
        self.tokens = np.memmap(tokens_path, dtype=np.int32, mode="r") if os.path.getsize(tokens_path) else np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def lengths(self) -> np.ndarray:
        return self.index[:, 1]

    def sample(self, i: int) -> tuple[np.ndarray, int]:
        offset, length, prompt_length = self.index[i]
        return np.asarray(self.tokens[offset:offset + length]), int(prompt_length)


def pack(lengths: Iterable[int], max_length: int, window: int = 65536) -> list:
    """Best-fit-decreasing bin packing, one window of samples at a time (a bounded sort, near-optimal fill).

    Returns the bins as lists of sample indices; every bin's total length is ≤ max_length."""
    bins: list = []
    lengths = list(lengths)
    for start in range(0, len(lengths), window):
        ids = sorted(range(start, min(start + window, len(lengths))), key=lambda i: -lengths[i])
        free: list = []  # sorted (remaining capacity, bin number) of this window's open bins
        for i in ids:
            n = int(lengths[i])
            k = bisect.bisect_left(free, (n, -1))
            if k < len(free):
                room, b = free.pop(k)
                bins[b].append(i)
                if room - n > 0:
                    bisect.insort(free, (room - n, b))
            else:
                bins.append([i])
                if max_length - n > 0:
                    bisect.insort(free, (max_length - n, len(bins) - 1))
    return bins


def plan_rows(dataset: TokenizedDataset, max_length: int, packing: bool, epochs: int, seed: int) -> list:
    """Every row the run will train on, epoch after epoch, each epoch in its own seeded order."""
    base = pack(dataset.lengths, max_length) if packing else [[i] for i in range(len(dataset))]
    rows = []
    for epoch in range(epochs):
        order = list(range(len(base)))
        random.Random(seed + epoch).shuffle(order)
        rows.extend(base[i] for i in order)
    return rows


@dataclass
class Row:
    input_ids: np.ndarray     # (L,)
    labels: np.ndarray        # (L,) shifted: labels[i] is the token position i predicts, IGNORE when not a target
    position_ids: np.ndarray  # (L,) restarting at 0 for every packed sample
    lengths: list             # the packed samples' lengths, in order

    @property
    def target_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())


def build_row(dataset: TokenizedDataset, sample_ids: list) -> Row:
    ids, labels, positions, lengths = [], [], [], []
    for i in sample_ids:
        tokens, prompt_length = dataset.sample(i)
        n = len(tokens)
        shifted = np.full(n, IGNORE, dtype=np.int64)
        start = max(prompt_length, 1) - 1  # position start predicts token start+1, the first target token
        shifted[start:n - 1] = tokens[start + 1:n]
        ids.append(tokens.astype(np.int64))
        labels.append(shifted)
        positions.append(np.arange(n, dtype=np.int64))
        lengths.append(n)
    return Row(np.concatenate(ids), np.concatenate(labels), np.concatenate(positions), lengths)


def rows_of_step(rows: list, step: int, global_batch: int, rank: int, world: int) -> Optional[list]:
    """This rank's rows of optimizer step ``step`` (0-based), or None past the end."""
    chunk = rows[step * global_batch:(step + 1) * global_batch]
    if not chunk:
        return None
    return chunk[rank::world]


def total_steps(rows: list, global_batch: int) -> int:
    return (len(rows) + global_batch - 1) // global_batch
