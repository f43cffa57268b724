"""Adaptive discriminator augmentation (ADA) for training StyleGAN models on small data sets.

After Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data". Every
image that the discriminator sees — real and generated alike — goes through
:class:`AugmentPipe`, a chain of random, *differentiable* transforms each applied with
probability ``p``. Because the generator's images are augmented too and gradients flow
through the augmentations, the generator is never taught to produce augmented images as long
as ``p`` stays below about 0.8 ("non-leaking" augmentations). :class:`AdaController` adjusts
``p`` during training from the overfitting heuristic ``r_t = E[sign(D(real))]``.

This is the paper's ``bgc`` set (blit + geometric + colour), written from its description:

blit
    x-flip, rotation by a multiple of 90 degrees, integer translation.
geometric
    isotropic scale, rotation, anisotropic scale, fractional translation.
colour
    brightness, contrast, luma flip, hue rotation, saturation.

Also here: :func:`gaussian_blur` with its schedule :func:`blur_sigma_at`, StyleGAN3's blur of every
image the discriminator sees early in training (Karras et al. 2021), which keeps the generator from
chasing fine texture before it has learned composition.

All blit and geometric transforms of one image are folded into a single 2-D affine matrix and
the image is resampled once; all colour transforms are folded into a single 4x4 matrix acting
on ``[r, g, b, 1]``.

Approximations compared with the paper's reference implementation:

* Resampling is one bilinear :func:`torch.nn.functional.grid_sample`; the reference
  upsamples 2x with a wavelet (``sym6``) low-pass filter, transforms, and downsamples again to
  suppress aliasing. Our geometric transforms therefore blur and alias slightly more.
* Out-of-image samples are taken from the mirrored image by ``grid_sample``'s
  ``padding_mode="reflection"`` (symmetric reflection about the image border, to any
  distance), instead of explicit reflect padding sized to the transformed corners; the effect
  is the same — no black or smeared edges — except that the border pixel is repeated once.
* Transforms whose combined matrix is the identity for the whole batch are skipped, so the
  pipeline is exact when nothing fires (e.g. ``p == 0``), and blits (flips, 90-degree
  rotations, whole-pixel shifts) are exact up to float rounding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["AugmentPipe", "AdaController", "augmentation_preview", "gaussian_blur", "blur_sigma_at"]

# Parameter magnitudes of the paper (appendix B); the lognormal ones are standard deviations
# of log2 of the factor.
XINT_MAX = 0.125        # integer translation, fraction of the image size (uniform)
SCALE_STD = 0.2         # isotropic scale, log2 (normal)
ROTATE_MAX = 1.0        # rotation, fraction of a full half-turn each way: uniform in [-pi, pi]
ANISO_STD = 0.2         # anisotropic scale, log2 (normal)
XFRAC_STD = 0.125       # fractional translation, fraction of the image size (normal)
BRIGHTNESS_STD = 0.2    # added to every channel (normal); images are in [-1, 1]
CONTRAST_STD = 0.5      # contrast factor, log2 (normal)
HUE_MAX = 1.0           # hue rotation about the luma axis, uniform in [-pi, pi] * HUE_MAX
SATURATION_STD = 1.0    # saturation factor, log2 (normal)

_LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)   # the luma axis in homogeneous RGB


# -- random draws -------------------------------------------------------------------------------
def _uniform(n: int, gen: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64)


def _normal(n: int, gen: torch.Generator | None) -> torch.Tensor:
    return torch.randn(n, generator=gen, dtype=torch.float64)


def _fires(n: int, prob: float, gen: torch.Generator | None) -> torch.Tensor:
    """Per image 1.0 where the transform is applied (probability ``prob``), else 0.0."""
    return (_uniform(n, gen) < prob).to(torch.float64)


# -- 3x3 (2-D homogeneous) matrices, batched [N, 3, 3], float64 ----------------------------------
def _eye(n: int, size: int) -> torch.Tensor:
    return torch.eye(size, dtype=torch.float64).expand(n, size, size).clone()


def _translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(tx.shape[0], 3)
    m[:, 0, 2] = tx
    m[:, 1, 2] = ty
    return m


def _scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(sx.shape[0], 3)
    m[:, 0, 0] = sx
    m[:, 1, 1] = sy
    return m


def _rotate2d(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(theta.shape[0], 3)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1] = c, -s
    m[:, 1, 0], m[:, 1, 1] = s, c
    return m


def _rotate90_2d(k: torch.Tensor) -> torch.Tensor:
    """Exact rotation by ``k`` quarter turns (integer-valued entries: no cos/sin rounding)."""
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=torch.float64)
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0], dtype=torch.float64)
    k = k.long() % 4
    m = _eye(k.shape[0], 3)
    m[:, 0, 0], m[:, 0, 1] = cos[k], -sin[k]
    m[:, 1, 0], m[:, 1, 1] = sin[k], cos[k]
    return m


# -- 4x4 (homogeneous RGB) matrices, batched [N, 4, 4], float64 ----------------------------------
def _translate3d(t: torch.Tensor) -> torch.Tensor:
    m = _eye(t.shape[0], 4)
    m[:, :3, 3] = t[:, None]
    return m


def _scale3d(s: torch.Tensor) -> torch.Tensor:
    m = _eye(s.shape[0], 4)
    for i in range(3):
        m[:, i, i] = s
    return m


def _rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by ``theta`` about the unit ``axis`` (Rodrigues' formula)."""
    x, y, z = (float(a) for a in axis[:3])
    k = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], dtype=torch.float64)
    s, c = torch.sin(theta)[:, None, None], torch.cos(theta)[:, None, None]
    m = _eye(theta.shape[0], 4)
    m[:, :3, :3] = torch.eye(3, dtype=torch.float64) + s * k + (1 - c) * (k @ k)
    return m


