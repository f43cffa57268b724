"""A tiny random open_clip CLIP saved to files, for every test that needs a CLIP (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from studio.clip import model as clip

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 8, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 1},
}


def make_tiny_clip(folder: Path, seed: int = 0, config: dict | None = None) -> tuple[Path, Path, torch.nn.Module]:
    """Build a random tiny open_clip CLIP, save ``weights.safetensors`` + ``config.json`` in
    ``folder`` and return (weights, config, the in-memory model)."""
    from safetensors.torch import save_file

    open_clip = clip.import_open_clip()
    config = config or TINY_CONFIG
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**config).eval()
    with torch.no_grad():   # a larger logit-free spread than the default init: distinct scores
        for p in model.parameters():
            if p.ndim >= 2:
                p.mul_(3)
    weights, cfg = folder / "weights.safetensors", folder / "config.json"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    cfg.write_text(json.dumps(config))
    return weights, cfg, model
