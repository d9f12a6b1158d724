"""The SFT loop: tokenise (once, to disk), plan rows, then step through them with the recipe's schedule.

One process, or several under torchrun with FSDP2 (parameters sharded per decoder layer, bf16 compute, fp32
gradient reduction). Each optimizer step takes ``global_batch`` rows; the loss is the mean over every target token
of the step across all ranks, so accumulation and data parallelism do not change it.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.distributed as dist

from . import checkpoint
from .dataset import STATS, TokenizedDataset, build_row, plan_rows, rows_of_step, tokenize_file, total_steps
from .flops import mfu, peak_tflops, training_flops
from .formatting import ChatFormatter
from .model import CausalLMLoss, choose_mask_mode, matmul_params, model_shape, packed_inputs
from .progress import Progress
from .recipe import Recipe, learning_rate_at


@dataclass
class TrainConfig:
    data: str
    output: str
    recipe: Recipe
    save_every: int = 0            # optimizer steps between checkpoints; 0: only the final model
    max_steps: int = 0             # stop (and end the schedule) after this many steps; 0: the whole run
    gradient_checkpointing: bool = True
    loss_chunk: int = 4096
    peak_tflops: Optional[float] = None
    extra: dict = field(default_factory=dict)


def init_distributed() -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or os.environ.get("AMDISTILL_FSDP") == "1":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # Rank 0 tokenises while the others wait at a barrier: allow it hours, not the default minutes.
        dist.init_process_group(backend, timeout=datetime.timedelta(hours=4))


def _sum(value: float, device) -> float:
    if not dist.is_initialized():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def _shard(module: CausalLMLoss) -> None:
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    layer_classes = set(getattr(module.lm, "_no_split_modules", None) or [])
    for m in module.lm.modules():
        if type(m).__name__ in layer_classes:
            fully_shard(m, mp_policy=policy)
    # The root keeps its parameters (embeddings, output matrix) gathered after forward: the loss needs them again.
    fully_shard(module, mp_policy=policy, reshard_after_forward=False)


def _tokenize_once(cfg: TrainConfig, formatter: ChatFormatter, directory: str) -> dict:
    source = {"data": os.path.abspath(cfg.data), "size": os.path.getsize(cfg.data), "mtime": os.path.getmtime(cfg.data),
              "max_length": cfg.recipe.max_length, "end_of_turn": formatter.end_of_turn}
    stats_path = os.path.join(directory, STATS)
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            stats = json.load(f)
        if stats.get("source") == source:
            return stats
    stats = tokenize_file(cfg.data, formatter, directory, cfg.recipe.max_length).to_json()
    stats["source"] = source
    with open(stats_path, "w") as f:
        json.dump(stats, f)
    return stats


def train(cfg: TrainConfig, lm: torch.nn.Module, formatter: ChatFormatter, vocab_size: int,
          save_model: Callable[[dict, str], None], progress: Progress) -> dict:
    recipe = cfg.recipe
    distributed = dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if recipe.global_batch % world:
        # Uneven shares would give the ranks different numbers of forward passes in a step, and FSDP would hang.
        raise ValueError(f"global batch {recipe.global_batch} does not divide evenly across {world} GPUs: "
                         f"use a multiple of {world} (--global-batch)")
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    torch.manual_seed(recipe.seed)

    tokenized = os.path.join(cfg.output, "tokenized")
    stats = _tokenize_once(cfg, formatter, tokenized) if rank == 0 else None
    if distributed:
        dist.barrier()
    dataset = TokenizedDataset(tokenized)
    rows = plan_rows(dataset, recipe.max_length, recipe.packing, recipe.epochs, recipe.seed)
    rows = rows[:len(rows) - len(rows) % world]  # every rank runs the same number of forward passes
    steps = total_steps(rows, recipe.global_batch)
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    if steps == 0:
        raise ValueError(f"nothing to train on: {stats}")

    if cfg.gradient_checkpointing and hasattr(lm, "gradient_checkpointing_enable"):
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    layers, hidden = model_shape(lm)
    flop_params = matmul_params(lm)
    module = CausalLMLoss(lm, cfg.loss_chunk).to(device)
    if distributed:
        _shard(module)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext
    optimizer = torch.optim.AdamW(module.parameters(), lr=recipe.learning_rate, betas=tuple(recipe.adam_betas),
                                  weight_decay=recipe.weight_decay, **({"fused": True} if cuda and not distributed else {}))

    checkpoints = os.path.join(cfg.output, "checkpoints")
    start = 0
    resume_from = checkpoint.latest(checkpoints)
    if resume_from:
        start = checkpoint.load(resume_from, module, optimizer)

    mask_mode, gaps = ("position_ids", {}) if not recipe.packing else choose_mask_mode(module, vocab_size, device, autocast)
    peak = cfg.peak_tflops or (peak_tflops(torch.cuda.get_device_name(device)) if cuda else None)
    progress.emit("start", recipe=recipe.to_json(), steps=steps, resumed_at=start, resumed_from=resume_from,
                  rows=len(rows), world_size=world, params=sum(p.numel() for p in lm.parameters()),
                  mask_mode=mask_mode, isolation_gaps=gaps, peak_tflops=peak, tokenize=stats, **cfg.extra)

    module.train()
    run_started, loss = time.perf_counter(), float("nan")
    for step in range(start, steps):
        began = time.perf_counter()
        lr = learning_rate_at(step + 1, steps, recipe.learning_rate, recipe.warmup_ratio, recipe.min_learning_rate)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = [build_row(dataset, ids) for ids in rows_of_step(rows, step, recipe.global_batch, rank, world) or []]
        targets = _sum(sum(r.target_tokens for r in batch), device)
        loss_sum = torch.zeros((), device=device)
        for i, row in enumerate(batch):
            if distributed:  # reduce gradients once per step, after the last micro-batch
                module.set_requires_gradient_sync(i == len(batch) - 1)
            with autocast():
                row_loss = module(**packed_inputs(row, device, mask_mode))
            (row_loss / max(targets, 1.0)).backward()
            loss_sum += row_loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), recipe.max_grad_norm)
        grad_norm = grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        loss = _sum(loss_sum.item(), device) / max(targets, 1.0)
        tokens = _sum(sum(len(r.input_ids) for r in batch), device)
        flops = _sum(training_flops(flop_params, layers, hidden, [n for r in batch for n in r.lengths]), device)
        seconds = time.perf_counter() - began
        progress.emit("step", step=step + 1, steps=steps, loss=loss, lr=lr, grad_norm=float(grad_norm),
                      tokens=int(tokens), target_tokens=int(targets), tokens_per_s=tokens / seconds,
                      mfu=mfu(flops, seconds, world, peak), step_s=seconds)
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < steps:
            path = checkpoint.save(checkpoints, step + 1, module, optimizer)
            progress.emit("checkpoint", step=step + 1, path=path)

    final = os.path.join(cfg.output, "model")
    if distributed:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = module.state_dict()
    if rank == 0:
        save_model({k[len("lm."):]: v for k, v in state.items() if k.startswith("lm.")}, final)
    if distributed:
        dist.barrier()
    summary = {"steps": steps, "final_loss": loss, "model": final, "elapsed_s": time.perf_counter() - run_started}
    progress.emit("done", **summary)
    return summary
