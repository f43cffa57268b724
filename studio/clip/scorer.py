"""ClipScorer: a loaded CLIP that encodes images and prompts and scores one against the other.

:func:`studio.clip.model.load_clip` builds one from a spec; everything that scores images
(ranking, evolution's fitness, preparation's filter, the trainer's metrics and CLIP
discriminator) takes a scorer, so none of them needs to know where the CLIP came from.
"""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F


class ClipScorer:
    """A loaded CLIP: encodes images and prompts and scores images against prompts.

    Image and text features come back L2-normalised on the CPU as float32, so a dot product is
    a cosine similarity. Prompt features are cached. Not thread-safe: keep one scorer on one
    (inference) thread.

    Attributes:
        input_size: the side, in pixels, that the image encoder sees (e.g. 224).
        device: where the model runs.
        name: a human label of the CLIP (see :meth:`ClipSpec.describe`).
        batch_size: images encoded per forward pass.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        name: str,
        image_size: int | tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device,
        resize_mode: str = "shortest",
        interpolation: str = "bicubic",
        vocabulary: set[str] | None = None,
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        h, w = (image_size, image_size) if isinstance(image_size, int) else (int(image_size[0]), int(image_size[1]))
        self._size = (h, w)
        self.input_size: int = max(h, w)
        self.device = device
        self.batch_size = batch_size
        self._resize_mode = resize_mode if resize_mode in ("shortest", "longest", "squash") else "shortest"
        self._interpolation = interpolation if interpolation in ("bicubic", "bilinear") else "bicubic"
        self._mean = torch.tensor(list(mean), dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self._std = torch.tensor(list(std), dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self._vocabulary = None if vocabulary is None else frozenset(vocabulary)
        self._text_cache: dict[str, torch.Tensor] = {}
        self._exact = False

    def __repr__(self) -> str:
        return f"ClipScorer({self.name!r}, input_size={self.input_size}, device={self.device})"

    # -- images ---------------------------------------------------------------------------------
    def encode_images(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """L2-normalised image features ``[N, D]`` (float32, CPU).

        Args:
            images: generator output, float ``[N, 3, H, W]`` in about [-1, 1] (mapped to pixels
                exactly as :func:`studio.gan.render.to_uint8` does, without the rounding, so
                an image and its saved PNG score alike), or uint8 ``[N, H, W, 3]`` (numpy or
                torch; a single ``[H, W, 3]`` image is accepted). Any size: each batch is
                resized on the model's device to the model's input size (bicubic, antialiased,
                the model's resize mode) and normalised with its mean and std.
        """
        x = self._as_tensor(images)
        if x.shape[0] == 0:
            return torch.zeros((0, self._feature_dim()), dtype=torch.float32)
        crops = self._square_crops(x)
        feats = sum(self._encode(crop) for crop in crops)
        return F.normalize(feats, dim=-1) if len(crops) > 1 else feats

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        with torch.inference_mode(), self._half_on_gpu():
            for start in range(0, x.shape[0], max(1, int(self.batch_size))):
                batch = self._preprocess(x[start:start + self.batch_size])
                feats = self.model.encode_image(batch)
                out.append(F.normalize(feats.float(), dim=-1).cpu())
        return torch.cat(out)

    def _half_on_gpu(self):
        """float16 matrix products on a CUDA GPU, as open_clip's own inference does (features come
        back float32 and normalised); a no-op elsewhere and inside :meth:`float32`."""
        if self.device.type == "cuda" and not self._exact:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def float32(self):
        """Encode in float32 on a GPU too, for figures that must compare with the CPU's (FD-CLIP)."""
        before, self._exact = self._exact, True
        try:
            yield self
        finally:
            self._exact = before

    def _square_crops(self, x: torch.Tensor) -> list[torch.Tensor]:
        """A wide or tall picture as square crops side by side along its long side, overlapping evenly, so
        that CLIP (which would see only the centre square) judges the whole canvas: their features are
        averaged. A picture within 1.2:1 of square is one crop, the model's own preprocessing."""
        hdim = 1 if x.dtype == torch.uint8 else 2
        h, w = x.shape[hdim], x.shape[hdim + 1]
        short, long = min(h, w), max(h, w)
        if self._resize_mode != "shortest" or long <= 1.2 * short:
            return [x]
        count = -(-long // short)
        axis = hdim if h > w else hdim + 1
        starts = np.linspace(0, long - short, count).round().astype(int)
        return [x.narrow(axis, int(start), short) for start in starts]

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Image features ``[N, D]`` of float images in about [-1, 1], *not* normalised and with
        gradients (no inference mode): what a training loss needs. Preprocessed as :meth:`encode_images`
        does, except that a wide picture is not split into square crops; runs on the model's device."""
        return self.model.encode_image(self._preprocess(images)).float()

    @staticmethod
    def _as_tensor(images: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"images must be a torch tensor or a numpy array, got {type(images).__name__}")
        if x.dtype == torch.uint8:
            if x.ndim == 3:
                x = x.unsqueeze(0)
            if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
                raise ValueError(f"uint8 images must be [N, H, W, 3], got {list(x.shape)}")
        else:
            if x.ndim == 3:
                x = x.unsqueeze(0)
            if x.ndim != 4 or x.shape[1] not in (1, 3):
                raise ValueError(f"float images must be [N, 3, H, W], got {list(x.shape)}")
        return x

    def _preprocess(self, batch: torch.Tensor) -> torch.Tensor:
        """One batch -> normalised float [n, 3, h, w] on the model's device."""
        batch = batch.to(self.device)
        if batch.dtype == torch.uint8:
            x = batch[..., :3].permute(0, 3, 1, 2).float() / 255
        else:
            x = (batch.float() * 127.5 + 128).clamp(0, 255) / 255
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = self._resize(x)
        return (x - self._mean) / self._std

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        th, tw = self._size
        h, w = x.shape[-2:]
        if (h, w) == (th, tw):
            return x
        if self._resize_mode == "squash":
            return self._interpolate(x, (th, tw))
        if self._resize_mode == "longest":
            scale = min(th / h, tw / w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            x = self._interpolate(x, (nh, nw))
            top, left = (th - nh) // 2, (tw - nw) // 2
            return F.pad(x, (left, tw - nw - left, top, th - nh - top))
        scale = max(th / h, tw / w)   # shortest side to the input size, then a centre crop
        nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
        x = self._interpolate(x, (nh, nw))
        top, left = (nh - th) // 2, (nw - tw) // 2
        return x[..., top:top + th, left:left + tw]

    def _interpolate(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == size:
            return x
        try:
            y = F.interpolate(x, size=size, mode=self._interpolation, align_corners=False, antialias=True)
        except (NotImplementedError, RuntimeError):   # a backend without antialiased resampling
            y = F.interpolate(x.cpu(), size=size, mode=self._interpolation, align_corners=False,
                              antialias=True).to(x.device)
        return y.clamp(0, 1)   # bicubic overshoots; pixels stay pixels

    def _feature_dim(self) -> int:
        proj = getattr(getattr(self.model, "visual", None), "output_dim", None)
        return int(proj) if proj else 0

    # -- text -----------------------------------------------------------------------------------
    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        """L2-normalised prompt features ``[P, D]`` (float32, CPU); each prompt is encoded once."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = [str(p) for p in prompts]
        missing = list(dict.fromkeys(p for p in prompts if p not in self._text_cache))
        if missing:
            with torch.inference_mode(), self._half_on_gpu():
                tokens = self.tokenizer(missing)
                feats = F.normalize(self.model.encode_text(tokens.to(self.device)).float(), dim=-1).cpu()
            for prompt, feat in zip(missing, feats):
                self._text_cache[prompt] = feat.clone()
        if not prompts:
            return torch.zeros((0, self._feature_dim()), dtype=torch.float32)
        return torch.stack([self._text_cache[p] for p in prompts])

    # -- scores ---------------------------------------------------------------------------------
    def score(
        self,
        images: torch.Tensor | np.ndarray,
        prompt: str,
        negative: str | None = None,
        negative_weight: float = 1.0,
    ) -> torch.Tensor:
        """Score ``[N]``: cosine(image, prompt) - negative_weight * cosine(image, negative)."""
        return self.score_features(self.encode_images(images), prompt, negative, negative_weight)

    def score_features(
        self,
        features: torch.Tensor,
        prompt: str,
        negative: str | None = None,
        negative_weight: float = 1.0,
    ) -> torch.Tensor:
        """:meth:`score` for image features already computed by :meth:`encode_images`."""
        texts = [prompt] + ([negative] if negative else [])
        text = self.encode_text(texts)
        scores = features.float() @ text[0]
        if negative:
            scores = scores - float(negative_weight) * (features.float() @ text[1])
        return scores

    def vocabulary(self) -> set[str] | None:
        """The words the model was trained on when known (the bundled default CLIP's
        ``vocabulary.txt``); None for general-purpose models."""
        return None if self._vocabulary is None else set(self._vocabulary)

    def clear_cache(self) -> None:
        """Forget the cached prompt features."""
        self._text_cache.clear()
