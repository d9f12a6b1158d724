"""Model FLOPs utilisation: the work the model's maths needs (not counting recomputation), over the chips' peak."""
from __future__ import annotations

from typing import Optional

# Dense bf16 peak per GPU, TFLOP/s (vendor data sheets, without sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "H800": 989.4, "H20": 148.0, "A100": 312.0, "A800": 312.0,
                    "L40S": 362.0, "A10": 125.0, "B200": 2250.0, "GB200": 2500.0}


def peak_tflops(device_name: str) -> Optional[float]:
    name = device_name.upper()
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_BF16_TFLOPS[key]
    return None


def training_flops(matmul_params: int, layers: int, hidden: int, sample_lengths: list) -> float:
    """6·N per token for the weight matmuls (forward + backward), plus causal attention:
    QKᵀ and AV cost 4·L²·d per layer forward, half of it under the causal mask, times 3 with the backward."""
    tokens = sum(sample_lengths)
    attention = 6.0 * layers * hidden * sum(n * n for n in sample_lengths)
    return 6.0 * matmul_params * tokens + attention


def mfu(flops: float, seconds: float, devices: int, peak: Optional[float]) -> Optional[float]:
    if not peak or seconds <= 0:
        return None
    return flops / seconds / (devices * peak * 1e12)
