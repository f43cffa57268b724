"""What the evolution maximises: CLIP's similarity to a prompt, minus a negative prompt, plus realness.

A fitness is any callable from a batch of images ``[N, 3, H, W]`` in [-1, 1] to scores (higher is
better); :class:`ClipFitness` is MAGnet's, built around any scorer
with ``encode_images`` / ``encode_text`` (the studio's :class:`studio.clip.scorer.ClipScorer`),
so this package never imports CLIP itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class FitnessResult:
    """Scores of a batch: ``total`` [N] (higher is better) and named ``parts`` [N] each."""

    total: np.ndarray
    parts: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def coerce(cls, value: Any, n: int) -> FitnessResult:
        """A fitness may return a FitnessResult or just the totals (array, tensor, list).
        Non-finite totals become -inf (ranked last)."""
        if not isinstance(value, FitnessResult):
            value = cls(value)
        total = _as_vector(value.total, n, "total")
        total[~np.isfinite(total)] = -np.inf
        parts = {str(k): _as_vector(v, n, k) for k, v in value.parts.items()}
        return cls(total, parts)


def _as_vector(value: Any, n: int, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu().numpy()
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.shape[0] != n:
        raise ValueError(f"the fitness returned {array.shape[0]} '{name}' values for {n} images")
    return array.copy()


FitnessFn = Callable[[torch.Tensor], "FitnessResult | np.ndarray | torch.Tensor | Sequence[float]"]


class ClipFitness:
    """``cos(image, prompt) - negative_weight * cos(image, negative) + realness_weight * realness``.

    Called with float images ``[N, 3, H, W]`` in [-1, 1] at any resolution (the scorer resizes
    to its input size); returns a :class:`FitnessResult` with the parts ``clip`` (cosine with
    the prompt), ``negative`` (cosine with the negative prompt, when one is given) and
    ``realness`` (when a discriminator is used).

    Realness is ``sigmoid(D(image, c))`` in [0, 1]: the discriminator's probability that the
    image is a real painting. ``D`` sees the image resized to its own resolution (bilinear), one
    image at a time, so an image's realness does not depend on the images batched with it (the
    minibatch-standard-deviation feature then sees a group of one).

    ``scorer`` is a :class:`studio.clip.scorer.ClipScorer` (anything with ``encode_images``,
    ``encode_text`` and ``input_size``); ``class_labels`` (one-hot ``[c_dim]``) conditions a
    conditional discriminator.
    """

    def __init__(
        self,
        scorer: Any,
        prompt: str,
        negative: str | None = None,
        negative_weight: float = 1.0,
        discriminator: torch.nn.Module | None = None,
        realness_weight: float = 0.0,
        class_labels: torch.Tensor | np.ndarray | None = None,
    ):
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the evolution needs a prompt: describe the image you are after")
        if realness_weight and discriminator is None:
            raise ValueError("a realness weight needs the model's discriminator, and none was given")
        self.scorer, self.prompt = scorer, prompt
        self.negative = negative if negative and negative.strip() else None
        self.negative_weight, self.realness_weight = float(negative_weight), float(realness_weight)
        self.discriminator = discriminator if realness_weight else None
        self.class_labels = None
        if class_labels is not None:
            self.class_labels = torch.as_tensor(np.asarray(class_labels, dtype=np.float32)).reshape(1, -1)
        self.input_size: int | None = getattr(scorer, "input_size", None)

    @property
    def info(self) -> dict[str, Any]:
        """What the log records about this fitness."""
        return {"prompt": self.prompt, "negative": self.negative, "negative_weight": self.negative_weight,
                "realness_weight": self.realness_weight}

    def __call__(self, images: torch.Tensor) -> FitnessResult:
        prompts = [self.prompt] + ([self.negative] if self.negative else [])
        text = torch.as_tensor(self.scorer.encode_text(prompts)).float().cpu()
        feats = torch.as_tensor(self.scorer.encode_images(images)).float().cpu()
        sims = (feats @ text.t()).numpy().astype(np.float64)
        parts = {"clip": sims[:, 0]}
        total = sims[:, 0].copy()
        if self.negative:
            parts["negative"] = sims[:, 1]
            total -= self.negative_weight * sims[:, 1]
        if self.discriminator is not None:
            real = self.realness(images)
            parts["realness"] = real
            total += self.realness_weight * real
        return FitnessResult(total, parts)

    def realness(self, images: torch.Tensor) -> np.ndarray:
        """sigmoid(D(image, c)) per image, in [0, 1]."""
        D = self.discriminator
        param = next(D.parameters(), None)
        device = param.device if param is not None else images.device
        size = D.img_resolution
        x = images.to(device, torch.float32)
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > size)
        c = self.class_labels.to(device) if self.class_labels is not None and D.c_dim else None
        out = []
        with torch.inference_mode():
            for i in range(x.shape[0]):
                out.append(torch.sigmoid(D(x[i:i + 1], c)).reshape(-1).float().cpu())
        return torch.cat(out).numpy().astype(np.float64)
