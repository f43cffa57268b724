"""Which torch device runs the networks: one rule for the window, the CLI, training and CLIP.

``auto`` prefers CUDA, then Apple's MPS, then the CPU; an explicit name must be available. torch
is imported when a device is picked, not when this module is imported (``studio.core`` stays
importable without torch, so the window can appear before torch has loaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: The names a user can give (``--device``, the settings file); ``cuda:N`` is also accepted.
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: Any = "auto") -> torch.device:
    """The device ``name`` means (a ``torch.device`` passes through); ValueError says why not."""
    import torch

    if isinstance(name, torch.device):
        return name
    mps = getattr(torch.backends, "mps", None)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but this PyTorch sees no CUDA GPU")
    if name == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError("--device mps was asked for, but Apple's Metal backend is not available")
    if name not in DEVICE_NAMES[1:] and not str(name).startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)
