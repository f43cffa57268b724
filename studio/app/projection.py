"""Projecting a picture into the open model, for both front ends: reading and fitting the picture
(cropped or padded to the model's square as the export step does), the search, and its files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import atomic_path, atomic_write_text
from studio.gan.project import Projection, project
from studio.gan.render_settings import RenderSettings

FITS = ("crop", "pad", "stretch")


def fit_picture(image: np.ndarray, resolution: int, fit: str = "crop") -> np.ndarray:
    """Any picture (grey, RGBA, 16-bit, any shape) as RGB uint8 ``resolution`` x ``resolution``."""
    from studio.imaging.postprocess import PostProcess, apply

    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] in (2, 4):
        image = image[:, :, :-1]                         # drop alpha
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return apply(np.ascontiguousarray(image), PostProcess(size=(resolution, resolution), mode=fit)).image


def read_picture(path: str | Path, resolution: int, fit: str = "crop") -> np.ndarray:
    """A picture file fitted to the model; a file that is not a readable picture is one sentence."""
    from studio.imaging.codecs import read_image

    try:
        image = read_image(path)
    except FileNotFoundError:
        raise ValueError(f"'{path}' does not exist") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"'{Path(path).name}' cannot be read as a picture: {exc}") from None
    return fit_picture(image, resolution, fit)


def run(renderer, picture: np.ndarray, settings: RenderSettings, **kwargs: Any) -> Projection | None:
    """The projection of a fitted picture (see :func:`studio.gan.project.project` for the options)."""
    return project(renderer, picture, class_index=settings.class_index, **kwargs)


def write_results(renderer, picture: np.ndarray, result: Projection, settings: RenderSettings, outdir: Path) -> dict:
    """projected.png (with a recipe holding its w), target.png, compare.png, projection.json."""
    from PIL import Image

    from studio.imaging.metadata import save_png

    recipe = renderer.recipe(RenderSettings(class_index=settings.class_index), w=result.w)
    save_png(outdir / "projected.png", result.image, recipe)
    for name, array in (("target.png", picture),
                        ("compare.png", np.concatenate([picture, result.image], axis=1))):
        with atomic_path(outdir / name) as tmp:
            Image.fromarray(array).save(tmp, format="PNG")
    summary = {"space": result.space, "steps": result.steps, "psnr_db": round(result.psnr, 3),
               "ms_ssim": round(result.ms_ssim, 5), "seconds": round(result.seconds, 2),
               "start_seed": result.start_seed, "model": renderer.network.fingerprint}
    atomic_write_text(outdir / "projection.json", json.dumps(summary, indent=2) + "\n")
    return summary


__all__ = ["fit_picture", "read_picture", "run", "write_results", "FITS"]
