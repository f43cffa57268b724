"""Latent directions: meaningful ways to move a w, found without labels, and the edits made with them.

Four ways to find them, all on the CPU:

* **SeFa** (closed-form factorisation, Shen & Zhou 2021): the directions in W that the style
  affine layers of a range of layers stretch the most: the top eigenvectors of ``A^T A``, where
  ``A`` stacks those layers' affine weights (each column normalised). No data, milliseconds.
* **GANSpace** (Härkönen et al. 2020): principal components of w over many sampled latents; each
  comes with its own spread (sigma).
* **Taste**: the direction that separates the images an artist kept from those they passed over
  (InterFaceGAN's idea, trained on the artist's own choices): Fisher's linear discriminant with a
  shrunk covariance, which a handful of examples already determines.
* (CLIP's direction for a prompt lives with CLIP, in :mod:`studio.clip`.)

A :class:`Direction` is a unit vector in W with the spread of w along it (``sigma``, so that a
slider runs in standard deviations) and the w layers it acts on. An :class:`~studio.gan.recipe.Edit`
is what a recipe keeps: the vector already scaled, the amount and the layers, so that an edited
image is re-created exactly without the direction file.

How each network's w layers reach its style affines: StyleGAN2 / SWAGAN block ``k`` uses w ``2k-1``
and ``2k`` for its convolutions and w ``2k+1`` for its ToRGB (shared with the next block's first
convolution); StyleGAN3 uses w 0 for its Fourier input and w ``i+1`` for layer ``i``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from studio.core.atomic import atomic_write_text
from studio.gan.recipe import MAX_EDIT_AMOUNT, Edit, _array_from_dict, _array_to_dict

FORMAT_KEY = "studio_directions"
FORMAT_VERSION = 1
SPREAD_SAMPLES = 2000          # latents that measure each direction's sigma
MAX_DIRECTIONS = 512

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class DirectionError(ValueError):
    """A direction cannot be found or applied; the message says why."""


@dataclass
class Direction:
    """A unit vector in W, the spread of w along it, and the w layers it moves (None = all)."""

    name: str
    vector: np.ndarray
    sigma: float
    layers: list[int] | None = None
    method: str = "sefa"

    def edit(self, amount: float, layers: Sequence[int] | None = None) -> Edit:
        """The recipe's record of moving ``amount`` sigmas along this direction."""
        chosen = list(layers) if layers is not None else self.layers
        return Edit(name=self.name, vector=(self.vector * self.sigma).astype(np.float32), amount=float(amount),
                    layers=chosen)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vector": _array_to_dict(self.vector), "sigma": self.sigma,
                "layers": self.layers, "method": self.method}

    @classmethod
    def from_dict(cls, d: Any, w_dim: int | None = None) -> "Direction":
        if not isinstance(d, dict):
            raise DirectionError("a direction is not an object")
        name, sigma, layers = d.get("name"), d.get("sigma"), d.get("layers")
        if not isinstance(name, str) or not name:
            raise DirectionError("a direction has no name")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
            raise DirectionError(f"the direction {name!r} has no usable spread (sigma {sigma!r})")
        try:
            vector = _array_from_dict(f"{name}.vector", d.get("vector"))
        except ValueError as exc:
            raise DirectionError(str(exc)) from None
        if vector is None or vector.ndim != 1 or (w_dim is not None and vector.shape[0] != w_dim):
            raise DirectionError(f"the direction {name!r} is not a vector of {w_dim or 'w_dim'} numbers")
        if not np.isfinite(vector).all():
            raise DirectionError(f"the direction {name!r} holds numbers that are not finite")
        if layers is not None and (not isinstance(layers, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in layers)):
            raise DirectionError(f"the direction {name!r} has layers that are not w indices")
        return cls(name, vector, float(sigma), layers, str(d.get("method", "")))


@dataclass
class DirectionSet:
    """Directions of one model (by fingerprint), as a JSON file."""

    fingerprint: str
    directions: list[Direction] = field(default_factory=list)
    method: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def by_name(self, name: str) -> Direction:
        for d in self.directions:
            if d.name == name:
                return d
        names = ", ".join(d.name for d in self.directions[:12]) or "none"
        raise DirectionError(f"no direction named {name!r} (this set has: {names})")

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {FORMAT_KEY: FORMAT_VERSION, "model": self.fingerprint, "method": self.method, "details": self.details,
                "directions": [d.to_dict() for d in self.directions]}
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path, *, fingerprint: str | None = None, w_dim: int | None = None) -> "DirectionSet":
        """Read a directions file; ``fingerprint`` refuses one made for another model."""
        path = Path(path)
        try:
            if path.stat().st_size > 64 * 2 ** 20:
                raise DirectionError(f"'{path.name}' is too large to be a directions file")
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DirectionError(f"'{path}' does not exist") from None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            if isinstance(exc, DirectionError):
                raise
            raise DirectionError(f"'{path.name}' is not a directions file: {exc}") from None
        if not isinstance(data, dict) or data.get(FORMAT_KEY) != FORMAT_VERSION:
            raise DirectionError(f"'{path.name}' is not a studio directions file")
        model = data.get("model")
        if fingerprint is not None and model != fingerprint:
            raise DirectionError(f"'{path.name}' holds directions of another model (fingerprint "
                                 f"{str(model)[:12]}…, the open model is {fingerprint[:12]}…)")
        items = data.get("directions")
        if not isinstance(items, list) or len(items) > MAX_DIRECTIONS:
            raise DirectionError(f"'{path.name}' has no list of directions (or more than {MAX_DIRECTIONS})")
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
        return cls(str(model), [Direction.from_dict(d, w_dim) for d in items], str(data.get("method", "")), details)


