"""Entry point of the trainer container.

Until the SFT loop lands (the trainer issue), the container reports what it runs on as one JSON line,
so the trainer service and the dashboard can tell a usable GPU image from a broken one.
"""
import json
import sys


def environment() -> dict:
    info = {"python": sys.version.split()[0]}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_available"] = torch.cuda.is_available()
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except ImportError as e:
        info["error"] = f"torch not importable: {e}"
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError as e:
        info["error"] = f"transformers not importable: {e}"
    return info


if __name__ == "__main__":
    report = {"event": "environment", **environment()}
    print(json.dumps(report), flush=True)
    sys.exit(1 if "error" in report else 0)
