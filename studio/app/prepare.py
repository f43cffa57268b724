"""Preparing a training set: a preview of what ``studio prepare`` will make of a folder, and the run itself.

:func:`preview` shows a few source pictures, spread over the folder, next to the crops the
chosen method makes of them (GANscapes' ``rect`` squeezes to the folder's mean aspect ratio,
MAGnet's ``three`` gives three squares), so the artist sees the effect before hours of work.
:func:`prepare` is :func:`studio.data.prepare.prepare` (the Train tab and ``studio prepare``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from studio.data.prepare import (
    ImageProblem,
    crop_image,
    is_regular_file,
    load_image,
    mean_aspect_ratio,
    prepare,
    remove_frame,
    scan_images,
)

__all__ = ["PreviewPair", "preview", "prepare"]

#: How many pictures' sizes the ``rect`` crop reads to find the folder's mean aspect ratio.
RATIO_SAMPLE = 200


@dataclass
class PreviewPair:
    """One source picture (a thumbnail) and the strip of crops preparation makes of it."""

    name: str
    before: np.ndarray | None
    after: np.ndarray | None
    problem: str | None = None     # why the picture would be skipped (then no images)


def preview(src: str, crop: str, resolution: int, count: int = 4, *, trim_frames: bool = False,
            should_cancel: Callable[[], bool] | None = None) -> tuple[int, float | None, Iterator[PreviewPair]]:
    """(number of pictures found, the mean aspect ratio for ``rect``, the preview pairs)."""
    files = scan_images(src)
    if not files:
        raise ValueError(f"no pictures found in {src}")
    ratio = None
    if crop == "rect":
        sizes = []
        for path in files[:RATIO_SAMPLE]:
            if not is_regular_file(path):
                continue
            try:
                with Image.open(path) as img:
                    sizes.append(img.size)
            except OSError:
                continue
        ratio = mean_aspect_ratio(sizes)

    def pairs() -> Iterator[PreviewPair]:
        spread = files[:: max(1, len(files) // count)] + files   # spread out, then anything readable
        shown, seen = 0, set()
        for path in spread:
            if shown == count or (should_cancel is not None and should_cancel()):
                return
            if path in seen:
                continue
            seen.add(path)
            try:
                img = load_image(path)
            except ImageProblem as exc:
                yield PreviewPair(path.name, None, None, str(exc))
                continue
            if trim_frames:
                img = remove_frame(img)
            before = img.copy()
            before.thumbnail((256, 256))
            parts = crop_image(img, crop, resolution, aspect_ratio=ratio)
            strip = Image.new("RGB", (resolution * len(parts), resolution))
            for k, part in enumerate(parts):
                strip.paste(part.convert("RGB"), (k * resolution, 0))
            yield PreviewPair(path.name, np.asarray(before.convert("RGB")), np.asarray(strip))
            shown += 1

    return len(files), ratio, pairs()
