"""Checkpoints that a run resumes from: model and optimizer state plus the step, written atomically.

One process: ``torch.save`` of both state dicts. Several (FSDP): ``torch.distributed.checkpoint``, each rank
writing its shards. ``latest`` names the newest complete checkpoint; older ones beyond ``keep`` are deleted.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Optional

import torch
import torch.distributed as dist

LATEST = "latest"


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def save(directory: str, step: int, module, optimizer, keep: int = 2) -> str:
    path = os.path.join(directory, f"checkpoint-{step}")
    rank0 = not _distributed() or dist.get_rank() == 0
    if _distributed():
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model_state, optim_state = get_state_dict(module, optimizer)
        dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=path)
        dist.barrier()
    else:
        os.makedirs(path, exist_ok=True)
        torch.save({"model": module.state_dict(), "optim": optimizer.state_dict()}, os.path.join(path, "state.pt.tmp"))
        os.replace(os.path.join(path, "state.pt.tmp"), os.path.join(path, "state.pt"))
    if rank0:
        with open(os.path.join(path, "meta.json"), "w") as f:
            json.dump({"step": step}, f)
        with open(os.path.join(directory, LATEST + ".tmp"), "w") as f:
            f.write(os.path.basename(path))
        os.replace(os.path.join(directory, LATEST + ".tmp"), os.path.join(directory, LATEST))
        old = sorted((d for d in os.listdir(directory) if d.startswith("checkpoint-")), key=lambda d: int(d.split("-")[1]))
        for d in old[:-keep]:
            shutil.rmtree(os.path.join(directory, d), ignore_errors=True)
    if _distributed():
        dist.barrier()
    return path


def latest(directory: str) -> Optional[str]:
    marker = os.path.join(directory, LATEST)
    if not os.path.exists(marker):
        return None
    with open(marker) as f:
        path = os.path.join(directory, f.read().strip())
    return path if os.path.exists(os.path.join(path, "meta.json")) else None


def load(path: str, module, optimizer) -> int:
    """Restores the state saved at ``path``; returns the step it was saved after."""
    if _distributed():
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

        model_state, optim_state = get_state_dict(module, optimizer)
        state = {"model": model_state, "optim": optim_state}
        dcp.load(state, checkpoint_id=path)
        set_state_dict(module, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    else:
        state = torch.load(os.path.join(path, "state.pt"), map_location="cpu")
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optim"])
    with open(os.path.join(path, "meta.json")) as f:
        return int(json.load(f)["step"])
