"""Projection: the latent whose image is closest to a given picture, offline, on the CPU.

No downloaded perceptual network (LPIPS / VGG): the loss is what needs no weights or what the
file itself brings:

* L1 at several scales (full, 1/2, 1/4: the layout counts as much as the detail),
* 1 - MS-SSIM (structure and contrast at every scale the image allows),
* optionally the network's own discriminator: the distance between its features of the two
  images (D learned what matters in this model's pictures),
* optionally the artist's CLIP: 1 - the cosine of the two images' CLIP features (what the
  picture shows rather than where its pixels are).

``benchmarks/projection.py --ablation`` measures the terms against each other. On six held-out
pictures of the default model (W+, 200 steps): L1 alone 34.9 dB, + MS-SSIM 35.4 dB, + the
discriminator's features 34.5 dB (worse: off unless asked), + CLIP at 0.5 36.0 dB (the front
ends' default); 16, 256 or 2048 starts 35.5 / 35.4 / 35.6 dB (256 is kept: cheap insurance).

The search starts from the best of ``start_seeds`` random latents (scored by the same loss at a
quarter of the size) and optimises one w shared by all layers ("w"); in "w+" it then frees every
layer's w, pulled toward their mean so the result stays an image the model would make. Noise is
fixed (the network's stored noise). The result is a w the recipe keeps, so the picture can be
edited, exported and evolved like any other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

SPACES = ("w", "w+")
ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
PreviewFn = Callable[[int, np.ndarray], None]


@dataclass
class Projection:
    """What a projection found: ``w`` [num_ws, w_dim], its image, and how close it came."""

    w: np.ndarray
    image: np.ndarray
    space: str
    psnr: float
    ms_ssim: float
    seconds: float
    steps: int
    start_seed: int
    history: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Image similarity


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _ssim_parts(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean SSIM, mean contrast-structure) of images in [0, 1], [N, C, H, W]."""
    c = a.shape[1]
    k = window.to(a.dtype)
    kx = k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    ssim = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1) * cs
    return ssim.mean(dim=[1, 2, 3]), cs.mean(dim=[1, 2, 3])


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) of images in [0, 1], [N, C, H, W] -> [N], with as many
    of the five scales as the size allows for an 11 px window (weights renormalised)."""
    window = _gaussian()
    scales = max(1, min(5, int(math.log2(min(a.shape[2:]) / 11)) + 1))
    weights = torch.tensor(_MS_WEIGHTS[:scales], dtype=a.dtype)
    weights = weights / weights.sum()
    values = []
    for s in range(scales):
        ssim, cs = _ssim_parts(a, b, window)
        values.append(ssim.clamp_min(1e-6) if s == scales - 1 else cs.clamp_min(1e-6))
        if s < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    stacked = torch.stack(values, dim=1)
    return torch.prod(stacked ** weights, dim=1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


# --------------------------------------------------------------------------------------------
# The loss


class _Loss:
    """Multi-scale L1 + (1 - MS-SSIM) [+ discriminator feature distance] against one target."""

    def __init__(self, target: torch.Tensor, D: torch.nn.Module | None = None, c: torch.Tensor | None = None,
                 d_weight: float = 0.1, ssim_weight: float = 1.0, clip=None, clip_weight: float = 0.0):
        self.target = target                               # [1, C, H, W] in [-1, 1]
        self.pyramid = [target, F.avg_pool2d(target, 2), F.avg_pool2d(target, 4)]
        self.D, self.c, self.d_weight, self.ssim_weight = D, c, d_weight, ssim_weight
        self.target_features = self._features(target) if D is not None else None
        self.clip, self.clip_weight = (clip, clip_weight) if clip is not None and clip_weight > 0 else (None, 0.0)
        if self.clip is not None:
            with torch.no_grad():
                self.target_clip = F.normalize(clip.image_features(target), dim=-1)

    def _features(self, img: torch.Tensor) -> list[torch.Tensor]:
        feats, x, picture = [], None, img
        for res in self.D.block_resolutions:
            x, picture = getattr(self.D, f"b{res}")(x, picture)
            feats.append(x)
        return feats

    def __call__(self, img: torch.Tensor, low: bool = False) -> torch.Tensor:
        if low:   # the start search compares quarter-size images
            t = self.pyramid[2]
            return (F.avg_pool2d(img, 4) - t).abs().mean(dim=[1, 2, 3])
        loss = sum((F.avg_pool2d(img, 2 ** k) if k else img).sub(t).abs().mean(dim=[1, 2, 3])
                   for k, t in enumerate(self.pyramid))
        if self.ssim_weight:
            a = ((img + 1) / 2).clamp(0, 1)
            b = ((self.target + 1) / 2).expand_as(a)
            loss = loss + self.ssim_weight * (1 - ms_ssim(a, b))
        if self.clip is not None:
            feats = F.normalize(self.clip.image_features(img), dim=-1)
            loss = loss + self.clip_weight * (1 - (feats * self.target_clip.to(feats.device)).sum(dim=1).to(loss.device))
        if self.D is not None:
            feats = self._features(img)
            loss = loss + self.d_weight * sum((f - t).square().mean(dim=[1, 2, 3]) / t.square().mean().clamp_min(1e-8)
                                              for f, t in zip(feats, self.target_features))
        return loss


# --------------------------------------------------------------------------------------------
# The search


def project(renderer, target: np.ndarray, *, space: str = "w+", steps: int = 300, start_seeds: int = 256,
            use_discriminator: bool = False, class_index: int | None = None, lr: float = 0.04,
            pull: float = 0.01, seed: int = 0, ssim_weight: float = 1.0, clip=None, clip_weight: float = 0.0,
            progress: ProgressFn | None = None,
            should_cancel: CancelFn | None = None, on_preview: PreviewFn | None = None,
            preview_every: int = 25) -> Projection | None:
    """Project ``target`` (uint8 [H, W, 3] at the model's resolution) into ``renderer``'s model.

    ``steps`` of Adam (half in w, then half in w+ for "w+"); ``progress(done, total)`` counts
    the start search and the steps; ``on_preview(step, image)`` receives the current image now
    and then. Returns None if cancelled.
    """
    if space not in SPACES:
        raise ValueError(f"space must be w or w+, got {space!r}")
    G = renderer.G
    res = G.img_resolution
    if target.shape != (res, res, G.img_channels):
        raise ValueError(f"the picture must be {res}x{res} with {G.img_channels} channels to project into this "
                         f"model, got {target.shape[1]}x{target.shape[0]}")
    if steps < 1 or start_seeds < 1:
        raise ValueError("steps and start_seeds must be at least 1")
    D = renderer.network.D if use_discriminator else None
    if use_discriminator and D is None:
        raise ValueError(f"{renderer.network.name} has no discriminator, so its features cannot guide the projection")
    started = time.perf_counter()
    device = renderer.device
    t = torch.from_numpy(target.astype(np.float32) / 127.5 - 1).permute(2, 0, 1).unsqueeze(0).to(device)
    c = renderer.labels(class_index, 1) if G.c_dim else None
    loss_fn = _Loss(t, D, c, ssim_weight=ssim_weight, clip=clip, clip_weight=clip_weight)
    total = start_seeds + steps
    synth = dict(noise_mode="const")

    # 1. the best starting point among random latents (and the average w)
    best_w, best_loss, best_seed = G.mapping.w_avg.detach().reshape(1, -1).clone(), math.inf, -1
    rng = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        candidates = [(-1, best_w)]
        for start in range(0, start_seeds, 16):
            n = min(16, start_seeds - start)
            z = torch.randn([n, G.z_dim], generator=rng).to(device)
            w = G.mapping(z, c.repeat(n, 1) if c is not None else None)[:, 0]
            candidates.extend((start + i, w[i:i + 1]) for i in range(n))
        for k in range(0, len(candidates), 16):
            if should_cancel is not None and should_cancel():
                return None
            chunk = candidates[k:k + 16]
            ws = torch.cat([w for _, w in chunk]).unsqueeze(1).repeat(1, G.num_ws, 1)
            losses = loss_fn(G.synthesis(ws, **synth), low=True)
            i = int(losses.argmin())
            if float(losses[i]) < best_loss:
                best_loss, best_seed, best_w = float(losses[i]), chunk[i][0], chunk[i][1].clone()
            if progress is not None:
                progress(min(k + len(chunk), start_seeds), total)

    # 2. optimise w, then (w+) every layer's w pulled toward their mean
    w_opt = best_w.clone().requires_grad_(True)
    history: list[float] = []
    w_steps = steps if space == "w" else max(1, steps // 2)
    optimizer = torch.optim.Adam([w_opt], lr=lr, betas=(0.9, 0.999))
    current = None
    plus = None
    for step in range(steps):
        if should_cancel is not None and should_cancel():
            return None
        if step == w_steps and space == "w+":
            plus = w_opt.detach().repeat(G.num_ws, 1).unsqueeze(0).clone().requires_grad_(True)
            optimizer = torch.optim.Adam([plus], lr=lr * 0.5, betas=(0.9, 0.999))
        frac = step / max(steps - 1, 1)
        for group in optimizer.param_groups:             # cosine ramp-down over the last quarter
            base = lr if plus is None else lr * 0.5
            group["lr"] = base * (0.5 * (1 + math.cos(math.pi * max(0.0, (frac - 0.75) / 0.25))) if frac > 0.75 else 1)
        ws = plus if plus is not None else w_opt.unsqueeze(1).repeat(1, G.num_ws, 1)
        img = G.synthesis(ws, **synth)
        loss = loss_fn(img).sum()
        if plus is not None:
            loss = loss + pull * (plus - plus.mean(dim=1, keepdim=True)).square().sum(dim=2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
        current = img.detach()
        if on_preview is not None and (step % preview_every == 0 or step == steps - 1):
            on_preview(step, _to_uint8(current)[0])
        if progress is not None:
            progress(start_seeds + step + 1, total)

    with torch.inference_mode():
        final_ws = (plus if plus is not None else w_opt.unsqueeze(1).repeat(1, G.num_ws, 1)).detach()
        image = _to_uint8(G.synthesis(final_ws, **synth))[0]
        a = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).float() / 255
        b = torch.from_numpy(target).permute(2, 0, 1).unsqueeze(0).float() / 255
        score = float(ms_ssim(a, b)[0])
    return Projection(final_ws[0].cpu().numpy().astype(np.float32), image, space, psnr(image, target), score,
                      time.perf_counter() - started, steps, best_seed, history)


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


__all__ = ["project", "Projection", "ms_ssim", "psnr", "SPACES"]