# --------------------------------------------------------------------------------------------
# Which affine reads which w


def style_affines(G: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """(w index, style affine layer) for every modulated layer of the generator, in w order."""
    synthesis = G.synthesis
    if hasattr(synthesis, "layers") and hasattr(synthesis, "input"):          # StyleGAN3
        return [(0, synthesis.input.affine)] + [(i + 1, layer.affine) for i, layer in enumerate(synthesis.layers())]
    if not hasattr(synthesis, "blocks"):
        raise DirectionError(f"a {getattr(G.config, 'kind', 'network')} network has no styles to steer")
    out, idx = [], 0
    for block in synthesis.blocks():
        w = idx
        for name in ("conv0", "conv1"):
            layer = getattr(block, name, None)
            if layer is not None:
                out.append((w, layer.affine))
                w += 1
        torgb = getattr(block, "torgb", None)
        if torgb is not None:
            out.append((w, torgb.affine))
        idx += block.num_conv
    return out


def _check_layers(layers: Sequence[int] | None, num_ws: int) -> list[int] | None:
    if layers is None:
        return None
    layers = sorted(set(int(i) for i in layers))
    bad = [i for i in layers if not 0 <= i < num_ws]
    if bad or not layers:
        raise DirectionError(f"w layers {bad or '(none)'} are outside 0-{num_ws - 1} for this model")
    return layers


# --------------------------------------------------------------------------------------------
# Finding directions


def sefa(G: torch.nn.Module, layers: Sequence[int] | None = None, count: int = 10) -> list[Direction]:
    """SeFa's top ``count`` directions for the affines reading ``layers`` (None = all)."""
    layers = _check_layers(layers, G.num_ws)
    affines = [a for i, a in style_affines(G) if layers is None or i in layers]
    if not affines:
        raise DirectionError(f"no style layer of this model reads w layers {layers}")
    weight = torch.cat([a.weight.detach().to(torch.float64) * a.weight_gain for a in affines])   # [sum out, w_dim]
    weight = weight / weight.norm(dim=0, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh(weight.t() @ weight)          # ascending
    order = torch.argsort(values, descending=True)[:count]
    found = [_canonical(vectors[:, k]) for k in order]
    sigmas = w_spread(G, found)
    return [Direction(f"sefa{k}", v.astype(np.float32), s, layers, "sefa") for k, (v, s) in enumerate(zip(found, sigmas))]


def ganspace(G: torch.nn.Module, *, samples: int = 10_000, count: int = 10, layers: Sequence[int] | None = None,
             seed: int = 0, class_index: int | None = None, progress: ProgressFn | None = None,
             should_cancel: CancelFn | None = None) -> list[Direction] | None:
    """GANSpace's top ``count`` principal components of w over ``samples`` latents (None if cancelled)."""
    layers = _check_layers(layers, G.num_ws)
    if samples < 2 * count:
        raise DirectionError(f"GANSpace needs at least {2 * count} samples for {count} directions")
    ws = _sample_w(G, samples, seed, class_index, progress, should_cancel)
    if ws is None:
        return None
    mean = ws.mean(dim=0)
    centred = ws - mean
    values, vectors = torch.linalg.eigh(centred.t() @ centred / (ws.shape[0] - 1))
    order = torch.argsort(values, descending=True)[:count]
    return [Direction(f"ganspace{k}", _canonical(vectors[:, i]).astype(np.float32),
                      float(values[i].clamp_min(0).sqrt()), layers, "ganspace") for k, i in enumerate(order)]


def taste(kept: np.ndarray, passed: np.ndarray, *, name: str = "taste", shrinkage: float = 0.2,
          layers: Sequence[int] | None = None) -> Direction:
    """The direction from the w of images passed over to those kept: Fisher's discriminant with the
    pooled covariance shrunk toward its mean variance (a few examples of each are enough)."""
    kept, passed = _as_w(kept, "kept"), _as_w(passed, "passed over")
    if kept.shape[0] < 2 or passed.shape[0] < 2:
        raise DirectionError("a taste direction needs at least two images kept and two passed over "
                             f"(got {kept.shape[0]} and {passed.shape[0]})")
    if kept.shape[1] != passed.shape[1]:
        raise DirectionError("the kept and passed-over images come from models with different w sizes")
    both = np.concatenate([kept - kept.mean(0), passed - passed.mean(0)])
    cov = both.T @ both / max(both.shape[0] - 2, 1)
    cov = (1 - shrinkage) * cov + shrinkage * np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    vector = np.linalg.solve(cov + 1e-9 * np.eye(cov.shape[0]), kept.mean(0) - passed.mean(0))
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm == 0:
        raise DirectionError("the kept and passed-over images do not differ in any direction")
    vector = vector / norm
    projections = np.concatenate([kept, passed]) @ vector
    spread = float(projections.std()) or 1.0
    return Direction(name, vector.astype(np.float32), spread, list(layers) if layers else None, "taste")


def _as_w(ws: np.ndarray, what: str) -> np.ndarray:
    """[N, w_dim] from [N, w_dim] or [N, num_ws, w_dim] (the mean over layers)."""
    ws = np.asarray(ws, dtype=np.float64)
    if ws.ndim == 3:
        ws = ws.mean(axis=1)
    if ws.ndim != 2 or not np.isfinite(ws).all():
        raise DirectionError(f"the {what} images' latents are not a list of finite w vectors")
    return ws


def _canonical(v: torch.Tensor) -> np.ndarray:
    """An eigenvector with a fixed sign (its largest entry positive), so runs agree."""
    v = v.detach().to(torch.float64)
    v = v / v.norm()
    if v[v.abs().argmax()] < 0:
        v = -v
    return v.numpy()


def _sample_w(G, samples, seed, class_index, progress, should_cancel, batch: int = 1000) -> torch.Tensor | None:
    from studio.gan import latents

    generator = torch.Generator().manual_seed(seed)
    out = []
    with torch.inference_mode():
        for start in range(0, samples, batch):
            if should_cancel is not None and should_cancel():
                return None
            n = min(batch, samples - start)
            z = torch.randn([n, G.z_dim], generator=generator)
            c = None
            if G.c_dim:
                c = torch.from_numpy(latents.one_hot(class_index or 0, G.c_dim)).unsqueeze(0).repeat(n, 1)
            out.append(G.mapping(z.to(G.mapping.w_avg.device), c)[:, 0].to(torch.float64).cpu())
            if progress is not None:
                progress(start + n, samples)
    return torch.cat(out)


def w_spread(G: torch.nn.Module, vectors: Sequence[np.ndarray], samples: int = SPREAD_SAMPLES, seed: int = 1) -> list[float]:
    """The standard deviation of sampled w along each unit vector (a slider's unit)."""
    ws = _sample_w(G, samples, seed, None, None, None).numpy()
    return [float((ws @ v).std()) or 1.0 for v in vectors]


# --------------------------------------------------------------------------------------------
# Applying edits


def apply_edits(ws: torch.Tensor, edits: Sequence[Edit]) -> torch.Tensor:
    """ws [N, num_ws, w_dim] moved by every edit (in order): ``w[layers] += amount * vector``."""
    if not edits:
        return ws
    ws = ws.clone()
    for edit in edits:
        if edit.vector.shape != (ws.shape[2],):
            raise DirectionError(f"the edit {edit.name!r} was made for a w of {edit.vector.shape[0]} numbers; this "
                                 f"model's w has {ws.shape[2]}")
        layers = edit.layers if edit.layers is not None else range(ws.shape[1])
        bad = [i for i in layers if not 0 <= i < ws.shape[1]]
        if bad:
            raise DirectionError(f"the edit {edit.name!r} moves w layers {bad}, outside 0-{ws.shape[1] - 1}")
        delta = torch.from_numpy(edit.vector).to(ws.device, ws.dtype) * edit.amount
        ws[:, list(layers)] += delta
    return ws


def parse_edit(text: str) -> tuple[str, float, str | None]:
    """``NAME=AMOUNT[@LAYERS]`` -> (name, amount, layers text or None)."""
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise DirectionError(f"an edit is NAME=AMOUNT[@LAYERS], e.g. sefa0=2.5@0-3; got {text!r}")
    amount_text, _, layers = rest.partition("@")
    try:
        amount = float(amount_text)
    except ValueError:
        raise DirectionError(f"the amount of the edit {name!r} is not a number: {amount_text!r}") from None
    if not math.isfinite(amount) or abs(amount) > MAX_EDIT_AMOUNT:
        raise DirectionError(f"the amount of the edit {name!r} must be a finite number of sigmas within "
                             f"+-{MAX_EDIT_AMOUNT:g}, got {amount_text}")
    return name, amount, layers or None


__all__ = ["Direction", "DirectionSet", "DirectionError", "sefa", "ganspace", "taste", "style_affines",
           "apply_edits", "parse_edit", "w_spread", "MAX_EDIT_AMOUNT"]
