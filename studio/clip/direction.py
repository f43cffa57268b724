"""CLIP's direction for a prompt: the move in W that most raises the prompt's score, on average over
sampled images of the model (the gradient of the CLIP similarity through the generator)."""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F

from studio.gan.directions import Direction, DirectionError, w_spread
from studio.gan.render_settings import RenderSettings


def clip_direction(renderer, scorer, prompt: str, *, samples: int = 16, seed: int = 0,
                   settings: RenderSettings = RenderSettings(), batch: int = 4,
                   should_cancel=None) -> Direction | None:
    """A unit direction in W (shared by all layers) along which ``prompt``'s CLIP score rises fastest,
    averaged over ``samples`` images; None if cancelled."""
    if not prompt or not prompt.strip():
        raise DirectionError("a CLIP direction needs a prompt")
    G = renderer.G
    text = scorer.encode_text([prompt])[0].to(scorer.device)
    ws = renderer.ws_from_seeds(list(range(seed, seed + samples)), settings)[:, 0].detach().clone()
    grads = torch.zeros_like(ws)
    for start in range(0, samples, batch):
        if should_cancel is not None and should_cancel():
            return None
        w = ws[start:start + batch].clone().requires_grad_(True)
        images = G.synthesis(w.unsqueeze(1).repeat(1, G.num_ws, 1), noise_mode="const")
        score = (F.normalize(scorer.image_features(images), dim=-1) @ text).sum()
        (grad,) = torch.autograd.grad(score, w)
        grads[start:start + batch] = grad.detach()
    mean = grads.mean(dim=0).to(torch.float64)
    norm = float(mean.norm())
    if not np.isfinite(norm) or norm == 0:
        raise DirectionError(f"CLIP's score for {prompt!r} does not change with w in this model")
    vector = (mean / norm).numpy()
    sigma = w_spread(G, [vector])[0]
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:32].strip("-")
    return Direction(f"clip-{slug}", vector.astype(np.float32), sigma, None, "clip")


__all__ = ["clip_direction"]
