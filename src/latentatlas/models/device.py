"""Where and in which precision a model trains: ``--device auto|cpu|cuda|mps``, ``--precision auto|float32|bfloat16``."""

from __future__ import annotations

import torch

from ..errors import UsageError

__all__ = ["DEVICES", "PRECISIONS", "resolve_device", "resolve_precision", "bfloat16_is_fast"]

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32", "bfloat16")


def _available(device: str) -> bool:
    if device == "cuda":
        return torch.cuda.is_available()
    if device == "mps":
        return torch.backends.mps.is_available()
    return True


def resolve_device(device: str) -> torch.device:
    """The torch device for ``device``: ``auto`` takes CUDA when present, else the CPU.

    Raises
    ------
    UsageError
        On an unknown name, or a device this machine does not have.
    """
    if device not in DEVICES:
        raise UsageError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not _available(device):
        raise UsageError(f"device {device!r} is not available on this machine (torch {torch.__version__} "
                         f"sees no {device.upper()}); use --device cpu or auto")
    return torch.device(device)


def bfloat16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run natively on ``device`` (AVX-512 BF16 / AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.cpu._is_avx512_bf16_supported())
    return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype of training: ``auto`` takes bfloat16 where it is native, float32 elsewhere.

    Raises
    ------
    UsageError
        On an unknown name.
    """
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return torch.bfloat16 if bfloat16_is_fast(device) else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32
