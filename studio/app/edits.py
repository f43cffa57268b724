"""Latent directions for a front end: finding them (with GANSpace's cache), previews, and edits by name.

The CLI (``studio directions``, ``studio generate --edit``) and the window's Edit sidebar both
come here; :mod:`studio.gan.directions` holds the mathematics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from studio.core import paths
from studio.gan import directions as dirs
from studio.gan.directions import Direction, DirectionError, DirectionSet
from studio.gan.mixing import PRESET_NAMES, layer_scales, preset_layers
from studio.gan.recipe import Edit
from studio.gan.render_settings import RenderSettings

PREVIEW_STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
_BUILT_IN = re.compile(r"(sefa|ganspace)(\d+)")


def parse_layers(text: str | None, renderer) -> list[int] | None:
    """'0-3,8', or a preset by what the layers draw ('layout', 'shapes', 'colour', ...); None = all."""
    if text is None or text.strip().lower() in ("", "all", "any"):
        return None
    key = PRESET_NAMES.get(text.strip().lower())
    if key is not None:
        layers = preset_layers(key, renderer.num_ws, layer_scales(renderer.G))
        if not layers:
            raise DirectionError(f"this model has no {text} layers")
        return layers
    from studio.gan.latents import parse_indices

    try:
        return parse_indices(text, upper=renderer.num_ws)
    except ValueError as exc:
        raise DirectionError(f"layers {text!r}: {exc}") from None


def ganspace_cache_path(fingerprint: str, samples: int, layers: Sequence[int] | None, class_index: int | None) -> Path:
    where = "all" if layers is None else "-".join(map(str, layers))
    klass = "" if class_index is None else f"-c{class_index}"
    return paths.cache_dir() / "directions" / f"{fingerprint[:32]}-ganspace-{samples}-{where}{klass}.json"


def find_directions(renderer, method: str, *, layers: Sequence[int] | None = None, count: int = 10,
                    samples: int = 10_000, class_index: int | None = None, progress=None,
                    should_cancel=None) -> DirectionSet | None:
    """A model's directions by ``method`` ('sefa' or 'ganspace'); GANSpace's come from the user
    cache when the same model, samples and layers were computed before. None if cancelled."""
    G, fp = renderer.G, renderer.network.fingerprint
    if method in ("taste", "clip"):
        raise DirectionError(f"{method} directions come from taste_direction() / prompt_direction()")
    if not 1 <= count <= dirs.MAX_DIRECTIONS:
        raise DirectionError(f"count must be 1-{dirs.MAX_DIRECTIONS}, got {count}")
    if method == "sefa":
        found = dirs.sefa(G, layers, count=min(count, G.w_dim))
        return DirectionSet(fp, found, "sefa", {"layers": layers})
    if method != "ganspace":
        raise DirectionError(f"unknown method {method!r}: sefa or ganspace")
    cache = ganspace_cache_path(fp, samples, layers, class_index if G.c_dim else None)
    if cache.exists():
        try:
            cached = DirectionSet.load(cache, fingerprint=fp, w_dim=G.w_dim)
            if len(cached.directions) >= count:
                cached.directions = cached.directions[:count]
                return cached
        except DirectionError:
            pass                                   # a damaged cache entry is recomputed
    found = dirs.ganspace(G, samples=samples, count=min(count, G.w_dim), layers=layers, class_index=class_index,
                          progress=progress, should_cancel=should_cancel)
    if found is None:
        return None
    result = DirectionSet(fp, found, "ganspace", {"samples": samples, "layers": layers})
    try:
        result.save(cache)
    except OSError:
        pass                                       # a read-only cache only costs the next run time
    return result


def taste_direction(renderer, library, settings: RenderSettings, *, min_stars: int = 1, seed: int = 0,
                    layers: Sequence[int] | None = None, evolution=None) -> DirectionSet:
    """The artist's taste: the direction toward the images of this model starred in the Library
    (``min_stars`` or more) and, given an ``evolution`` of it, the images bred from, away from what
    the model makes unasked (random seeds with the page's settings) and the images passed over."""
    import torch

    fp = renderer.network.fingerprint
    kept_recipes = [] if library is None else [
        img.recipe for img in library.query(model=fp, min_stars=min_stars)
        if img.recipe is not None and img.recipe.regions is None]       # a panorama has no one w to learn from
    chosen, let_go = evolution.choices() if evolution is not None else ([], [])
    if len(kept_recipes) + len(chosen) < 2:
        raise DirectionError(f"your taste needs at least two starred images of {renderer.network.name} in the "
                             f"Library, or an evolution you chose parents in (it has {len(kept_recipes)} and "
                             f"{len(chosen)})")
    with torch.inference_mode():
        parts = [renderer.recipe_ws(r)[0].cpu().numpy()[None] for r in kept_recipes]
        if chosen:
            parts.append(evolution.ws_of(chosen).cpu().numpy())
        kept = np.concatenate(parts)
        count = max(32, 2 * len(kept))
        passed = renderer.ws_from_seeds(list(range(seed, seed + count)), settings).cpu().numpy()
        if let_go:
            passed = np.concatenate([passed, evolution.ws_of(let_go).cpu().numpy()])
    direction = dirs.taste(kept, passed, layers=layers)
    return DirectionSet(fp, [direction], "taste", {"kept": len(kept), "passed": len(passed),
                                                   "from_library": len(kept_recipes), "from_evolution": len(chosen)})


def prompt_direction(renderer, clip_spec: str, clip_config: str | None, prompt: str, settings: RenderSettings,
                     *, samples: int = 16, should_cancel=None) -> DirectionSet | None:
    """CLIP's direction toward ``prompt`` (see :func:`studio.clip.direction.clip_direction`)."""
    from studio.clip.direction import clip_direction
    from studio.clip.model import load_clip

    scorer = load_clip(clip_spec, config=clip_config)
    found = clip_direction(renderer, scorer, prompt, samples=samples, settings=settings, should_cancel=should_cancel)
    return None if found is None else DirectionSet(renderer.network.fingerprint, [found], "clip", {"prompt": prompt})


def direction_by_name(renderer, name: str, directions: DirectionSet | None = None) -> Direction:
    """A direction from ``directions`` or, for 'sefaK' / 'ganspaceK', computed (GANSpace cached)."""
    match = _BUILT_IN.fullmatch(name)
    if directions is not None and (match is None or any(d.name == name for d in directions.directions)):
        return directions.by_name(name)
    if match is None:
        raise DirectionError(f"no direction named {name!r}: name one from --directions FILE, or sefaK / ganspaceK "
                             "(K = 0 for the strongest)")
    method, k = match.group(1), int(match.group(2))
    found = find_directions(renderer, method, count=k + 1)
    if k >= len(found.directions):
        raise DirectionError(f"{method} found only {len(found.directions)} directions for this model")
    return found.directions[k]


def edits_from_specs(renderer, specs: Sequence[str], directions: DirectionSet | None = None) -> list[Edit]:
    """``NAME=AMOUNT[@LAYERS]`` texts as edits (AMOUNT in sigmas)."""
    edits = []
    for spec in specs:
        name, amount, layers_text = dirs.parse_edit(spec)
        direction = direction_by_name(renderer, name, directions)
        layers = parse_layers(layers_text, renderer) if layers_text is not None else None
        edits.append(direction.edit(amount, layers))
    return edits


def preview_sheet(renderer, directions: Sequence[Direction], seed: int, settings: RenderSettings,
                  steps: Sequence[float] = PREVIEW_STEPS, progress=None):
    """A sheet: one row per direction, one column per amount (sigmas) on ``seed``'s image, each
    image captioned with its direction and amount."""
    import torch

    from studio.gan.directions import apply_edits
    from studio.imaging.sheets import image_grid

    base = renderer.ws_from_seeds([seed], settings)
    images, captions = [], []
    total = len(directions) * len(steps)
    for r, direction in enumerate(directions):
        with torch.inference_mode():
            ws = torch.cat([apply_edits(base, [direction.edit(a)]) for a in steps])
        images.extend(renderer.synthesize(ws, settings))
        captions.extend(f"{direction.name} {a:+g} sd" if k == 0 else f"{a:+g} sd" for k, a in enumerate(steps))
        if progress is not None:
            progress((r + 1) * len(steps), total)
    return image_grid(images, cols=len(steps), captions=captions, background=(255, 255, 255))


def saved_edits_path(fingerprint: str) -> Path:
    return paths.data_dir() / "edits" / f"{fingerprint[:32]}.json"


def saved_edits(fingerprint: str) -> dict[str, list[Edit]]:
    """The named edit stacks saved for a model (damaged entries are skipped)."""
    import json

    path = saved_edits_path(fingerprint)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size < 16 * 2 ** 20 else {}
    except (OSError, ValueError, RecursionError):
        return {}
    out = {}
    for name, items in (data.get("edits") or {}).items() if isinstance(data, dict) else []:
        try:
            out[str(name)] = [Edit.from_dict(item) for item in items]
        except (ValueError, TypeError):
            continue
    return out


def save_edits(fingerprint: str, name: str, edits: Sequence[Edit]) -> Path:
    """Keep a stack of edits under ``name`` for a model (replacing one of that name)."""
    import json

    from studio.core.atomic import atomic_write_text

    name = name.strip()
    if not name:
        raise DirectionError("a saved edit needs a name")
    if not edits:
        raise DirectionError("there are no edits to save: move a slider first")
    stacks = saved_edits(fingerprint)
    stacks[name] = list(edits)
    path = saved_edits_path(fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"model": fingerprint, "edits": {k: [e.to_dict() for e in v]
                                                                         for k, v in stacks.items()}}) + "\n")
    return path


__all__ = ["find_directions", "direction_by_name", "edits_from_specs", "preview_sheet", "parse_layers",
           "ganspace_cache_path", "PREVIEW_STEPS"]
