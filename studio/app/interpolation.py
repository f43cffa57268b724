"""Interpolations: a strip or a video through seeds and favourites, for the window and ``studio interpolate``.

Keyframes are :class:`~studio.app.mixing.Source` s: a seed, or a favourite's recipe (which keeps
its own truncation and style mix by becoming its explicit ws, so it can only be interpolated in
W; a plain recipe without a mix or an explicit w keeps its latent and works in Z too).
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from studio.app.mixing import Source, source_ws
from studio.gan.interpolate import Keyframe, Space, interpolation_ws, render_frames
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.postprocess import PostProcess, apply
from studio.imaging.video import write_video


def keyframes(renderer: Renderer, sources: Sequence[Source], space: Space, settings: RenderSettings) -> list[Keyframe]:
    """The keyframes of a path through ``sources``; in Z only seeds and plain latents can take part."""
    keys = []
    for source in sources:
        if source.seed is not None:
            keys.append(Keyframe.from_seed(source.seed))
        elif space == "z":
            if source.recipe.mix is not None or source.recipe.w is not None:
                raise ValueError("favourites with a style mix or an explicit w can only be interpolated in W")
            keys.append(Keyframe(source.recipe.latent))
        else:
            keys.append(Keyframe(source_ws(renderer, source, settings)[1]))
    return keys


def path_ws(renderer: Renderer, sources: Sequence[Source], frames: int, *, space: Space, loop: bool,
            settings: RenderSettings, easing: str = "linear") -> torch.Tensor:
    """The ws ``[frames, num_ws, w_dim]`` of every frame of the path."""
    return interpolation_ws(renderer, keyframes(renderer, sources, space, settings), frames, space=space,
                            loop=loop, settings=settings, easing=easing)


def frames(renderer: Renderer, sources: Sequence[Source], count: int, *, space: Space, loop: bool,
           settings: RenderSettings, easing: str = "linear", progress: Callable[[int, int], None] | None = None,
           should_cancel: Callable[[], bool] | None = None) -> Iterator[np.ndarray]:
    """The frames of the path, streamed batch by batch."""
    ws = path_ws(renderer, sources, count, space=space, loop=loop, settings=settings, easing=easing)
    return render_frames(renderer, ws, settings, progress=progress, should_cancel=should_cancel)


def resized(stream: Iterator[np.ndarray], long_side: int | None, upscaler: str = "lanczos") -> Iterator[np.ndarray]:
    """Each frame brought to ``long_side`` pixels (Lanczos, or the artist's ONNX model as ``onnx:PATH``)."""
    if long_side is None:
        yield from stream
        return
    step = PostProcess(long_side=long_side, upscaler=upscaler)
    for frame in stream:
        yield apply(frame, step).image


def write(renderer: Renderer, sources: Sequence[Source], count: int, out: str | os.PathLike[str], *, space: Space,
          loop: bool, settings: RenderSettings, easing: str = "linear", fps: float = 30, quality: float = 8,
          long_side: int | None = None, upscaler: str = "lanczos",
          progress: Callable[[int, int], None] | None = None,
          should_cancel: Callable[[], bool] | None = None) -> int:
    """Render the path and write it as MP4, GIF or PNG frames (by ``out``'s name), at the model's
    size or with its long side at ``long_side`` pixels (up to 4K and beyond); returns the count."""
    stream = frames(renderer, sources, count, space=space, loop=loop, settings=settings, easing=easing,
                    progress=progress, should_cancel=should_cancel)
    return write_video(resized(stream, long_side, upscaler), out, fps=fps, loop=True, quality=quality)
