"""Byte-level damage to real files: what a bad disk, a cut download or a curious stranger does."""

from __future__ import annotations

import random

#: The edits: change one byte, cut the file, insert bytes, repeat a slice, zero a slice.
OPS = ("flip", "truncate", "insert", "repeat", "zero")


def apply(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """``data`` after each ``(op, where, value)`` edit; ``where`` is taken modulo the length and
    ``value`` (0-255) is the new byte or a length."""
    out = bytearray(data)
    for op, where, value in edits:
        if not out:
            break
        at = where % len(out)
        if op == "flip":
            out[at] = value & 0xFF if out[at] != value & 0xFF else out[at] ^ 0xFF
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = bytes([value & 0xFF]) * (1 + value % 16)
        elif op == "repeat":
            out[at:at] = out[at:at + 1 + value * 64]
        elif op == "zero":
            end = min(len(out), at + 1 + value * 16)
            out[at:end] = bytes(end - at)
    return bytes(out)


def random_edits(rng: random.Random, count: int | None = None) -> list[tuple[str, int, int]]:
    """A few random edits, as :func:`apply` takes them (for scripts without hypothesis)."""
    return [(rng.choice(OPS), rng.randrange(2**32), rng.randrange(256)) for _ in range(count or rng.randint(1, 4))]
