"""Image-set quality metrics on CLIP image features, for judging training runs.

These are *not* the Inception-based FID/KID of the literature (the studio ships no Inception
network), so they carry honest names:

``fd_clip``
    Fréchet distance between Gaussians fitted to the CLIP image features of two image sets:
    ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Lower is better; 0 for identical sets.
``kid_clip``
    Kernel distance: the unbiased estimate of the squared maximum mean discrepancy with the
    cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets (with
    the standard deviation over subsets). Unbiased, so about 0 for two samples of one
    distribution (it can be slightly negative) and useful with few images.

Numbers are only comparable between runs that used the same CLIP model and similar image
counts (``fd_clip`` in particular is biased upward for small sets).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = ["fd_clip", "kid", "compute_features", "clip_metrics"]


def _as_2d(features: Any, name: str) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be [N, D], got shape {x.shape}")
    return x


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues
    from rounding are treated as 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, s1) and N(mu2, s2).

    ``Tr((S1 S2)^(1/2))`` is computed as ``Tr((S1^(1/2) S2 S1^(1/2))^(1/2))`` — the same value
    (the two matrices are similar), but the inner matrix is symmetric positive semi-definite, so
    two symmetric eigen-decompositions replace a general matrix square root (no SciPy needed,
    and no complex parts or NaNs from near-singular covariances).
    """
    r1 = _sqrt_psd(np.atleast_2d(s1))
    inner = r1 @ np.atleast_2d(s2) @ r1
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(w, 0, None)).sum())
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    value = float(diff @ diff) + float(np.trace(s1)) + float(np.trace(s2)) - 2 * tr_covmean
    return max(value, 0.0)   # rounding can leave -1e-16 for identical sets


def fd_clip(real_features: Any, fake_features: Any) -> float:
    """Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two feature sets
    ``[N, D]`` (numpy or torch). Each set needs at least 2 samples."""
    a, b = _as_2d(real_features, "real_features"), _as_2d(fake_features, "fake_features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("fd_clip needs at least 2 images in each set")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    m = x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    same = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(same - 2 * kxy.mean())


def kid(real_features: Any, fake_features: Any, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel distance: the unbiased MMD^2 with the kernel ``(x.y / d + 1)^3``.

    Computed on ``subsets`` random subsets (drawn without replacement, reproducibly from
    ``seed``) of ``min(subset_size, n_real, n_fake)`` features from each set; returns the mean
    and the standard deviation over subsets. Each set needs at least 2 samples.
    """
    a, b = _as_2d(real_features, "real_features"), _as_2d(fake_features, "fake_features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    m = min(int(subset_size), a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError("kid needs at least 2 images in each set")
    rng = np.random.default_rng(seed)
    values = np.array([
        _mmd2_unbiased(a[rng.choice(a.shape[0], m, replace=False)], b[rng.choice(b.shape[0], m, replace=False)])
        for _ in range(max(1, int(subsets)))
    ])
    return float(values.mean()), float(values.std())


def _batches(images: Any, batch_size: int) -> Iterable[Any]:
    """One array/tensor is split into batches; anything else is taken as an iterable of batches."""
    if isinstance(images, (np.ndarray, torch.Tensor)):
        for start in range(0, images.shape[0], batch_size):
            yield images[start:start + batch_size]
    else:
        yield from images


def compute_features(scorer: Any, images_iter: Any, limit: int | None = None) -> np.ndarray:
    """CLIP image features ``[N, D]`` (float32, L2-normalised) of at most ``limit`` images.

    Args:
        scorer: a :class:`studio.clip.scorer.ClipScorer` (anything with ``encode_images``).
        images_iter: batches the scorer accepts (float ``[n, 3, H, W]`` in [-1, 1] or uint8
            ``[n, H, W, 3]``, numpy or torch) from any iterable — e.g. a generator that renders
            on the fly — or a single such array/tensor holding the whole set.
        limit: stop after this many images (None: all of them); the iterable is not consumed
            past the batch that reaches it.
    """
    batch_size = max(1, int(getattr(scorer, "batch_size", 32) or 32))
    if limit is not None and limit <= 0:
        raise ValueError("limit must be positive")
    exact = getattr(scorer, "float32", None)     # figures comparable between a GPU and a CPU
    with exact() if exact is not None else contextlib.nullcontext():
        return _features(scorer, images_iter, limit, batch_size)


def _features(scorer: Any, images_iter: Any, limit: int | None, batch_size: int) -> np.ndarray:
    out: list[np.ndarray] = []
    count = 0
    for batch in _batches(images_iter, batch_size):
        if limit is not None:
            batch = batch[:limit - count]
        if len(batch) == 0:
            continue
        feats = scorer.encode_images(batch)
        feats = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
        out.append(feats.astype(np.float32, copy=False))
        count += feats.shape[0]
        if limit is not None and count >= limit:
            break
    if not out:
        raise ValueError("no images to compute features from")
    return np.concatenate(out)


def clip_metrics(scorer: Any, real_images: Any, fake_images: Any, *, limit: int | None = None,
                 kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict[str, float]:
    """``{"fd_clip", "kid_clip", "kid_clip_std"}`` between two image sets (each as accepted by
    :func:`compute_features`, at most ``limit`` images each)."""
    real = compute_features(scorer, real_images, limit)
    fake = compute_features(scorer, fake_images, limit)
    kid_mean, kid_std = kid(real, fake, subsets=kid_subsets, subset_size=kid_subset_size)
    return {"fd_clip": fd_clip(real, fake), "kid_clip": kid_mean, "kid_clip_std": kid_std}
