"""The CLIP discriminator's head: conditional projection and minibatch standard deviation."""

from __future__ import annotations

import torch

from studio.training.clip_disc import minibatch_std


def test_minibatch_std_tells_a_collapsed_batch_from_a_varied_one():
    g = torch.Generator().manual_seed(0)
    varied = torch.randn(8, 16, generator=g)
    collapsed = varied[:1].expand(8, -1)
    assert minibatch_std(varied).shape == (8, 1)
    assert float(minibatch_std(collapsed).max()) < 1e-3 < float(minibatch_std(varied).min())
    # Groups are images i, i + n/g, ...: one group made identical shows up only in its own images.
    mixed = varied.clone()
    mixed[[0, 2, 4, 6]] = varied[0]
    std = minibatch_std(mixed).flatten()
    assert float(std[0::2].max()) < 1e-3 and float(std[1::2].min()) > 0.5
    assert minibatch_std(torch.randn(6, 4, generator=g)).shape == (6, 1)   # 6 images: groups of 3
