"""Helpers for the library tests: small recipes and thumbnails."""

from __future__ import annotations

from PIL import Image

from studio.gan.recipe import ModelRef, Recipe

FINGERPRINT_A = "ab" * 32
FINGERPRINT_B = "cd" * 32


def make_recipe(seed: int = 3, fingerprint: str = FINGERPRINT_A, name: str = "m", **kwargs) -> Recipe:
    """A small recipe for model ``fingerprint``."""
    return Recipe(model=ModelRef(fingerprint=fingerprint, name=name), seed=seed, **kwargs)


def make_image(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 40, 90)) -> Image.Image:
    """A plain RGB image."""
    return Image.new("RGB", size, colour)
