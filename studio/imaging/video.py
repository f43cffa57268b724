"""Animations out: MP4 (ffmpeg from imageio-ffmpeg), GIF (the studio's own encoder) or PNG frames.

Every writer consumes any iterator of uint8 frames, so a long video never has to be held in
memory, and writes atomically: a finished file appears complete or not at all.
:func:`write_video` picks the writer from the path (:func:`video_kind`).
"""

from __future__ import annotations

import contextlib
import os
from io import BytesIO
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from studio.core.atomic import atomic_path

#: What :func:`write_video` can write, by :func:`video_kind`.


#: What :func:`write_video` can write, by :func:`video_kind`.
VIDEO_KINDS = ("mp4", "gif", "frames")


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, ...] | None) -> np.ndarray:
    """Return ``frame`` as a contiguous uint8 ``[H, W, C]`` array; its shape must match ``size``."""
    array = np.asarray(frame)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise ValueError(
            f"frame {index} is not a uint8 image [H, W, 1|3|4] (got {array.dtype} {list(array.shape)})"
        )
    if size is not None and array.shape != size:
        raise ValueError(f"frame {index} is {list(array.shape)}, but the first frame is {list(size)}")
    return np.ascontiguousarray(array)


def _checked_frames(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield validated frames that all have the shape of the first one."""
    size = None
    for index, frame in enumerate(frames):
        frame = _check_frame(frame, index, size)
        size = frame.shape
        yield frame


def _rgb(frame: np.ndarray) -> np.ndarray:
    """An ``[H, W, 3]`` view for video formats: grey is repeated, alpha is dropped."""
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    return frame[:, :, :3]


def _check_fps(fps: float) -> float:
    """Return ``fps`` as a positive finite float."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not np.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f"frames per second must be a positive number, got {fps!r}")
    return float(fps)


def _no_frames() -> ValueError:
    return ValueError("there are no frames to write")


def write_frames(frames: Iterable[np.ndarray], folder: str | os.PathLike[str], prefix: str = "frame") -> int:
    """Write each frame as ``PREFIX0000.png``, ``PREFIX0001.png``, ... in ``folder``; return the count.

    The folder is created if needed. Every PNG is written atomically, and when writing fails or
    is interrupted (for example :class:`RenderCancelled`) the frames this call already wrote are
    removed again, so no partial sequence is left (a file that existed before under one of the
    names has, however, already been replaced). Frames keep their channels (grey, RGB or RGBA).
    Older files in the folder are not touched.
    """
    from PIL import Image

    if not prefix or any(sep in prefix for sep in ("/", "\\", os.sep)):
        raise ValueError(f"the frame name prefix must be a plain name, got {prefix!r}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for index, frame in enumerate(_checked_frames(frames)):
            path = out / f"{prefix}{index:04d}.png"
            image = Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame)
            with atomic_path(path) as temp:
                image.save(temp, format="PNG")
            written.append(path)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    if not written:
        raise _no_frames()
    return len(written)


# Pillow's animated-GIF writer keeps every frame in memory until the end. To stream, each frame
# is encoded by Pillow as a one-frame GIF with its own (local) colour table, and the image blocks
# are spliced into one file behind a single header, a looping extension and per-frame delays.
def _gif_image_block(data: bytes) -> tuple[bytes, bytes]:
    """Split a one-frame GIF into (its header with global colour table, its image block).

    The image block runs from the image descriptor (``,``) to just before the trailer (``;``).
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or data[-1:] != b";":
        raise ValueError("Pillow produced an unexpected GIF")   # pragma: no cover - defensive
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    header = data[:pos]
    while data[pos] == 0x21:   # extension blocks: introducer, label, sub-blocks, terminator
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise ValueError("Pillow produced an unexpected GIF")   # pragma: no cover - defensive
    return header, data[pos:-1]


def _gif_delays(fps: float) -> Iterator[int]:
    """Per-frame delays in hundredths of a second whose running sum tracks ``fps`` exactly.

    GIF times are whole hundredths; 24 fps alternates 4 and 5. Viewers slow delays below 2
    down, so faster rates are capped at 50 fps.
    """
    index = 0
    while True:
        delay = round((index + 1) * 100 / fps) - round(index * 100 / fps)
        yield max(2, delay)
        index += 1


def write_gif(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 24, loop: bool = True) -> int:
    """Write an animated GIF atomically, one frame at a time; return the number of frames.

    Each frame gets its own 256-colour palette (median cut with Floyd-Steinberg dithering), which
    keeps the colours of a morphing image much better than one shared palette. ``loop=True``
    plays forever; ``loop=False`` plays once. Alpha is dropped (GIF has no partial
    transparency). Frame delays are whole hundredths of a second, alternating so that the average
    rate is ``fps`` (at most 50).
    """
    from PIL import Image

    fps = _check_fps(fps)
    frames = iter(_checked_frames(frames))
    first = next(frames, None)
    if first is None:
        raise _no_frames()
    count = 0
    with atomic_path(path) as temp, open(temp, "wb") as stream:
        delays = _gif_delays(fps)
        for frame in _chain(first, frames):
            image = Image.fromarray(_rgb(frame)).quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
            buffer = BytesIO()
            image.save(buffer, format="GIF", include_color_table=True)
            header, block = _gif_image_block(buffer.getvalue())
            if count == 0:
                stream.write(b"GIF89a" + header[6:])
                if loop:   # NETSCAPE2.0 application extension: repeat forever
                    stream.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
            delay = next(delays)
            # graphic control extension: no disposal, no transparency, the delay
            stream.write(b"!\xf9\x04\x00" + delay.to_bytes(2, "little") + b"\x00\x00")
            stream.write(block)
            count += 1
        stream.write(b";")
    return count


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """``first`` followed by ``rest``."""
    yield first
    yield from rest


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd width or height by one repeated edge pixel (H.264 in yuv420p needs even sizes)."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not pad_h and not pad_w:
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 30, quality: float = 8) -> int:
    """Write an H.264 MP4 (yuv420p, plays everywhere) atomically, streaming; return the frame count.

    Uses the ffmpeg binary shipped with ``imageio-ffmpeg``. ``quality`` runs from 1 (smallest)
    to 10 (best); 8 is visually lossless for most images. A frame with an odd width or height is
    padded by one repeated edge pixel on the right / bottom, since the format needs even sizes.
    Alpha is dropped. If the frames raise (e.g. :class:`RenderCancelled`) or encoding fails, no
    file is left behind.
    """
    import imageio_ffmpeg

    fps = _check_fps(fps)
    if isinstance(quality, bool) or not isinstance(quality, (int, float)) or not 1 <= quality <= 10:
        raise ValueError(f"the video quality must be a number from 1 to 10, got {quality!r}")
    frames = iter(_checked_frames(frames))
    first = next(frames, None)
    if first is None:
        raise _no_frames()
    height, width = _even(first).shape[:2]
    count = 0
    with atomic_path(path) as temp:
        writer = imageio_ffmpeg.write_frames(
            str(temp), (width, height), fps=fps, quality=float(quality), macro_block_size=1,
            ffmpeg_log_level="error", output_params=["-f", "mp4", "-movflags", "+faststart"])
        try:
            writer.send(None)
            for frame in _chain(first, frames):
                writer.send(np.ascontiguousarray(_even(_rgb(frame))))
                count += 1
        finally:
            writer.close()
        if os.path.getsize(temp) == 0:
            raise OSError(f"ffmpeg could not encode {path}")
    return count


def video_kind(path: str | os.PathLike[str]) -> str:
    """What :func:`write_video` writes at ``path``: ``"mp4"``, ``"gif"`` or ``"frames"`` (a folder).

    A path ending in ``.mp4`` or ``.gif`` (any case) is a file; an existing folder or a path
    without a suffix is a folder of PNG frames. Any other suffix is refused (ValueError).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".mp4", ".gif") and not target.is_dir():
        return suffix[1:]
    if target.is_dir() or not suffix:
        return "frames"
    raise ValueError(
        f"cannot tell how to write {target.name!r}: use a name ending in .mp4 or .gif, or a folder for PNG frames"
    )


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    fps: float = 30,
    *,
    loop: bool = True,
    quality: float = 8,
    prefix: str = "frame",
) -> int:
    """Write ``frames`` as an MP4, a GIF or a folder of PNGs, by :func:`video_kind`; return the count.

    ``loop`` applies to GIFs, ``quality`` to MP4s and ``prefix`` to PNG folders; ``fps`` to both
    files. The folder holding a file must exist.
    """
    kind = video_kind(path)
    if kind == "mp4":
        return write_mp4(frames, path, fps=fps, quality=quality)
    if kind == "gif":
        return write_gif(frames, path, fps=fps, loop=loop)
    return write_frames(frames, path, prefix=prefix)
