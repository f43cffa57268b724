"""Build a source folder of good and deliberately broken pictures for the data tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# relative path -> the reason prepare must give (min_size 16, max_pixels 20,000 in the tests)
BAD_FILES = {
    "broken/truncated.jpg": "truncated",
    "broken/empty.png": "empty file",
    "broken/notes.png": "not an image",
    "broken/readme.txt": "not an image",
    "broken/tiny.png": "too small (10x12 px; need 16)",
    "broken/bomb.png": "decompression bomb",
}


def _noise(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR))


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge image, with a tiny (incomplete) body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def make_source(root: Path) -> dict[str, tuple[int, int]]:
    """Write good pictures in two genre folders plus the broken ones; return good name -> size."""
    good: dict[str, tuple[int, int]] = {}

    def save(rel: str, img: Image.Image, **kw) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, **kw)
        good[rel] = img.size

    save("landscape/rgb_wide.png", Image.fromarray(_noise(96, 64, 1)))
    save("landscape/rgb_tall.jpg", Image.fromarray(_noise(48, 80, 2)), quality=90)
    save("landscape/cmyk.jpg", Image.fromarray(_noise(72, 56, 3)).convert("CMYK"), quality=90)
    save("landscape/grey.png", Image.fromarray(_noise(64, 64, 4)).convert("L"))
    save("portrait/palette.png", Image.fromarray(_noise(60, 90, 5)).convert("P", palette=Image.Palette.ADAPTIVE))
    sixteen = (np.linspace(0, 65535, 64 * 50).reshape(50, 64)).astype(np.uint16)
    save("portrait/sixteen.png", Image.fromarray(sixteen))
    rgba = np.dstack([_noise(80, 60, 6), np.full((60, 80), 128, np.uint8)])
    save("portrait/alpha.png", Image.fromarray(rgba, "RGBA"))
    # a landscape-shaped JPEG stored 80 wide x 48 high with EXIF orientation 6 (rotate 90° CW):
    # it must come out 48 wide x 80 high, red band at the top
    stored = np.zeros((48, 80, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)   # left band in storage = top after rotating clockwise
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    img = Image.fromarray(stored)
    path = root / "portrait/rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    good["portrait/rotated.jpg"] = (48, 80)

    broken = root / "broken"
    broken.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(_noise(64, 64, 7)).save(buf, format="JPEG", quality=90)
    (broken / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (broken / "empty.png").write_bytes(b"")
    (broken / "notes.png").write_text("these are notes, not a picture\n")
    (broken / "readme.txt").write_text("hello\n")
    Image.fromarray(_noise(10, 12, 8)).save(broken / "tiny.png")
    (broken / "bomb.png").write_bytes(_bomb_png(30000, 30000))
    return good


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to prove a folder was not modified)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