class AugmentPipe(torch.nn.Module):
    """The ADA ``bgc`` augmentation pipeline.

    Each constructor argument is a multiplier of the probability ``p`` for one transform:
    ``1`` enables it (the paper's ``bgc``), ``0`` disables it; a transform is applied to an
    image with probability ``clamp(p * multiplier, 0, 1)`` — the two rotations (one before and
    one after the anisotropic scale) each with ``1 - sqrt(1 - that)``, so that at least one of
    them fires with the stated probability.

    Attributes:
        p: a 0-d float buffer, the augmentation probability (set by :class:`AdaController`;
            saved with the module's ``state_dict``).
    """

    p: torch.Tensor

    def __init__(
        self,
        *,
        xflip: float = 1,
        rotate90: float = 1,
        xint: float = 1,
        scale: float = 1,
        rotate: float = 1,
        aniso: float = 1,
        xfrac: float = 1,
        brightness: float = 1,
        contrast: float = 1,
        lumaflip: float = 1,
        hue: float = 1,
        saturation: float = 1,
    ) -> None:
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.xflip = float(xflip)
        self.rotate90 = float(rotate90)
        self.xint = float(xint)
        self.scale = float(scale)
        self.rotate = float(rotate)
        self.aniso = float(aniso)
        self.xfrac = float(xfrac)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.lumaflip = float(lumaflip)
        self.hue = float(hue)
        self.saturation = float(saturation)

    def extra_repr(self) -> str:
        names = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
                 "brightness", "contrast", "lumaflip", "hue", "saturation")
        return ", ".join(f"{n}={getattr(self, n):g}" for n in names)

    # -- matrices ---------------------------------------------------------------------------------
    def geometric_matrices(self, n: int, height: int, width: int, p: float,
                           generator: torch.Generator | None = None) -> torch.Tensor:
        """Per image, the *forward* 2-D transform ``[n, 3, 3]`` (float64, CPU) in pixel units
        about the image centre (x to the right, y down): the content at ``u`` moves to ``M u``.
        """
        m = _eye(n, 3)

        def prob(mult: float) -> float:
            return min(max(p * mult, 0.0), 1.0)

        def then(t: torch.Tensor) -> None:
            nonlocal m
            m = t @ m

        if self.xflip > 0:
            i = torch.floor(_uniform(n, generator) * 2) * _fires(n, prob(self.xflip), generator)
            then(_scale2d(1 - 2 * i, torch.ones(n, dtype=torch.float64)))
        if self.rotate90 > 0:
            k = torch.floor(_uniform(n, generator) * 4) * _fires(n, prob(self.rotate90), generator)
            then(_rotate90_2d(k))
        if self.xint > 0:
            on = _fires(n, prob(self.xint), generator)
            tx = (_uniform(n, generator) * 2 - 1) * XINT_MAX * on
            ty = (_uniform(n, generator) * 2 - 1) * XINT_MAX * on
            then(_translate2d(torch.round(tx * width), torch.round(ty * height)))
        if self.scale > 0:
            s = torch.exp2(_normal(n, generator) * SCALE_STD * _fires(n, prob(self.scale), generator))
            then(_scale2d(s, s))
        p_rot = 1 - math.sqrt(1 - prob(self.rotate)) if self.rotate > 0 else 0.0
        if self.rotate > 0:
            theta = (_uniform(n, generator) * 2 - 1) * math.pi * ROTATE_MAX * _fires(n, p_rot, generator)
            then(_rotate2d(theta))
        if self.aniso > 0:
            s = torch.exp2(_normal(n, generator) * ANISO_STD * _fires(n, prob(self.aniso), generator))
            then(_scale2d(s, 1 / s))
        if self.rotate > 0:
            theta = (_uniform(n, generator) * 2 - 1) * math.pi * ROTATE_MAX * _fires(n, p_rot, generator)
            then(_rotate2d(theta))
        if self.xfrac > 0:
            on = _fires(n, prob(self.xfrac), generator)
            tx = _normal(n, generator) * XFRAC_STD * on
            ty = _normal(n, generator) * XFRAC_STD * on
            then(_translate2d(tx * width, ty * height))
        return m

    def color_matrices(self, n: int, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per image, the colour transform ``[n, 4, 4]`` (float64, CPU) acting on ``[r, g, b, 1]``."""
        c = _eye(n, 4)
        v = _LUMA.to(torch.float64)
        vv = torch.outer(v, v)

        def prob(mult: float) -> float:
            return min(max(p * mult, 0.0), 1.0)

        def then(t: torch.Tensor) -> None:
            nonlocal c
            c = t @ c

        if self.brightness > 0:
            b = _normal(n, generator) * BRIGHTNESS_STD * _fires(n, prob(self.brightness), generator)
            then(_translate3d(b))
        if self.contrast > 0:
            s = torch.exp2(_normal(n, generator) * CONTRAST_STD * _fires(n, prob(self.contrast), generator))
            then(_scale3d(s))
        if self.lumaflip > 0:
            i = torch.floor(_uniform(n, generator) * 2) * _fires(n, prob(self.lumaflip), generator)
            then(torch.eye(4, dtype=torch.float64) - 2 * vv * i[:, None, None])   # Householder
        if self.hue > 0:
            theta = (_uniform(n, generator) * 2 - 1) * math.pi * HUE_MAX * _fires(n, prob(self.hue), generator)
            then(_rotate3d(v, theta))
        if self.saturation > 0:
            s = torch.exp2(_normal(n, generator) * SATURATION_STD * _fires(n, prob(self.saturation), generator))
            then(vv + (torch.eye(4, dtype=torch.float64) - vv) * s[:, None, None])
        return c

    # -- applying ---------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch ``[N, C, H, W]`` (float, about [-1, 1]; C is 1 or 3 for the colour
        transforms, anything for the geometric ones).

        Differentiable with respect to ``images``. Random parameters are drawn on the CPU from
        ``generator`` (the global torch RNG when None), so a seeded generator gives the same
        augmentation on any device. ``p == 0`` returns ``images`` itself.
        """
        if images.ndim != 4:
            raise ValueError(f"images must be [N, C, H, W], got {list(images.shape)}")
        p = float(self.p)
        if p <= 0:
            return images
        n, ch, h, w = images.shape
        x = images

        geo = self.geometric_matrices(n, h, w, p, generator)
        if not torch.equal(geo, _eye(n, 3)):
            # grid_sample wants, per output location, where to read: the inverse transform, in
            # normalised coordinates (align_corners=False: -1/+1 are the outer pixel edges).
            to_px = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=torch.float64))
            from_px = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], dtype=torch.float64))
            theta = from_px @ torch.linalg.inv(geo) @ to_px
            theta = theta[:, :2, :].to(device=x.device, dtype=x.dtype)
            grid = F.affine_grid(theta, [n, ch, h, w], align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

        col = self.color_matrices(n, p, generator)
        if not torch.equal(col, _eye(n, 4)):
            col = col.to(device=x.device, dtype=x.dtype)
            if ch == 3:
                x = torch.einsum("nij,njhw->nihw", col[:, :3, :3], x) + col[:, :3, 3, None, None]
            elif ch == 1:   # greyscale: the transform's average effect on a grey pixel
                gain = col[:, :3, :3].sum(dim=2).mean(dim=1)
                x = x * gain[:, None, None, None] + col[:, :3, 3].mean(dim=1)[:, None, None, None]
            else:
                raise ValueError(f"colour augmentations need 1 or 3 channels, got {ch}")
        return x


class AdaController:
    """Adjusts ``pipe.p`` during training from the discriminator's outputs on reals.

    Call :meth:`accumulate` with ``D(real)`` logits each training step and :meth:`step` once
    per step. Every ``interval`` steps the mean sign ``rt`` of the collected logits is
    compared with ``target``: above it (D is over-confident on reals: overfitting) ``p`` goes
    up, below it ``p`` goes down, by ``batch_size * interval / (kimg * 1000)`` — so ``p`` can
    go from 0 to 1 in ``kimg`` thousand real images. ``p`` is kept in [0, 1].

    Attributes:
        p: the current probability (a Python float; ``pipe.p`` holds the same value).
        rt: the last mean sign, or None before the first update.
    """

    def __init__(self, pipe: AugmentPipe, *, target: float = 0.6, interval: int = 4, kimg: float = 500,
                 batch_size: int, initial_p: float = 0.0) -> None:
        if interval < 1:
            raise ValueError("interval must be at least 1")
        if kimg <= 0 or batch_size < 1:
            raise ValueError("kimg must be positive and batch_size at least 1")
        self.pipe = pipe
        self.target = float(target)
        self.interval = int(interval)
        self.kimg = float(kimg)
        self.batch_size = int(batch_size)
        self.p = min(max(float(initial_p), 0.0), 1.0)
        self.rt: float | None = None
        self._sign_sum: torch.Tensor | float = 0.0
        self._count = 0
        self._steps = 0
        self._sync_pipe()

    @property
    def adjustment(self) -> float:
        """The size of one update of ``p``."""
        return self.batch_size * self.interval / (self.kimg * 1000)

    def _sync_pipe(self) -> None:
        with torch.no_grad():
            self.pipe.p.fill_(self.p)

    def accumulate(self, d_real_logits: torch.Tensor) -> None:
        """Collect ``sign(D(real))`` of one batch (stays on the logits' device until :meth:`step`)."""
        logits = d_real_logits.detach()
        self._sign_sum = self._sign_sum + logits.sign().sum().double()
        self._count += logits.numel()

    def step(self) -> float | None:
        """Count one training step; on every ``interval``-th, update ``p`` and return it.

        Returns None between updates, and on an update step where nothing was accumulated
        (then ``p`` is left alone).
        """
        self._steps += 1
        if self._steps % self.interval != 0:
            return None
        if self._count == 0:
            return None
        rt = float(self._sign_sum) / self._count
        self.rt = rt
        self._sign_sum, self._count = 0.0, 0
        self.p = min(max(self.p + float(np.sign(rt - self.target)) * self.adjustment, 0.0), 1.0)
        self._sync_pipe()
        return self.p

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: ``p``, the accumulators and the step counter."""
        return {
            "p": self.p,
            "rt": self.rt,
            "sign_sum": float(self._sign_sum),
            "count": self._count,
            "steps": self._steps,
            "target": self.target,
            "interval": self.interval,
            "kimg": self.kimg,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (settings in it are informative; the constructor's win)."""
        self.p = min(max(float(state["p"]), 0.0), 1.0)
        self.rt = None if state.get("rt") is None else float(state["rt"])
        self._sign_sum = float(state.get("sign_sum", 0.0))
        self._count = int(state.get("count", 0))
        self._steps = int(state.get("steps", 0))
        self._sync_pipe()


def augmentation_preview(pipe: AugmentPipe, images: torch.Tensor, p: float, seed: int = 0) -> torch.Tensor:
    """The images as the discriminator would see them at probability ``p`` (reproducible by
    ``seed``; ``pipe.p`` is left as it was). Not clamped: values may leave [-1, 1] slightly,
    as they do in training; clamp for display."""
    gen = torch.Generator().manual_seed(int(seed))
    old = pipe.p.detach().clone()
    try:
        with torch.no_grad():
            pipe.p.fill_(float(p))
            return pipe(images, generator=gen)
    finally:
        with torch.no_grad():
            pipe.p.copy_(old)


# -- discriminator blur ------------------------------------------------------------------------
def blur_sigma_at(kimg: float, initial_sigma: float, fade_kimg: float) -> float:
    """The blur the discriminator's images get at ``kimg``: ``initial_sigma`` pixels at the start,
    fading linearly to none at ``fade_kimg`` (StyleGAN3's schedule, Karras et al. 2021)."""
    if initial_sigma <= 0 or fade_kimg <= 0:
        return 0.0
    return initial_sigma * max(1.0 - kimg / fade_kimg, 0.0)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, C, H, W] images with standard deviation ``sigma`` pixels.

    Borders are reflected, so edges keep their colour. Differentiable (R1 and the generator's
    gradient flow through it). ``sigma`` below a tenth of a pixel returns the images unchanged.
    """
    if sigma < 0.1:
        return images
    n, c, h, w = images.shape
    radius = min(int(math.ceil(3 * sigma)), h - 1, w - 1)
    taps = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(images, [radius, radius, radius, radius], mode="reflect")
    x = F.conv2d(x, kernel.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
