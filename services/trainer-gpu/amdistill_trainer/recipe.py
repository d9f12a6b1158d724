"""The DeepDistill SFT recipes (arXiv 2504.17565 §4.1–4.2) and the learning-rate schedule they share."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Recipe:
    name: str
    learning_rate: float
    epochs: int
    packing: bool
    max_length: int = 32768
    global_batch: int = 64          # rows (packed sequences, or samples without packing) per optimizer step
    warmup_ratio: float = 0.05      # linear warmup over the first 5% of the steps
    min_learning_rate: float = 0.0  # cosine decay to 0
    # Not published by the paper (paper.md §5: UNKNOWN); the common choices of open reasoning-SFT recipes.
    weight_decay: float = 0.0
    adam_betas: tuple = (0.9, 0.95)
    max_grad_norm: float = 1.0
    seed: int = 42

    def with_overrides(self, **overrides) -> "Recipe":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_json(self) -> dict:
        return asdict(self)


RECIPES = {
    # Stage I: large-scale SFT on the base model — the paper's "higher learning rate" finding.
    "stage1": Recipe("stage1", learning_rate=8e-5, epochs=1, packing=True),
    # Stage II: annealing on the highest-CV samples, one pair per sequence.
    "stage2": Recipe("stage2", learning_rate=8e-6, epochs=2, packing=False),
}


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    return math.ceil(total_steps * warmup_ratio) if warmup_ratio > 0 else 0


def learning_rate_at(step: int, total_steps: int, peak: float, warmup_ratio: float = 0.05, minimum: float = 0.0) -> float:
    """The learning rate of optimizer step ``step`` (1-based): linear from peak/W up to the peak at step W, then
    a cosine from the peak down to ``minimum`` at the last step."""
    warmup = warmup_steps(total_steps, warmup_ratio)
    if step <= warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return minimum + (peak - minimum) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
