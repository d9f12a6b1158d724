"""Cross-entropy over the vocabulary without materialising the logits of a whole 32k-token row.

A 32k row times a 152k vocabulary is 19 GB of fp32 logits. The loss is computed chunk by chunk, and the gradients
of the hidden states and of the output matrix are computed in the same pass (as Liger's fused linear
cross-entropy does), so no chunk's logits outlive it.
"""
from __future__ import annotations

from typing import Optional

import torch

IGNORE = -100


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk_size):
        needs_grad = hidden.requires_grad or weight.requires_grad
        grad_hidden = torch.zeros_like(hidden) if needs_grad else None
        wide = torch.promote_types(weight.dtype, torch.float32)  # logits and the output matrix's gradient: fp32 at least
        grad_weight = torch.zeros(weight.shape, dtype=wide, device=weight.device) if needs_grad else None
        loss = torch.zeros((), dtype=wide, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start:start + chunk_size]
            y = labels[start:start + chunk_size]
            keep = y != IGNORE
            if not bool(keep.any()):
                continue
            h, y = h[keep], y[keep]
            logits = (h @ weight.t()).to(wide)
            log_z = torch.logsumexp(logits, dim=-1)
            loss += (log_z - logits.gather(1, y[:, None]).squeeze(1)).sum()
            if needs_grad:
                d_logits = torch.softmax(logits, dim=-1)
                d_logits[torch.arange(len(y), device=y.device), y] -= 1.0
                d_logits = d_logits.to(hidden.dtype)
                index = keep.nonzero().squeeze(1) + start
                grad_hidden.index_copy_(0, index, (d_logits @ weight).to(hidden.dtype))
                grad_weight += (d_logits.t() @ h).to(wide)
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.weight_dtype = weight.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss.to(grad_hidden.dtype), (grad_weight * grad_loss).to(ctx.weight_dtype), None, None


def linear_cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                             chunk_size: int = 4096) -> torch.Tensor:
    """Σ over target positions of −log p(label), for hidden (T, d), output matrix (V, d), labels (T,)."""
    return _LinearCrossEntropy.apply(hidden, weight, labels, chunk_size)


def reference_cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                                bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The plain computation, for tests."""
    logits = torch.nn.functional.linear(hidden, weight, bias)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum")
