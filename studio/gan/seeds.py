"""Seed syntax ("1-4,7"), z vectors from seeds and class labels: numpy only, no torch.

The GUI thread uses these without importing torch. The conventions follow NVIDIA's reference
``generate.py``, so a seed gives the same z (and image) in the studio as in the reference code.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

__all__ = ["MAX_SEED", "MAX_LIST_LENGTH", "parse_seeds", "parse_indices", "z_from_seed", "zs_from_seeds", "one_hot"]

#: Largest seed accepted (``numpy.random.RandomState`` takes 0 .. 2**32 - 1).
MAX_SEED = 2**32 - 1

#: Most numbers a single seed / index list may expand to.
MAX_LIST_LENGTH = 1_000_000

_SINGLE = re.compile(r"^\d+$")
_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_NEGATIVE = re.compile(r"^-\s*\d+")

# ---------------------------------------------------------------------------------------------
# Number-list syntax ("1-4,7")
# ---------------------------------------------------------------------------------------------


def _parse_item(item: str, what: str, whats: str) -> tuple[int, int]:
    """Parse one comma-separated item ("7" or "1-4") into an inclusive (start, stop) pair."""
    if _SINGLE.match(item):
        value = int(item)
        return value, value
    match = _RANGE.match(item)
    if match:
        start, stop = int(match.group(1)), int(match.group(2))
        if stop < start:
            raise ValueError(
                f"{what} range '{item}' goes backwards; write the smaller number first "
                f"(e.g. '{stop}-{start}')"
            )
        return start, stop
    if _NEGATIVE.match(item):
        raise ValueError(f"{whats} cannot be negative: '{item}'")
    raise ValueError(
        f"'{item}' is not a {what} or a range of {whats}; use whole numbers like '5' or '1-4'"
    )


def _parse_number_list(
    text: str, what: str, whats: str, low: int, high: int, valid: str
) -> list[int]:
    """Expand range syntax into a list of ints in ``[low, high]`` (inclusive).

    Items are separated by commas; empty items (e.g. a trailing comma) are skipped. Order is
    kept and only the first occurrence of a repeated number is kept. ``valid`` describes the
    allowed range for error messages; ``what`` / ``whats`` name one / several numbers.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text such as '1-4,7' for the {whats}, got {type(text).__name__}")
    items = [item.strip() for item in text.split(",")]
    items = [item for item in items if item]
    if not items:
        raise ValueError(f"no {whats} given; write e.g. '1-4,7'")

    ranges = [_parse_item(item, what, whats) for item in items]
    total = 0
    for item, (start, stop) in zip(items, ranges):
        if start < low or stop > high:
            bad = start if start < low else stop
            raise ValueError(f"{what} {bad} is out of range in '{item}': {valid}")
        total += stop - start + 1
        if total > MAX_LIST_LENGTH:
            raise ValueError(
                f"too many {whats} in '{text.strip()}': at most {MAX_LIST_LENGTH:,} at a time"
            )

    seen: dict[int, None] = {}  # insertion-ordered set
    for start, stop in ranges:
        for value in range(start, stop + 1):
            seen.setdefault(value, None)
    return list(seen)


def parse_seeds(text: str) -> list[int]:
    """Parse seed syntax such as ``"1-4,7"``, ``"0-999"`` or ``"5"`` into a list of seeds.

    Ranges are inclusive, spaces are allowed anywhere between numbers, the order of the text is
    kept, and a seed that appears more than once is kept at its first occurrence only
    (``"3,1-4"`` gives ``[3, 1, 2, 4]``). Seeds lie in ``0 .. 2**32 - 1``.

    Raises:
        ValueError: with a one-line message for empty text, non-numbers, negative seeds,
            backwards ranges ("4-1"), seeds above ``2**32 - 1`` or more than 1,000,000 seeds.
    """
    return _parse_number_list(text, "seed", "seeds", 0, MAX_SEED, f"seeds go from 0 to {MAX_SEED}")


def parse_indices(text: str, upper: int | None = None) -> list[int]:
    """Parse layer-index syntax such as ``"0-6"`` or ``"0,2,4-5"`` into a list of indices.

    Same syntax and rules as :func:`parse_seeds`. When ``upper`` is given, every index must be
    below it (e.g. the generator's ``num_ws``); the error message names the valid range.

    Raises:
        ValueError: for bad syntax or an index outside ``0 .. upper - 1``.
    """
    if upper is None:
        valid = f"indices go from 0 to {MAX_SEED}"
        return _parse_number_list(text, "index", "indices", 0, MAX_SEED, valid)
    if upper <= 0:
        raise ValueError(f"no valid indices: the upper bound is {upper}")
    valid = "the only valid index is 0" if upper == 1 else f"valid indices are 0-{upper - 1}"
    return _parse_number_list(text, "index", "indices", 0, upper - 1, valid)


# ---------------------------------------------------------------------------------------------
# Latent vectors and class labels
# ---------------------------------------------------------------------------------------------


def _check_seed(seed: int) -> int:
    """Return ``seed`` as an int, or raise ValueError when it is not a valid seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"a seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed {seed} is out of range: seeds go from 0 to {MAX_SEED}")
    return int(seed)


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The z vector for ``seed``: ``RandomState(seed).randn(z_dim)`` as float32, shape ``(z_dim,)``.

    This is bit-for-bit the convention of the reference StyleGAN ``generate.py``
    (``np.random.RandomState(seed).randn(1, G.z_dim)``, which the network casts to float32).
    """
    if z_dim < 0:
        raise ValueError(f"z_dim must not be negative, got {z_dim}")
    return np.random.RandomState(_check_seed(seed)).randn(z_dim).astype(np.float32)


def zs_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
    """Stack :func:`z_from_seed` for each seed into a float32 array of shape ``(N, z_dim)``."""
    if len(seeds) == 0:
        return np.zeros((0, z_dim), dtype=np.float32)
    return np.stack([z_from_seed(seed, z_dim) for seed in seeds])


def one_hot(class_index: int | None, c_dim: int) -> np.ndarray:
    """The conditioning label vector: float32 of shape ``(c_dim,)`` with a 1 at ``class_index``.

    For an unconditional network (``c_dim == 0``) the result is an empty array and
    ``class_index`` is ignored, as in the reference ``generate.py``.

    Raises:
        ValueError: when ``c_dim > 0`` and no class is given, or the class is out of range.
    """
    if c_dim < 0:
        raise ValueError(f"c_dim must not be negative, got {c_dim}")
    label = np.zeros(c_dim, dtype=np.float32)
    if c_dim == 0:
        return label
    if class_index is None:
        raise ValueError(f"this model is conditional: choose a class from 0 to {c_dim - 1}")
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
        raise ValueError(f"a class must be a whole number, got {class_index!r}")
    if not 0 <= class_index < c_dim:
        raise ValueError(f"class {class_index} is out of range: classes go from 0 to {c_dim - 1}")
    label[class_index] = 1.0
    return label
