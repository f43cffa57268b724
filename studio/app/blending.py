"""Blending two models for both front ends: open, blend, preview, save with a provenance that names
both parents and the weights (the mathematics is :mod:`studio.gan.blend`)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from studio.gan.blend import blend, layer_weights
from studio.gan.formats import LoadedNetwork
from studio.gan.render_settings import RenderSettings

PREVIEW_SEEDS = (0, 1, 2, 3, 4, 5)


def blended(a: LoadedNetwork, b: LoadedNetwork, points: Mapping[int, float]):
    """The blended generator of two opened networks."""
    return blend(a.G, b.G, points, names=(f"'{a.name}'", f"'{b.name}'"))


def provenance(a: LoadedNetwork, b: LoadedNetwork, points: Mapping[int, float]) -> dict:
    weights = layer_weights(points, a.G.num_ws)
    return {"source_format": "blend",
            "blend": {"a": {"name": a.name, "fingerprint": a.fingerprint, "path": str(a.path)},
                      "b": {"name": b.name, "fingerprint": b.fingerprint, "path": str(b.path)},
                      "points": {str(k): v for k, v in sorted(points.items())}, "layer_weights": weights},
            **({"class_names": a.class_names} if a.class_names else {})}


def save(path: str | Path, G, a: LoadedNetwork, b: LoadedNetwork, points: Mapping[int, float]) -> str:
    """Write the blend as a studio network; returns its fingerprint."""
    from studio.gan.formats.native import save_native

    return save_native(path, G, provenance=provenance(a, b, points))


def preview(a: LoadedNetwork, b: LoadedNetwork, G, seeds: Sequence[int] = PREVIEW_SEEDS,
            settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """Rows: A, the blend, B, for the same seeds (uint8 images [3 * len(seeds), H, W, C], row by row)."""
    from studio.gan.formats import LoadedNetwork as Net
    from studio.gan.render import Renderer

    rows = []
    for net in (a, Net(G, None, "native", a.path, "", {}, {}, {}), b):
        renderer = Renderer(net, device="cpu")
        rows.append(np.stack([image for _, image in renderer.render_seeds(list(seeds), settings)]))
    return np.concatenate(rows)


__all__ = ["blended", "provenance", "save", "preview", "PREVIEW_SEEDS"]
