"""A second discriminator that judges images through a frozen CLIP (a "vision-aided" GAN).

After Kumari et al. 2022, "Ensembling Off-the-shelf Models for GAN Training": a pretrained image
encoder, frozen, with a small trainable head, trained with the same logistic loss beside
StyleGAN2's own discriminator. Its judgement rests on what the CLIP learned to tell apart - for
the default CLIP the family, shapes and colours of a painting - so it rewards composition, where
a discriminator trained from scratch on 128 px paintings first latches onto canvas grain and
brush texture (measured on the default model: patch-shuffled paintings scored nearly as real as
the paintings).

The head is conditional like StyleGAN2's discriminator: its output is projected on an embedding
of the class label. Like StyleGAN2's, it also sees how much the features vary across a small group
of images (minibatch standard deviation): without it the generator settled on one CLIP-pleasing
picture per family. Only the head is trained and saved (``Dclip.*`` in snapshots); the CLIP comes
from the run's ``clip`` setting each time.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from studio.gan.networks.ops import normalize_2nd_moment
from studio.gan.networks.stylegan2 import FullyConnectedLayer

HIDDEN = 256   # width of the head
MBSTD_GROUP = 4  # images compared by the head's minibatch standard deviation


class ClipDiscriminator(nn.Module):
    """image [N, 3, H, W] in [-1, 1] (, one-hot label) -> realness logit [N, 1].

    ``scorer`` is a loaded :class:`studio.clip.scorer.ClipScorer`; its model is frozen here.
    """

    def __init__(self, scorer, feature_dim: int, c_dim: int = 0, hidden: int = HIDDEN):
        super().__init__()
        self.scorer = scorer                      # a plain attribute: not a submodule, not saved
        for p in scorer.model.parameters():
            p.requires_grad_(False)
        scorer.model.eval()
        self.c_dim, self.hidden = c_dim, hidden
        self.fc = FullyConnectedLayer(feature_dim + 1, hidden, activation="lrelu")   # + minibatch std
        self.out = FullyConnectedLayer(hidden, hidden if c_dim else 1)
        if c_dim:
            self.embed = FullyConnectedLayer(c_dim, hidden)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The CLIP's image features, scaled to unit root-mean-square (gradients reach the images)."""
        return normalize_2nd_moment(self.scorer.image_features(images))

    def head(self, features: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.out(self.fc(torch.cat([features, minibatch_std(features)], dim=1)))
        if self.c_dim:
            cmap = normalize_2nd_moment(self.embed(c.to(x.dtype)))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.hidden)
        return x

    def forward(self, images: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(images), c)

    def head_state(self) -> dict[str, torch.Tensor]:
        """The head's weights (the CLIP is not part of the module, so not saved)."""
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        try:
            self.load_state_dict(state)
        except RuntimeError:
            raise ValueError("the snapshot's CLIP discriminator does not fit this CLIP and these labels") from None


def minibatch_std(features: torch.Tensor, group_size: int = MBSTD_GROUP) -> torch.Tensor:
    """[N, 1]: how much the features vary within each group of images (StyleGAN's minibatch
    standard deviation, on feature vectors), so the head can tell when every image looks alike."""
    n = features.shape[0]
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = features.reshape(g, -1, features.shape[1])          # image i is in group i % (n / g)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=1)   # [n / g]
    return y.repeat(g).reshape(n, 1)


def feature_dim(scorer) -> int:
    """Size of the CLIP's image features (one tiny forward pass)."""
    with torch.no_grad():
        size = scorer.input_size
        return int(scorer.image_features(torch.zeros(1, 3, size, size, device=scorer.device)).shape[1])
