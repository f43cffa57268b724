"""Rank seeds by how well their images match a prompt (GANscapes: 1,000 images, show the top 6).

:func:`rank_seeds` renders the seeds in batches, scores each batch with a :class:`ClipScorer`
and keeps a running top-K, reporting it whenever it changes so that a window can stream the
ranking while it grows. It checks a cancel flag between batches and reports progress.

Early exit: CLIP sees only ``scorer.input_size`` pixels (224 for the usual models), so the
images are rendered only up to the smallest of the generator's preview resolutions
(``G.synthesis.preview_resolutions()``) that is at least ``max(score_resolution,
scorer.input_size)``; for a 1024 px 'skip' model that is 256 px, which skips the two most
expensive blocks. The preview is the image the generator has built up to that block (the
finer blocks only add detail), so scores are computed on a slightly softer picture than the
full-resolution one. Models without usable previews (e.g. the 'resnet' architecture), and
``score_resolution=None``, render at full resolution. The scores returned are those of the
rendered previews; callers re-render the winners at full resolution to show or save them.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from studio.clip.scorer import ClipScorer
from studio.gan.render import Renderer, early_exit
from studio.gan.render_settings import RenderSettings

__all__ = ["rank_seeds", "scoring_resolution"]

ProgressFn = Callable[[int, int], None]                  # (done, total)
CancelFn = Callable[[], bool]
UpdateFn = Callable[[list[tuple[int, float]]], None]     # the new top list, best first


def scoring_resolution(renderer: Renderer, scorer: ClipScorer, score_resolution: int | None = 256) -> int | None:
    """The early-exit resolution :func:`rank_seeds` renders at, or None for full resolution.

    The smallest preview resolution of the generator that is at least
    ``max(score_resolution, scorer.input_size)`` and below the model's own resolution.
    """
    if score_resolution is None:
        return None
    full = int(getattr(renderer.G.synthesis, "img_resolution", renderer.G.img_resolution))
    return early_exit(renderer.G, max(int(score_resolution), int(scorer.input_size)), full)


def _render(renderer: Renderer, seeds: Sequence[int], settings: RenderSettings, resolution: int | None) -> torch.Tensor:
    """Float images [N, C, h, w] in about [-1, 1] for ``seeds``, stopping at ``resolution``.

    Noise follows :meth:`Renderer.render_seeds`: with random noise each image's generator is
    seeded by ``settings.noise_seed`` or else by the image's own seed.
    """
    ws = renderer.ws_from_seeds(seeds, settings)
    generators = None
    if settings.noise_mode == "random":
        noise = [settings.noise_seed if settings.noise_seed is not None else s for s in seeds]
        generators = [torch.Generator(device="cpu").manual_seed(int(n)) for n in noise]
    extra = {"max_resolution": resolution} if resolution is not None else {}
    extra.update(renderer.view_kwargs(settings))
    from studio.gan.networks import ops

    renderer.check_canvas(settings)
    with torch.inference_mode(), ops.tiling(settings.tile), ops.canvas(settings.canvas), \
            ops.half_from(renderer.half_from):
        return renderer.G.synthesis(ws, noise_mode=settings.noise_mode, noise_generator=generators, **extra)


def rank_seeds(
    renderer: Renderer,
    scorer: ClipScorer,
    prompt: str,
    seeds: Sequence[int],
    *,
    top_k: int = 6,
    negative: str | None = None,
    negative_weight: float = 1.0,
    settings: RenderSettings = RenderSettings(),
    batch_size: int | None = None,
    score_resolution: int | None = 256,
    preview_resolution: int | None = None,
    rescore: int = 16,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
    on_update: UpdateFn | None = None,
) -> list[tuple[int, float]]:
    """The ``top_k`` seeds whose images best match ``prompt``, best first, as (seed, score).

    Args:
        renderer: renders the seeds (its network and device).
        scorer: the CLIP; scores are cosine(prompt) - negative_weight * cosine(negative).
        prompt: what the images should show.
        seeds: the seeds to try, in order; a repeated seed is scored once. Equal scores keep
            the earlier seed first.
        top_k: how many to keep.
        negative: an optional prompt to steer away from.
        settings: truncation, class and noise, as for any render.
        batch_size: images rendered and scored per batch (default: the renderer's).
        score_resolution: the least resolution to render for scoring (see the module
            docstring); None renders at full resolution.
        preview_resolution: score every seed from this smaller early exit first, then the best
            ``max(rescore, top_k)`` again at the scoring resolution (their scores are returned);
            None (the default) scores every seed at the scoring resolution.
        progress: called with (done, total) after each batch.
        should_cancel: checked before each batch; when it returns True the ranking stops and
            the best seeds found so far are returned.
        on_update: called with a copy of the top list each time it changes.

    Raises:
        ValueError: for an empty prompt or a ``top_k`` below 1.
    """
    if not str(prompt).strip():
        raise ValueError("the prompt is empty: say what the images should show")
    if top_k < 1:
        raise ValueError(f"the number of images to keep must be at least 1, got {top_k}")
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    step = max(1, int(batch_size or renderer.batch_size))
    resolution = scoring_resolution(renderer, scorer, score_resolution)
    preview = _preview(renderer, preview_resolution, resolution)
    if preview is not None:
        keep = max(rescore, top_k)
        total = len(seeds) + min(keep, len(seeds))
        shortlist = _rank(renderer, scorer, prompt, seeds, keep, negative, negative_weight, settings, step, preview,
                          lambda done, _n: progress(done, total) if progress else None, should_cancel,
                          (lambda top: on_update(top[:top_k])) if on_update else None)
        best = _rank(renderer, scorer, prompt, [seed for seed, _ in shortlist], top_k, negative, negative_weight,
                     settings, step, resolution,
                     lambda done, _n: progress(len(seeds) + done, total) if progress else None, should_cancel, None)
        best = best or shortlist[:top_k]          # cancelled before any re-scoring: the preview's best
        if on_update is not None:
            on_update(list(best))
        return best
    return _rank(renderer, scorer, prompt, seeds, top_k, negative, negative_weight, settings, step, resolution,
                 progress, should_cancel, on_update)


def _preview(renderer: Renderer, want: int | None, scoring: int | None) -> int | None:
    """The early exit at or above ``want`` below the scoring resolution, or None."""
    if want is None:
        return None
    return early_exit(renderer.G, want, scoring or int(renderer.G.img_resolution))


def _rank(renderer, scorer, prompt, seeds, top_k, negative, negative_weight, settings, step, resolution,
          progress, should_cancel, on_update) -> list[tuple[int, float]]:
    top: list[tuple[int, float]] = []
    for start in range(0, len(seeds), step):
        if should_cancel is not None and should_cancel():
            break
        batch = seeds[start:start + step]
        images = _render(renderer, batch, settings, resolution)
        scores = scorer.score(images, prompt, negative, negative_weight).tolist()
        # Stable sort: among equal scores the earlier seed (already in ``top``) stays first.
        new = sorted(top + list(zip(batch, (float(s) for s in scores))), key=lambda e: -e[1])[:top_k]
        if new != top:
            top = new
            if on_update is not None:
                on_update(list(top))
        if progress is not None:
            progress(start + len(batch), len(seeds))
    return top
