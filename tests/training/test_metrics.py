"""fd_clip and kid on synthetic features, and end to end with a tiny CLIP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.training.metrics import clip_metrics, compute_features, fd_clip, frechet_distance, kid


def gaussian(n: int, d: int, seed: int, scale=1.0, shift=0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def test_fd_of_identical_sets_is_zero():
    x = gaussian(500, 16, 0)
    assert fd_clip(x, x) < 1e-6 * np.trace(np.cov(x, rowvar=False))
    assert fd_clip(torch.from_numpy(x).float(), torch.from_numpy(x).float()) < 1e-4


def test_fd_of_shifted_sets_is_the_squared_shift():
    x = gaussian(300, 8, 1)
    shift = np.arange(8) * 0.1
    assert fd_clip(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_fd_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum())
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_fd_closed_form_for_scaled_samples():
    x = gaussian(400, 6, 2)
    s = np.cov(x, rowvar=False)
    # x and 2x: covariances S and 4S, so Tr(S + 4S - 2 * 2S) = Tr(S), plus the mean shift
    mu = x.mean(0)
    assert fd_clip(x, 2 * x) == pytest.approx(float(mu @ mu) + float(np.trace(s)), rel=1e-9)


def test_fd_with_singular_covariances_is_finite():
    x = gaussian(5, 32, 3)   # fewer samples than dimensions
    y = gaussian(5, 32, 4)
    v = fd_clip(x, y)
    assert np.isfinite(v) and v > 0


def test_kid_is_about_zero_for_one_distribution_and_positive_for_two():
    a, b = gaussian(400, 16, 5), gaussian(400, 16, 6)
    same, same_std = kid(a, b, subsets=20, subset_size=200)
    diff, _ = kid(a, gaussian(400, 16, 7, shift=0.5), subsets=20, subset_size=200)
    assert abs(same) < 0.05 and same_std >= 0
    assert diff > 0.5
    assert diff > 10 * abs(same)


def test_kid_is_unbiased_on_average():
    vals = [kid(gaussian(60, 8, 10 + i), gaussian(60, 8, 100 + i), subsets=5, subset_size=60)[0] for i in range(20)]
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(len(vals)) + 1e-3


def test_kid_caps_the_subset_size_and_is_reproducible():
    a, b = gaussian(30, 4, 0), gaussian(20, 4, 1, shift=1.0)
    assert kid(a, b, subsets=10, subset_size=1000) == kid(a, b, subsets=10, subset_size=1000)
    assert kid(a, b, subsets=10, subset_size=1000)[0] > 0
    with pytest.raises(ValueError):
        kid(a[:1], b)


class FakeScorer:
    """Features = per-channel means, with a call log."""

    batch_size = 4

    def __init__(self):
        self.calls: list[int] = []

    def encode_images(self, images):
        x = torch.as_tensor(images).float()
        self.calls.append(x.shape[0])
        return torch.nn.functional.normalize(x.mean(dim=(2, 3)), dim=-1)


def test_compute_features_batches_and_limits():
    scorer = FakeScorer()
    images = torch.rand(10, 3, 8, 8)
    feats = compute_features(scorer, images, limit=None)
    assert feats.shape == (10, 3) and feats.dtype == np.float32
    assert scorer.calls == [4, 4, 2]

    scorer = FakeScorer()
    consumed = []

    def stream():
        for i in range(5):
            consumed.append(i)
            yield torch.rand(3, 3, 8, 8)

    feats = compute_features(scorer, stream(), limit=7)
    assert feats.shape == (7, 3)
    assert scorer.calls == [3, 3, 1]
    assert consumed == [0, 1, 2]


def test_clip_metrics_end_to_end_with_a_tiny_clip(tmp_path):
    from studio.clip.model import load_clip
    from tests.clip_fixtures import make_tiny_clip

    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    scorer = load_clip(str(weights), config=str(config))
    g = torch.Generator().manual_seed(0)
    real = torch.rand(24, 3, 32, 32, generator=g) * 2 - 1
    feats = compute_features(scorer, real, limit=20)
    assert feats.shape[0] == 20 and np.isfinite(feats).all()
    assert np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-4)

    same = clip_metrics(scorer, real, real, kid_subsets=5)
    assert set(same) == {"fd_clip", "kid_clip", "kid_clip_std"}
    assert same["fd_clip"] < 1e-6
    uint8 = ((torch.rand(24, 32, 32, 3, generator=g) * 0.3) * 255).to(torch.uint8).numpy()   # dark images
    other = clip_metrics(scorer, real, uint8, kid_subsets=5)
    assert other["fd_clip"] > same["fd_clip"] and other["kid_clip"] > 0
